/** Evaluation and analysis: `mtl.evaluation.*` (evaluate and deltaM are also top-level). */
export { evaluate, evaluateAsync, evaluatePredictions, Evaluation, EvaluationRow, EvaluateOptions, MetricTable, TaskReport } from "./evaluate";
export { deltaM, deltaMOverSeeds, meanTable, metricTable, DeltaM, DeltaMOptions, DeltaMOverSeeds, Directions, MetricSource } from "./deltaM";
export { negativeTransfer, compare as compareRuns, NegativeTransferOptions, NegativeTransferReport, TransferRow, Verdict } from "./negativeTransfer";
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
export { summarize, Summary, Interval, mean, std, studentTQuantile, studentTCdf } from "./stats";
export { trainSeeds, trainSingleTaskBaselines, tablesOf, ModelFactory, TrainerSettings, SeedsOptions, SeedRun, Baselines } from "./baselines";
export { compareTransfer, freezeShared, copyShared, TransferOptions, TransferResult, TransferStrategy } from "./transfer";
export { complexity, compareComplexity, Complexity, ComplexityOptions, ComplexityRow } from "./complexity";
