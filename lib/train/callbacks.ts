import type { EpochRecord, History, StepRecord } from "./history";

/**
 * Hooks into a training run. Return `false` from onStepEnd or onEpochEnd to stop training. A hook
 * may return a promise (a measurement that awaits its reads); the trainer awaits it before going on.
 */
export interface Callbacks {
  onTrainBegin?(history: History): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback may return nothing, or false to stop training.
  onStepEnd?(record: StepRecord): void | boolean | Promise<void | boolean>;
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback may return nothing, or false to stop training.
  onEpochEnd?(record: EpochRecord, history: History): void | boolean | Promise<void | boolean>;
  onTrainEnd?(history: History): void | Promise<void>;
}
