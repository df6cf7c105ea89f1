/**
 * Binary classification: one logit z per example, sigmoid cross-entropy
 * L = (1/n) Σ_r [max(z_r, 0) − z_r y_r + log(1 + e^{−|z_r|})], metrics for the positive class.
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, MtlError } from "../errors";
import { binaryScores } from "./metrics";
import { checkDistinctNames, checkTaskName, sigmoidCrossEntropy, Task, TargetArray } from "./task";
import { withTaskSpec } from "./spec";

/** Options of {@link binary}. */
export interface BinaryOptions {
  column?: string;
  /** Names of the negative and positive class, for display. */
  labels?: [string, string];
}

/**
 * Binary classification: one logit per example, sigmoid cross-entropy; accuracy, precision, recall and F1 of the
 * positive class.
 */
export function binary(name: string, options: BinaryOptions = {}): Task {
  const where = `binary('${name}')`;
  checkTaskName("binary", name);
  checkKnownOptions(where, options, ["column", "labels"]);
  if (options.labels !== undefined) {
    check(
      Array.isArray(options.labels) && options.labels.length === 2,
      where,
      () => "option 'labels' must be two names [negative, positive].",
    );
    checkDistinctNames(where, "labels", "label", options.labels.map(String));
  }
  const column = options.column ?? name;
  return withTaskSpec("binary", name, options, {
    name,
    kind: "binary",
    columns: [column],
    outputUnits: 1,
    targetWidth: 1,
    labels: options.labels,
    metricSpecs: [
      { name: "accuracy", higherIsBetter: true },
      { name: "precision", higherIsBetter: true },
      { name: "recall", higherIsBetter: true },
      { name: "f1", higherIsBetter: true },
    ],
    fusedLoss: "sigmoidCrossEntropy",
    primaryMetric: "accuracy",
    validateTargets(target: TargetArray) {
      const v = target.values;
      for (let i = 0; i < v.length; i++) {
        if (v[i] !== 0 && v[i] !== 1) throw new MtlError(where, `label ${v[i]} at row ${i} of column '${column}' must be 0 or 1.`);
      }
    },
    targetTensor(target: TargetArray, rows: number) {
      return tf.tensor2d(Float32Array.from(target.values), [rows, 1]);
    },
    loss(output: tf.Tensor2D, target: tf.Tensor) {
      return sigmoidCrossEntropy(output, target);
    },
    decode(output: Float32Array) {
      return Float32Array.from(output, (z) => (z >= 0 ? 1 : 0));
    },
    metrics(predicted, target) {
      return binaryScores(predicted, target);
    },
  });
}
