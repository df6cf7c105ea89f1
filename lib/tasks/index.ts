/**
 * Task kinds: what to predict, its loss and its metrics (each with the direction that is better).
 *
 * ```ts
 * const tasks = [mtl.tasks.classification("species", { classes: ["Adelie", "Chinstrap", "Gentoo"] }), mtl.tasks.regression("mass")];
 * ```
 * A task of your own implements {@link Task} (the type is top-level: `mtl.Task`).
 * @module
 */
export type { TaskKind, FusedLoss, MetricSpec, TargetArray } from "./task";
export { classification, ClassificationOptions } from "./classification";
export { binary, BinaryOptions } from "./binary";
export { multiLabel, MultiLabelOptions } from "./multiLabel";
export { regression, RegressionOptions, RegressionLoss } from "./regression";
export { boundingBox, BoundingBoxOptions, iou } from "./boundingBox";
export { sequenceTagging, SequenceTaggingOptions } from "./sequenceTagging";
export * as metrics from "./metricsApi";
