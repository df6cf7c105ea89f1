/**
 * Sequence tagging: one class per token of a padded sequence of length T (part-of-speech tags,
 * next-token prediction). The head outputs T·K logits per example (position-major: token t's K
 * logits at [t·K, (t+1)·K)); targets are T class indices, with `ignoreIndex` (default −1) on
 * padding. The loss is token-level cross-entropy averaged over the real tokens of the batch,
 *   L = −(1/N) Σ_{(r,t) : y_rt ≠ ignore} log softmax(z_rt)[y_rt],   N = #{(r,t) : y_rt ≠ ignore},
 * as PyTorch's CrossEntropyLoss(ignore_index=…) with reduction "mean"; metrics are computed over
 * the real tokens only (token accuracy, macro/micro F1 over tags).
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, MtlError } from "../errors";
import { classificationScores, confusionMatrix } from "./metrics";
import { argmaxRows, checkDistinctNames, checkTaskName, Task, TargetArray } from "./task";
import { withTaskSpec } from "./spec";

/** Options of {@link sequenceTagging}. */
export interface SequenceTaggingOptions {
  /** Number of tags K, or their names. */
  classes: number | string[];
  /** Tokens per example T. */
  length: number;
  /** Target value marking padding (default −1); must lie outside [0, K). */
  ignoreIndex?: number;
}

/**
 * Sequence tagging: one class per token of a padded sequence (part-of-speech tags, next token); token-level
 * cross-entropy over the real tokens.
 */
export function sequenceTagging(name: string, options: SequenceTaggingOptions): Task {
  const where = `sequenceTagging('${name}')`;
  checkTaskName("sequenceTagging", name);
  checkKnownOptions(where, options, ["classes", "length", "ignoreIndex"]);
  check(options !== undefined, where, () => "options 'classes' and 'length' are required.");
  const labels = Array.isArray(options.classes) ? options.classes.map(String) : undefined;
  const k = Array.isArray(options.classes) ? options.classes.length : options.classes;
  check(Number.isInteger(k) && k >= 2, where, () => `option 'classes' must give at least 2 tags, got ${JSON.stringify(options.classes)}.`);
  checkDistinctNames(where, "classes", "tag", labels);
  const T = options.length;
  check(Number.isInteger(T) && T > 0, where, () => `option 'length' must be a positive integer, got ${T}.`);
  const ignore = options.ignoreIndex ?? -1;
  check(
    Number.isInteger(ignore) && (ignore < 0 || ignore >= k),
    where,
    () => `option 'ignoreIndex' (${ignore}) must lie outside the tag range [0, ${k - 1}].`,
  );

  const real = (predicted: ArrayLike<number>, target: ArrayLike<number>) => {
    const p: number[] = [];
    const y: number[] = [];
    for (let i = 0; i < target.length; i++) {
      if (target[i] !== ignore) {
        p.push(predicted[i]);
        y.push(target[i]);
      }
    }
    return { p, y };
  };

  return withTaskSpec("sequenceTagging", name, options, {
    name,
    kind: "sequenceTagging",
    columns: Array.from({ length: T }, (_, t) => `${name}.${t}`),
    outputUnits: T * k,
    targetWidth: T,
    labels,
    metricSpecs: [
      { name: "accuracy", higherIsBetter: true },
      { name: "f1Macro", higherIsBetter: true },
      { name: "f1Micro", higherIsBetter: true },
      { name: "tokens", higherIsBetter: true },
    ],
    primaryMetric: "accuracy",
    validateTargets(target: TargetArray) {
      const v = target.values;
      for (let i = 0; i < v.length; i++) {
        if (v[i] !== ignore && !(Number.isInteger(v[i]) && v[i] >= 0 && v[i] < k)) {
          throw new MtlError(
            where,
            `tag ${v[i]} at row ${Math.floor(i / T)}, token ${i % T} is outside [0, ${k - 1}] and is not the ignore index ${ignore}.`,
          );
        }
      }
    },
    targetTensor(target: TargetArray, rows: number) {
      const v = target.values instanceof Int32Array ? target.values : Int32Array.from(target.values);
      return tf.tensor2d(v, [rows, T], "int32");
    },
    loss(output: tf.Tensor2D, target: tf.Tensor) {
      return tf.tidy(() => {
        const flat = tf.reshape(target, [-1]) as tf.Tensor1D;
        const valid = tf.cast(tf.notEqual(flat, ignore), "float32");
        // An ignored (or out-of-range) index one-hots to a zero row: it adds nothing to the sum.
        const safe = tf.where(tf.notEqual(flat, ignore), flat, tf.zerosLike(flat)) as tf.Tensor1D;
        const oneHot = tf.mul(tf.oneHot(safe, k), tf.expandDims(valid, 1));
        const logp = tf.logSoftmax(tf.reshape(output, [-1, k]) as tf.Tensor2D);
        const total = tf.neg(tf.sum(tf.mul(oneHot, logp)));
        return tf.div(total, tf.maximum(tf.sum(valid), 1)) as tf.Scalar;
      });
    },
    decode(output: Float32Array, rows: number) {
      return argmaxRows(output, rows * T, k);
    },
    metrics(predicted, target) {
      const { p, y } = real(predicted, target);
      if (y.length === 0) return { accuracy: NaN, f1Macro: NaN, f1Micro: NaN, tokens: 0 };
      const s = classificationScores(confusionMatrix(p, y, k));
      return { accuracy: s.accuracy, f1Macro: s.f1Macro, f1Micro: s.f1Micro, tokens: y.length };
    },
  });
}
