/**
 * Evaluation and analysis: every task by its own metrics, multi-task models against single-task
 * baselines (Δm%, negative transfer over seeds), task relatedness (gradient cosines, TAG affinity),
 * transfer learning against joint training, and cost.
 *
 * ```ts
 * const E = mtl.evaluation;
 * const multi = await E.trainSeeds(opts);
 * const single = await E.trainSingleTaskBaselines(opts);
 * E.deltaMOverSeeds(E.tablesOf(multi), single.tables, { tasks }).summary;
 * ```
 * @module
 */
export {
  evaluate,
  evaluateAsync,
  evaluatePredictions,
  Evaluation,
  EvaluationRow,
  EvaluateOptions,
  MetricTable,
  TaskReport,
} from "./evaluate";
export {
  deltaM,
  deltaMOverSeeds,
  meanTable,
  metricTable,
  DeltaM,
  DeltaMOptions,
  DeltaMOverSeeds,
  Directions,
  MetricSource,
} from "./deltaM";
export {
  negativeTransfer,
  compare as compareRuns,
  NegativeTransferOptions,
  NegativeTransferReport,
  TransferRow,
  Verdict,
} from "./negativeTransfer";
export {
  sharedGradients,
  sharedGradientsAsync,
  cosineMatrix,
  lookaheadAffinity,
  lookaheadAffinityAsync,
  relatednessMonitor,
  RelatednessMonitor,
  RelatednessMonitorOptions,
  RelatednessSnapshot,
  PairConflict,
  suggestGroups,
  Grouping,
} from "./relatedness";
export { summarize, mean, std, Summary, Interval } from "./stats";
export {
  trainSeeds,
  trainSingleTaskBaselines,
  tablesOf,
  ModelFactory,
  TrainerSettings,
  SeedsOptions,
  SeedRun,
  Baselines,
} from "./baselines";
export { compareTransfer, freezeShared, copyShared, TransferOptions, TransferResult, TransferStrategy } from "./transfer";
export { complexity, compareComplexity, Complexity, ComplexityOptions, ComplexityRow } from "./complexity";
