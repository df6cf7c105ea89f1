/**
 * Gradient aggregators: per-task gradients (the Jacobian, one row per task) → one update.
 *
 * ```ts
 * const trainer = new mtl.Trainer({ model, tasks, aggregator: mtl.aggregators.upgrad(), level: "param" });
 * ```
 * Methods defined by weights on the Gramian (MGDA, UPGrad, IMTL-G, Nash-MTL, CAGrad…) are
 * {@link GramianAggregator}s: their `weights(G)` gives the weights exactly, in float64.
 * A method of your own implements {@link Aggregator}.
 * @module
 */
export { Aggregator, GramianAggregator, AggregationContext, AggregatorState, Level } from "./types";
export { StatefulAggregator } from "./moco";
export { Matrix } from "./linalg/matrix";
export { mean, sum } from "./mean";
export { pcgrad, PCGradOptions } from "./pcgrad";
export { mgda, mgdaUB, MgdaOptions, MgdaNormalization } from "./mgda";
export { cagrad, CagradOptions, CagradRescale } from "./cagrad";
export { imtlg } from "./imtlg";
export { gradvac, GradVacOptions } from "./gradvac";
export { graddrop, GradDropOptions } from "./graddrop";
export { nashMtl, NashMtlOptions } from "./nashMtl";
export { alignedMtl, AlignedMtlOptions, AlignedScale } from "./alignedMtl";
export { upgrad, dualproj } from "./upgrad";
export { config } from "./config";
export { moco, MocoOptions } from "./moco";
export { fairgrad, FairGradOptions } from "./fairgrad";
export { dbmtl, DbMtlOptions } from "./dbmtl";
