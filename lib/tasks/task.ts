/**
 * A task says what to predict, how to score a prediction (its loss) and how to judge it
 * (its metrics, each with the direction that is better).
 */
import * as tf from "@tensorflow/tfjs";
import { check, MtlError } from "../errors";

/** The kinds of task mtlkit has. */
export type TaskKind = "classification" | "binary" | "multiLabel" | "regression" | "sequenceTagging";

/** The losses mtlkit's fused native training step computes itself. */
export type FusedLoss = "softmaxCrossEntropy" | "meanSquaredError" | "sigmoidCrossEntropy";

/** A metric's name and whether higher is better. */
export interface MetricSpec {
  name: string;
  higherIsBetter: boolean;
}

/** A task's targets for n examples: `values` holds n × width numbers, row by row. */
export interface TargetArray {
  values: Float32Array | Int32Array;
  width: number;
}

/**
 * A task: what to predict (its columns and output width), its loss, its metrics and which way each is better.
 * Built by `mtl.tasks.*`.
 */
export interface Task {
  readonly name: string;
  readonly kind: TaskKind;
  /** The DataFrame column (or columns) the targets come from; defaults to the task's name. */
  readonly columns: string[];
  /** Width of the head's output (logits or values). */
  readonly outputUnits: number;
  /** Width of one target row. */
  readonly targetWidth: number;
  /** Class names for classification tasks, label names for multi-label tasks. */
  readonly labels?: string[];
  readonly metricSpecs: MetricSpec[];
  /** The metric used for model selection and summaries. */
  readonly primaryMetric: string;
  /**
   * The loss in a closed form that fused native kernels implement, when it is one of them
   * (unweighted softmax cross-entropy, mean squared error, mean sigmoid cross-entropy).
   */
  readonly fusedLoss?: FusedLoss;
  /** Throws an MtlError naming the task and row if a target is invalid for this task. */
  validateTargets(target: TargetArray): void;
  /** Mean loss over the batch; `output` is the head's raw output [batch, outputUnits]. */
  loss(output: tf.Tensor2D, target: tf.Tensor): tf.Scalar;
  /** The targets as a tensor of the dtype `loss` expects. */
  targetTensor(target: TargetArray, rows: number): tf.Tensor;
  /** Converts raw outputs to predictions in target space (class index, 0/1, value). */
  decode(output: Float32Array, rows: number): Float32Array | Int32Array;
  /** Every metric of the task from decoded predictions and targets. */
  metrics(predicted: ArrayLike<number>, target: ArrayLike<number>): Record<string, number>;
}

export const TASK_NAME_PATTERN = /^[A-Za-z_][\w.\-]*$/;

export function checkTaskName(kind: string, name: unknown): asserts name is string {
  check(
    typeof name === "string" && TASK_NAME_PATTERN.test(name),
    kind,
    () => `task name must be a non-empty identifier-like string (letters, digits, _ . -), got ${JSON.stringify(name)}.`,
  );
}

/**
 * Refuses a list of class, tag or label names with a repeat: two classes named alike would make
 * text labels map to the first one only, and reports would show two rows with one name.
 */
export function checkDistinctNames(where: string, option: string, what: string, names: readonly string[] | undefined): void {
  if (!names) return;
  const first = new Map<string, number>();
  names.forEach((n, i) => {
    const j = first.get(n);
    if (j !== undefined)
      throw new MtlError(
        where,
        `option '${option}' names ${what} ${JSON.stringify(n)} twice (positions ${j} and ${i}); ${what} names must be distinct.`,
      );
    first.set(n, i);
  });
}

/** Checks that `n` rows of targets are finite numbers; used by every task kind. */
export function checkFiniteTargets(where: string, target: TargetArray, column: string): void {
  const v = target.values;
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) {
      throw new MtlError(where, `target column '${column}' has a non-finite value (${v[i]}) at row ${Math.floor(i / target.width)}.`);
    }
  }
}

/** Index of the largest value in each row. */
export function argmaxRows(output: Float32Array, rows: number, width: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < width; c++) {
      const v = output[r * width + c];
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[r] = best;
  }
  return out;
}

/** Numerically stable mean sigmoid cross-entropy from logits z and targets y in [0, 1]:
 *  max(z, 0) − z·y + log(1 + e^{−|z|}). */
export function sigmoidCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const relu = tf.relu(logits);
    const log1p = tf.log1p(tf.exp(tf.neg(tf.abs(logits))));
    return tf.mean(tf.add(tf.sub(relu, tf.mul(logits, targets)), log1p)) as tf.Scalar;
  });
}
