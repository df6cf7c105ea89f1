/**
 * mtlkit: multi-task learning for TypeScript on TensorFlow.js.
 *
 * ```ts
 * import * as mtl from "mtlkit";
 * await mtl.useBestBackend();
 * const tasks = [mtl.tasks.classification("species", { classes: 3 }), mtl.tasks.regression("mass")];
 * const model = mtl.hardSharing({ inputSize: 4, trunk: [64], tasks });
 * const trainer = new mtl.Trainer({ model, tasks, epochs: 20 });
 * await trainer.fit(train, { validation });
 * ```
 *
 * The top level holds what a notebook's first cells need: the backend, the data builders, the model
 * builders, the trainer and its history, the errors. Catalogues of methods live in namespaces
 * (`mtl.tasks`, `mtl.weighting`, `mtl.aggregators`, `mtl.regularizers`, `mtl.optimizers`, `mtl.layers`,
 * `mtl.data`, `mtl.evaluation`, `mtl.viz`, `mtl.backends`, `mtl.report`, `mtl.deploy`, `mtl.sweep`). Every name has one path; api/mtlkit.api.md
 * lists them all (`npm run api:update` regenerates it). `mtl.tf` is TensorFlow.js itself, the instance
 * mtlkit computes with (its API: https://js.tensorflow.org/api/latest/).
 * @module mtlkit
 */
// Side effect: repairs tfjs's engine after the kernel interrupts a cell's synchronous code.
import "./util/engineRecovery";

/** TensorFlow.js, the instance mtlkit computes with (`mtl.tf.tensor2d(...)`, `mtl.tf.memory()`). */
export * as tf from "@tensorflow/tfjs";

// Backend: the first cell.
export { useBestBackend } from "./backend";

// Errors: every error mtlkit throws on purpose is an MtlError.
export {
  MtlError,
  NonFiniteLossError,
  NonFiniteGradientError,
  TrainingInterrupted,
  DamagedCheckpointError,
  SweepInterrupted,
  RecordedSweep,
} from "./errors";
export { Rng, RngState } from "./random";

// Data: one dataset for all tasks.
export {
  fromArrays,
  FromArraysOptions,
  MultiTaskData,
  split,
  subset,
  SplitOptions,
  Splits,
  fitStandardizer,
  Standardizer,
} from "./data/dataset";
export {
  fromDataFrame,
  FromDataFrameOptions,
  TableDataset,
  DataFrameLike,
  Table,
  FeaturePolicy,
  LabelPolicy,
  MissingOptions,
} from "./data/dataframe";

// Tasks and models: the contracts every method relies on, and the architectures that build models.
export type { Task } from "./tasks/task";
export { MultiTaskModel, BaseModel } from "./architectures/types";
export { TiedGroup, TiedModel, CenterKind } from "./architectures/tied";
export { hardSharing, HardSharingModel, HardSharingOptions } from "./architectures/hardSharing";
export { softSharing, SoftSharingModel, SoftSharingOptions } from "./architectures/softSharing";
export { crossStitch, CrossStitchModel, CrossStitchOptions } from "./architectures/crossStitch";
export { mmoe, MmoeModel, MmoeOptions } from "./architectures/mmoe";
export { ple, cgc, PleModel, PleOptions, PleLevel } from "./architectures/ple";
export { Gate } from "./architectures/parts";
export { NamedInputsModel, NamedInputsOptions, WithNamedInputs, EncoderSpec, DecodeReads } from "./architectures/namedInputs";

// Training.
export { Trainer, TrainerOptions, FitOptions, TaskEvaluation, TrainerState, AutoCheckpointOptions } from "./train/trainer";
export { PerTaskData, TrainingData } from "./train/batches";
export { History, StepRecord, EpochRecord, RunInfo } from "./train/history";
export { Callbacks } from "./train/callbacks";
export { Stateful } from "./train/stateful";
export { CheckpointManifest, ModelSignature, TensorEntry, listCheckpoints } from "./train/checkpoint";
export { HistoryRef } from "./train/checkpointHistory";

// Namespaces: one line each.
export * as tasks from "./tasks";
export * as layers from "./layers";
export * as weighting from "./weighting";
export * as aggregators from "./aggregators";
export * as regularizers from "./regularizers";
export * as optimizers from "./train/optimizers";
export * as data from "./data";
export * as evaluation from "./eval";
export * as viz from "./viz";
export * as backends from "./backends";
export * as report from "./report";
export * as deploy from "./deploy";
export * as sweep from "./sweep";

// Using a trained model elsewhere: the one loader a notebook needs at the top level.
export { loadModel } from "./deploy/load";
