/**
 * The last stage of every step: check the update, clip it, apply it.
 * - The global gradient norm ‖g‖ = sqrt(Σ_v ‖g_v‖²) is computed once (one read-back per step).
 * - A non-finite norm means a NaN or infinite gradient: training stops (or the step is skipped,
 *   with onNonFinite "skip"), naming the step, the variable and the task whose gradient it is.
 * - With `clipNorm` c, an update with ‖g‖ > c is scaled by c/‖g‖ (Pascanu et al., 2013).
 */
import * as tf from "@tensorflow/tfjs";
import { MtlError } from "../../errors";
import { StepInput } from "./types";

export class NonFiniteGradientError extends MtlError {
  constructor(readonly task: string, readonly step: number, readonly tensor: string, value: number) {
    super(
      "training",
      `the gradient of task '${task}' with respect to '${tensor}' is ${value} at step ${step} although the losses are finite; ` +
        "training stopped (lower the learning rate, clip gradients with clipNorm or clipTaskNorm, or check the model for log(0), sqrt(0) or division by zero).",
    );
    this.name = "NonFiniteGradientError";
  }
}

/** Squared global norm of a gradient map, as a scalar tensor (no read-back). */
export function squaredNorm(grads: tf.NamedTensorMap): tf.Scalar {
  return tf.tidy(() => tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))) as tf.Scalar);
}

/** Scales a gradient map to norm at most `maxNorm` given its norm. */
export function clipByNorm(grads: tf.NamedTensorMap, norm: number, maxNorm: number): tf.NamedTensorMap {
  if (!(norm > maxNorm)) return grads;
  const scale = maxNorm / norm;
  const out: tf.NamedTensorMap = {};
  for (const [name, g] of Object.entries(grads)) out[name] = tf.mul(g, scale);
  return out;
}

/**
 * Checks, clips and applies `grads` (keyed by tf.Variable name). Returns the global norm before
 * clipping, or undefined when the step was skipped. Call inside the step's tf.tidy.
 */
export function applyUpdate(input: StepInput, grads: tf.NamedTensorMap): number | undefined {
  const norm = Math.sqrt(squaredNorm(grads).dataSync()[0]);
  if (!Number.isFinite(norm)) {
    if (input.onNonFinite === "skip") return undefined;
    throw blameNonFinite(input, grads, norm);
  }
  const clipped = input.clipNorm !== undefined ? clipByNorm(grads, norm, input.clipNorm) : grads;
  input.optimizer.applyGradients(clipped);
  return norm;
}

/** Slow path, only after a failure: finds the variable and the task whose gradient is not finite. */
function blameNonFinite(input: StepInput, grads: tf.NamedTensorMap, norm: number): NonFiniteGradientError {
  const names = new Map(input.model.namedVariables().map(([name, v]) => [v.name, name]));
  const badVariable = Object.entries(grads).find(([, g]) => !Number.isFinite(tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0])));
  const variableName = badVariable ? (names.get(badVariable[0]) ?? badVariable[0]) : "an unnamed variable";
  const variable = badVariable ? input.variables.find((v) => v.name === badVariable[0]) : undefined;
  let task = "unknown";
  if (variable) {
    for (let i = 0; i < input.tasks.length && task === "unknown"; i++) {
      const value = tf.tidy(() => {
        const { grads: g } = tf.variableGrads(() => {
          const outputs = input.model.forward(input.x, true);
          return input.tasks[i].loss(outputs[i], input.targets[i]);
        }, [variable]);
        const gv = g[variable.name];
        return gv ? tf.sum(tf.abs(gv)).dataSync()[0] : 0;
      });
      if (!Number.isFinite(value)) task = input.tasks[i].name;
    }
  }
  return new NonFiniteGradientError(task, input.step, variableName, norm);
}

/**
 * Σ_i clip(∇_θ (w_i L_i), c): each task's weighted gradient clipped to norm c before they are
 * summed, differentiating each L_i through the tape already recorded (no second forward pass).
 * Variables a task does not reach (other tasks' heads) get no contribution from it.
 */
export function clippedTaskGradients(losses: tf.Tensor1D, weights: number[], variables: tf.Variable[], maxNorm: number): tf.NamedTensorMap {
  const sum: tf.NamedTensorMap = {};
  weights.forEach((w, i) => {
    if (w === 0) return;
    const { grads } = tf.variableGrads(() => tf.mul(w, tf.squeeze(tf.slice(losses, [i], [1]))) as tf.Scalar, variables);
    const norm = Math.sqrt(squaredNorm(grads).dataSync()[0]);
    const clipped = clipByNorm(grads, norm, maxNorm);
    for (const [name, g] of Object.entries(clipped)) sum[name] = sum[name] ? tf.add(sum[name], g) : g;
  });
  return sum;
}

/** a + b for gradient maps (a variable missing from one side counts as zero). */
export function addGradients(a: tf.NamedTensorMap, b: tf.NamedTensorMap): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = { ...a };
  for (const [name, g] of Object.entries(b)) out[name] = out[name] ? tf.add(out[name], g) : g;
  return out;
}
