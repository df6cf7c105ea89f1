export * from "./task";
export { classification, ClassificationOptions } from "./classification";
export { binary, BinaryOptions } from "./binary";
export { multiLabel, MultiLabelOptions } from "./multiLabel";
export { regression, RegressionOptions, RegressionLoss } from "./regression";
export * as metrics from "./metrics";
export { boundingBox, BoundingBoxOptions, iou } from "./boundingBox";
export { sequenceTagging, SequenceTaggingOptions } from "./sequenceTagging";
export * from "./spec";
