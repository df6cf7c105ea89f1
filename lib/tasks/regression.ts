/**
 * Regression with one or more outputs. Losses, averaged over examples and outputs:
 *   mse:   (1/n) Σ (ŷ − y)²
 *   mae:   (1/n) Σ |ŷ − y|
 *   huber: (1/n) Σ { ½(ŷ − y)²            if |ŷ − y| ≤ δ
 *                  { δ(|ŷ − y| − ½δ)      otherwise        (δ = 1 by default, as PyTorch's HuberLoss)
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions } from "../errors";
import { regressionScores } from "./metrics";
import { checkFiniteTargets, checkTaskName, Task, TargetArray } from "./task";
import { withTaskSpec } from "./spec";

/** Mean squared error, mean absolute error, or Huber's loss (δ = 1 by default). */
export type RegressionLoss = "mse" | "mae" | "huber";

/** Options of {@link regression}. */
export interface RegressionOptions {
  /** DataFrame columns of the targets (default: the task name, one output). */
  columns?: string[];
  /** Number of outputs when the targets come from arrays (default: number of columns, else 1). */
  outputs?: number;
  loss?: RegressionLoss;
  /** Huber's δ. */
  delta?: number;
}

/** Regression with one or more outputs: MSE, MAE or Huber loss; MSE, MAE and R² as metrics. */
export function regression(name: string, options: RegressionOptions = {}): Task {
  const where = `regression('${name}')`;
  checkTaskName("regression", name);
  checkKnownOptions(where, options, ["columns", "outputs", "loss", "delta"]);
  const lossName = options.loss ?? "mse";
  check(["mse", "mae", "huber"].includes(lossName), where, () => `unknown loss '${lossName}'; use 'mse', 'mae' or 'huber'.`);
  const delta = options.delta ?? 1;
  check(Number.isFinite(delta) && delta > 0, where, () => `option 'delta' must be a positive number, got ${options.delta}.`);
  const width = options.outputs ?? options.columns?.length ?? 1;
  check(Number.isInteger(width) && width >= 1, where, () => `option 'outputs' must be a positive integer, got ${options.outputs}.`);
  const columns = options.columns ?? (width === 1 ? [name] : Array.from({ length: width }, (_, i) => `${name}.${i}`));
  check(columns.length === width, where, () => `option 'columns' has ${columns.length} names for ${width} outputs.`);

  return withTaskSpec("regression", name, options, {
    name,
    kind: "regression",
    columns,
    outputUnits: width,
    targetWidth: width,
    metricSpecs: [
      { name: "mse", higherIsBetter: false },
      { name: "mae", higherIsBetter: false },
      { name: "r2", higherIsBetter: true },
    ],
    fusedLoss: lossName === "mse" ? "meanSquaredError" : undefined,
    primaryMetric: "mse",
    validateTargets(target: TargetArray) {
      checkFiniteTargets(where, target, columns.join(", "));
    },
    targetTensor(target: TargetArray, rows: number) {
      return tf.tensor2d(target.values instanceof Float32Array ? target.values : Float32Array.from(target.values), [rows, width]);
    },
    loss(output: tf.Tensor2D, target: tf.Tensor) {
      return tf.tidy(() => {
        const diff = tf.sub(output, target);
        if (lossName === "mse") return tf.mean(tf.square(diff)) as tf.Scalar;
        if (lossName === "mae") return tf.mean(tf.abs(diff)) as tf.Scalar;
        const a = tf.abs(diff);
        const quadratic = tf.minimum(a, delta);
        // ½q² + δ(|d| − q) equals both branches of Huber's loss.
        return tf.mean(tf.add(tf.mul(0.5, tf.square(quadratic)), tf.mul(delta, tf.sub(a, quadratic)))) as tf.Scalar;
      });
    },
    decode(output: Float32Array) {
      return output;
    },
    metrics(predicted, target) {
      return regressionScores(predicted, target, width);
    },
  });
}
