/**
 * Multi-class classification: softmax over the head's logits, cross-entropy loss
 * L = −(1/n) Σ_r log softmax(z_r)[y_r], optionally with per-class weights (normalised as
 * PyTorch's CrossEntropyLoss does: Σ_r w_{y_r} ℓ_r / Σ_r w_{y_r}).
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, MtlError } from "../errors";
import { classificationScores, confusionMatrix } from "./metrics";
import { argmaxRows, checkDistinctNames, checkTaskName, Task, TargetArray } from "./task";
import { withTaskSpec } from "./spec";

/** Options of {@link classification}: the classes (a count or their names), the target column, class weights. */
export interface ClassificationOptions {
  /** Number of classes, or their names (index i is class i). */
  classes: number | string[];
  /** DataFrame column holding the label; defaults to the task name. */
  column?: string;
  /** Loss weight of each class, e.g. for imbalanced labels. */
  classWeights?: number[];
}

/**
 * Multi-class classification: softmax cross-entropy (optionally class-weighted as PyTorch's); accuracy, macro
 * precision, recall and F1, micro F1.
 */
export function classification(name: string, options: ClassificationOptions): Task {
  const where = `classification('${name}')`;
  checkTaskName("classification", name);
  checkKnownOptions(where, options, ["classes", "column", "classWeights"]);
  check(options !== undefined, where, () => "option 'classes' is required (a count ≥ 2 or a list of class names).");
  const { classes } = options;
  const labels = Array.isArray(classes) ? classes.map(String) : undefined;
  const k = Array.isArray(classes) ? classes.length : classes;
  check(Number.isInteger(k) && k >= 2, where, () => `option 'classes' must give at least 2 classes, got ${JSON.stringify(classes)}.`);
  checkDistinctNames(where, "classes", "class", labels);
  const weights = options.classWeights;
  if (weights !== undefined) {
    check(
      Array.isArray(weights) && weights.length === k && weights.every((w) => Number.isFinite(w) && w >= 0),
      where,
      () => `option 'classWeights' must be ${k} non-negative finite numbers, got ${JSON.stringify(weights)}.`,
    );
  }
  const column = options.column ?? name;

  return withTaskSpec("classification", name, options, {
    name,
    kind: "classification",
    columns: [column],
    outputUnits: k,
    targetWidth: 1,
    labels,
    metricSpecs: [
      { name: "accuracy", higherIsBetter: true },
      { name: "precisionMacro", higherIsBetter: true },
      { name: "recallMacro", higherIsBetter: true },
      { name: "f1Macro", higherIsBetter: true },
      { name: "f1Micro", higherIsBetter: true },
    ],
    fusedLoss: weights ? undefined : "softmaxCrossEntropy",
    primaryMetric: "accuracy",
    validateTargets(target: TargetArray) {
      const v = target.values;
      for (let i = 0; i < v.length; i++) {
        if (!(Number.isInteger(v[i]) && v[i] >= 0 && v[i] < k)) {
          throw new MtlError(where, `label ${v[i]} at row ${i} of column '${column}' is outside the class range [0, ${k - 1}].`);
        }
      }
    },
    targetTensor(target: TargetArray) {
      return tf.tensor1d(target.values instanceof Int32Array ? target.values : Int32Array.from(target.values), "int32");
    },
    loss(output: tf.Tensor2D, target: tf.Tensor) {
      return tf.tidy(() => {
        const oneHot = tf.oneHot(target as tf.Tensor1D, k);
        const perExample = tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(output)), 1));
        if (!weights) return tf.mean(perExample) as tf.Scalar;
        const w = tf.gather(tf.tensor1d(weights), target as tf.Tensor1D);
        return tf.div(tf.sum(tf.mul(perExample, w)), tf.sum(w)) as tf.Scalar;
      });
    },
    decode(output: Float32Array, rows: number) {
      return argmaxRows(output, rows, k);
    },
    metrics(predicted, target) {
      return classificationScores(confusionMatrix(predicted, target, k));
    },
  });
}
