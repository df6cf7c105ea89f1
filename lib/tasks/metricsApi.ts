/**
 * Metrics computed from predictions and targets, the same functions the tasks' metrics use:
 * `mtl.tasks.metrics.confusionMatrix(predicted, target, classes)`. A 0/0 ratio is 0, never NaN.
 * @module
 */
export {
  ClassScores,
  confusionMatrix,
  perClassScores,
  classificationScores,
  binaryScores,
  multiLabelScores,
  regressionScores,
} from "./metrics";
