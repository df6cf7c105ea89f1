/**
 * The last stage of every step: check the update, clip it, apply it.
 * - The global gradient norm ‖g‖ = sqrt(Σ_v ‖g_v‖²) is computed once (one read-back per step).
 * - A non-finite norm means a NaN or infinite gradient: training stops (or the step is skipped,
 *   with onNonFinite "skip"), naming the step, the variable and the task whose gradient it is.
 * - With `clipNorm` c, an update with ‖g‖ > c is scaled by c/‖g‖ (Pascanu et al., 2013).
 */
import * as tf from "@tensorflow/tfjs";
import { MtlError } from "../../errors";
import { nativeGlobalNorm } from "../../native/norm";
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

/**
 * Global L2 norm of a gradient map, as a scalar tensor (no read-back). Computed as
 * m·sqrt(Σ (g/m)²) with m = max|g|, so large but finite gradients do not overflow float32 in the
 * squares; a NaN or infinite element still makes it non-finite.
 */
export function globalNorm(grads: tf.NamedTensorMap): tf.Scalar {
  return tf.tidy(() => {
    const gs = Object.values(grads);
    if (gs.length === 0) return tf.scalar(0);
    const m = tf.max(tf.stack(gs.map((g) => tf.max(tf.abs(g)))));
    const safe = tf.maximum(m, 1e-30);
    const sum = tf.addN(gs.map((g) => tf.sum(tf.square(tf.div(g, safe)))));
    return tf.mul(tf.sqrt(sum), m) as tf.Scalar;
  });
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
  const norm = nativeGlobalNorm(grads) ?? globalNorm(grads).dataSync()[0];
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
  const isFinite = (g: tf.Tensor) => tf.tidy(() => tf.all(tf.isFinite(g)).dataSync()[0] === 1);
  const bad = Object.entries(grads).find(([, g]) => !isFinite(g));
  // No element is NaN or infinite: the norm itself overflows float32; blame the largest tensor.
  const culprit = bad ?? Object.entries(grads).reduce((best, cur) => (globalNorm({ a: cur[1] }).dataSync()[0] > globalNorm({ a: best[1] }).dataSync()[0] ? cur : best));
  const tensor = names.get(culprit[0]) ?? culprit[0];
  const variable = input.variables.find((v) => v.name === culprit[0]);
  let task = "unknown";
  let worst = -1;
  for (let i = 0; variable && i < input.tasks.length; i++) {
    const taskNorm = tf.tidy(() => {
      const { grads: g } = tf.variableGrads(() => {
        const outputs = input.model.forward(input.x, true);
        return input.tasks[i].loss(outputs[i], input.targets[i]);
      }, [variable]);
      const gv = g[variable.name];
      return gv ? globalNorm({ a: gv }).dataSync()[0] : 0;
    });
    const score = Number.isFinite(taskNorm) ? taskNorm : Infinity;
    if (score > worst) {
      worst = score;
      task = input.tasks[i].name;
    }
  }
  // The value reported is the gradient's own (NaN if an element is NaN, else Infinity), not the
  // norm's: the scaled float32 norm turns an infinite element into NaN and the native one does not,
  // and the same gradient must give the same message on every path.
  const value = bad ? (tf.tidy(() => tf.any(tf.isNaN(bad[1])).dataSync()[0]) === 1 ? NaN : Infinity) : norm;
  return new NonFiniteGradientError(task, input.step, bad ? tensor : `${tensor} (every element finite, the norm overflows float32)`, value);
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
    const norm = globalNorm(grads).dataSync()[0];
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
