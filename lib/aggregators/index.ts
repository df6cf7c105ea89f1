/**
 * Gradient aggregators: per-task gradients (the Jacobian, one row per task) → one update.
 *   const agg = mtl.aggregators.upgrad();
 *   new mtl.Trainer({ model, tasks, aggregator: agg, level: "param" });
 */
export { Aggregator, GramianAggregator, AggregationContext, AggregatorState, Level, gramianOf, combine } from "./types";
export { mean, sum } from "./mean";
export { pcgrad, PCGradOptions, pcgradCoefficients } from "./pcgrad";
export { mgda, mgdaUB, mgdaWeights, MgdaOptions, MgdaNormalization } from "./mgda";
export { cagrad, cagradWeights, CagradOptions, CagradRescale } from "./cagrad";
export { imtlg, imtlgWeights } from "./imtlg";
export { gradvac, GradVacOptions } from "./gradvac";
export { graddrop, GradDropOptions } from "./graddrop";
export { nashMtl, nashMtlWeights, NashMtlOptions } from "./nashMtl";
export { alignedMtl, alignedMtlWeights, AlignedMtlOptions, AlignedScale } from "./alignedMtl";
export { upgrad, dualproj, upgradWeights, dualprojWeights } from "./upgrad";
export { config, configWeights } from "./config";
export { moco, MocoOptions, StatefulAggregator } from "./moco";
export { fairgrad, fairgradWeights, FairGradOptions } from "./fairgrad";
export { dbmtl, DbMtlOptions } from "./dbmtl";
export { minNormPoint } from "./linalg/minNorm";
export { dualConeWeights } from "./linalg/boxQp";
export { monitored, geometryOf, summarizeGeometry, MonitoredAggregator, GradientGeometry, GradientSummary, PairGeometry } from "./monitor";
