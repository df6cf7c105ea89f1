/**
 * Multi-label classification: L independent binary labels per example, one logit each,
 * mean sigmoid cross-entropy over labels and examples.
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, MtlError } from "../errors";
import { multiLabelScores } from "./metrics";
import { checkDistinctNames, checkTaskName, sigmoidCrossEntropy, Task, TargetArray } from "./task";
import { withTaskSpec } from "./spec";

/** Options of {@link multiLabel}. */
export interface MultiLabelOptions {
  /** Number of labels, or their names. */
  labels: number | string[];
  /** DataFrame columns holding the 0/1 labels, one per label (default: the label names). */
  columns?: string[];
}

/**
 * Multi-label classification: L independent binary labels, mean sigmoid cross-entropy; accuracy, exact match,
 * micro and macro scores.
 */
export function multiLabel(name: string, options: MultiLabelOptions): Task {
  const where = `multiLabel('${name}')`;
  checkTaskName("multiLabel", name);
  checkKnownOptions(where, options, ["labels", "columns"]);
  check(options !== undefined, where, () => "option 'labels' is required (a count ≥ 1 or a list of label names).");
  const names = Array.isArray(options.labels) ? options.labels.map(String) : undefined;
  const width = Array.isArray(options.labels) ? options.labels.length : options.labels;
  check(
    Number.isInteger(width) && width >= 1,
    where,
    () => `option 'labels' must give at least 1 label, got ${JSON.stringify(options.labels)}.`,
  );
  checkDistinctNames(where, "labels", "label", names);
  const columns = options.columns ?? names ?? Array.from({ length: width }, (_, i) => `${name}.${i}`);
  check(columns.length === width, where, () => `option 'columns' has ${columns.length} names for ${width} labels.`);
  return withTaskSpec("multiLabel", name, options, {
    name,
    kind: "multiLabel",
    columns,
    outputUnits: width,
    targetWidth: width,
    labels: names,
    metricSpecs: [
      { name: "accuracy", higherIsBetter: true },
      { name: "exactMatch", higherIsBetter: true },
      { name: "precisionMicro", higherIsBetter: true },
      { name: "recallMicro", higherIsBetter: true },
      { name: "f1Micro", higherIsBetter: true },
      { name: "f1Macro", higherIsBetter: true },
    ],
    fusedLoss: "sigmoidCrossEntropy",
    primaryMetric: "f1Micro",
    validateTargets(target: TargetArray) {
      const v = target.values;
      for (let i = 0; i < v.length; i++) {
        if (v[i] !== 0 && v[i] !== 1) {
          throw new MtlError(where, `label ${v[i]} at row ${Math.floor(i / width)}, column '${columns[i % width]}' must be 0 or 1.`);
        }
      }
    },
    targetTensor(target: TargetArray, rows: number) {
      return tf.tensor2d(Float32Array.from(target.values), [rows, width]);
    },
    loss(output: tf.Tensor2D, target: tf.Tensor) {
      return sigmoidCrossEntropy(output, target);
    },
    decode(output: Float32Array) {
      return Float32Array.from(output, (z) => (z >= 0 ? 1 : 0));
    },
    metrics(predicted, target) {
      return multiLabelScores(predicted, target, width);
    },
  });
}
