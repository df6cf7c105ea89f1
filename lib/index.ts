/**
 * mtlkit: multi-task learning for TypeScript on TensorFlow.js.
 *
 *   import * as mtl from "mtlkit";
 *   await mtl.useBestBackend();
 *   const tasks = [mtl.tasks.classification("species", { classes: 3 }), mtl.tasks.regression("mass")];
 *   const model = mtl.hardSharing({ inputSize: 4, trunk: [64], tasks });
 *   const trainer = new mtl.Trainer({ model, tasks, epochs: 20 });
 *   await trainer.fit(train, { validation });
 */
export * as tf from "@tensorflow/tfjs";
// Side effect: repairs tfjs's engine after the kernel interrupts a cell's synchronous code.
import "./util/engineRecovery";
export { useBestBackend, backendInfo, rankBackends, BackendInfo, BackendCandidate, BackendName, UseBackendOptions } from "./backend";
export { probeWebGpu, WebGpuProbe, GpuAdapterSummary } from "./backends/webgpu";
export { doctor, formatDoctor, DoctorReport, BackendCheck } from "./doctor";
export { MtlError, NonFiniteLossError, TrainingInterrupted } from "./errors";
export { NonFiniteGradientError } from "./train/steps/update";
export { Rng, RngState } from "./random";
export * as tasks from "./tasks";
export type { Task, TaskKind, MetricSpec, TargetArray } from "./tasks";
export { MultiTaskModel, BaseModel } from "./architectures/types";
export { hardSharing, HardSharingModel, HardSharingOptions } from "./architectures/hardSharing";
export { softSharing, SoftSharingModel, SoftSharingOptions } from "./architectures/softSharing";
export { TiedGroup, TiedModel, CenterKind, isTiedModel } from "./architectures/tied";
export { crossStitch, CrossStitchModel, CrossStitchOptions } from "./architectures/crossStitch";
export { mmoe, MmoeModel, MmoeOptions } from "./architectures/mmoe";
export { ple, cgc, PleModel, PleOptions } from "./architectures/ple";
export { Dense, Initializer } from "./layers/dense";
export { Block, BlockSpec, FunctionBlockSpec, Mlp } from "./layers/block";
export { Activation } from "./layers/activations";
export { Embedding } from "./layers/embedding";
export { Conv2d, Conv2dOptions } from "./layers/conv2d";
export { maxPool2d, avgPool2d, maskedMaxOverTime, maskedMeanOverTime } from "./layers/pooling";
export { cnnEncoder, CnnEncoder, CnnEncoderOptions } from "./layers/cnnEncoder";
export { textEncoder, TextCnnEncoder, TextEncoderOptions } from "./layers/textEncoder";
export { positionwiseHead, PositionwiseDense, PositionwiseOptions } from "./layers/positionwise";
export { registerWasmTrainingKernels } from "./native/wasmKernels";
export { linear } from "./ops/linear";
export { matMulFast } from "./ops/matmul";
export * as native from "./native";
export * as regularizers from "./regularizers";
export * as weighting from "./weighting";
export type { Weighting } from "./weighting";
export * as optimizers from "./train/optimizers";
export { Trainer, TrainerOptions, FitOptions, TaskEvaluation, TrainerState, AutoCheckpointOptions } from "./train/trainer";
export { datasetSizes, PerTaskData, TrainingData } from "./train/batches";
export { CheckpointManifest, listCheckpoints } from "./train/checkpoint";
export { Stateful } from "./train/stateful";
export { History, StepRecord, EpochRecord } from "./train/history";
export { Callbacks } from "./train/callbacks";
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
  validateForTasks,
} from "./data/dataset";
export { fromDataFrame, FromDataFrameOptions, TableDataset, DataFrameLike, Table } from "./data/dataframe";
export * as data from "./data";
export * as viz from "./viz";
export * as report from "./report";
export * as evaluation from "./eval";
export { evaluate, deltaM, Evaluation, MetricTable } from "./eval";
export * as aggregators from "./aggregators";
