import type { EpochRecord, History, StepRecord } from "./history";

/** Hooks into a training run. Return `false` from onStepEnd or onEpochEnd to stop training. */
export interface Callbacks {
  onTrainBegin?(history: History): void;
  onEpochBegin?(epoch: number): void;
  onStepEnd?(record: StepRecord): void | boolean;
  onEpochEnd?(record: EpochRecord, history: History): void | boolean;
  onTrainEnd?(history: History): void;
}
