/**
 * The last stage of every step: check the update, clip it, apply it.
 * - The global gradient norm ‖g‖ = sqrt(Σ_v ‖g_v‖²) is computed once (one awaited read per step).
 * - A non-finite norm means a NaN or infinite gradient: the update is not applied; training stops
 *   (or the step is skipped, with onNonFinite "skip"), naming the step, the variable and the task.
 * - With `clipNorm` c, an update with ‖g‖ > c is scaled by c/‖g‖ (Pascanu et al., 2013).
 */
import * as tf from "@tensorflow/tfjs";
import { NonFiniteGradientError } from "../../errors";
import { hostGlobalNorm } from "../../native/norm";
import { unrecorded } from "../tape";
import { forward, SkipStep, StepInput } from "./types";

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

async function readNumber(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
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
 * clipping, or undefined when the step was skipped. The update is applied only after its norm was
 * read and found finite, so a non-finite gradient never reaches the parameters. `order` is every
 * variable the optimizer updates, in its slot order: tfjs optimizers key their slots (Adam's moments)
 * by position in the map, so the map lists all of them, with null for one that gets no gradient this
 * step (another task's head under a task sampler).
 */
export async function applyUpdate(input: StepInput, grads: tf.NamedTensorMap, order: readonly tf.Variable[]): Promise<number | undefined> {
  const norm = hostGlobalNorm(grads) ?? (await readNumber(unrecorded(() => globalNorm(grads))));
  if (!Number.isFinite(norm)) {
    if (input.onNonFinite === "skip") return undefined;
    throw await blameNonFinite(input, grads, norm);
  }
  applyChecked(input, grads, norm, order);
  return norm;
}

/** A non-finite update norm: skips the step (SkipStep) or throws the error naming the task and tensor. */
export async function refuseNonFinite(input: StepInput, grads: tf.NamedTensorMap, norm: number): Promise<never> {
  if (input.onNonFinite === "skip") throw new SkipStep();
  throw await blameNonFinite(input, grads, norm);
}

/** Clips and applies an update whose norm was read back finite. */
export function applyChecked(input: StepInput, grads: tf.NamedTensorMap, norm: number, order: readonly tf.Variable[]): void {
  unrecorded(() =>
    tf.tidy(() => {
      const clipped = input.clipNorm !== undefined ? clipByNorm(grads, norm, input.clipNorm) : grads;
      const ordered: Record<string, tf.Tensor | null> = {};
      for (const v of order) ordered[v.name] = clipped[v.name] ?? null;
      input.optimizer.applyGradients(ordered as tf.NamedTensorMap);
    }),
  );
}

/** Slow path, only after a failure: finds the variable and the task whose gradient is not finite. */
export async function blameNonFinite(input: StepInput, grads: tf.NamedTensorMap, norm: number): Promise<NonFiniteGradientError> {
  const names = new Map(input.model.namedVariables().map(([name, v]) => [v.name, name]));
  const entries = Object.entries(grads);
  const finite = await Promise.all(
    entries.map(([, g]) => readNumber(unrecorded(() => tf.tidy(() => tf.cast(tf.all(tf.isFinite(g)), "float32"))))),
  );
  const badIndex = finite.findIndex((f) => f !== 1);
  const bad = badIndex >= 0 ? entries[badIndex] : undefined;
  // No element is NaN or infinite: the norm itself overflows float32; blame the largest tensor.
  let culprit = bad;
  if (!culprit) {
    const norms = await Promise.all(entries.map(([, g]) => readNumber(unrecorded(() => globalNorm({ a: g })))));
    culprit = entries[norms.indexOf(Math.max(...norms))];
  }
  const tensor = names.get(culprit[0]) ?? culprit[0];
  const variable = input.variables.find((v) => v.name === culprit![0]);
  let task = "unknown";
  let worst = -1;
  for (let i = 0; variable && i < input.tasks.length; i++) {
    if (input.batch.part[i] < 0) continue;
    const taskNorm = await readNumber(
      tf.tidy(() => {
        const { grads: g } = tf.variableGrads(() => forward(input).taskLosses[i]!, [variable]);
        const gv = g[variable.name];
        return gv ? globalNorm({ a: gv }) : tf.scalar(0);
      }),
    );
    const score = Number.isFinite(taskNorm) ? taskNorm : Infinity;
    if (score > worst) {
      worst = score;
      task = input.tasks[i].name;
    }
  }
  // The value reported is the gradient's own (NaN if an element is NaN, else Infinity), not the
  // norm's: the scaled float32 norm turns an infinite element into NaN and the native one does not,
  // and the same gradient must give the same message on every path.
  const value = bad
    ? (await readNumber(unrecorded(() => tf.tidy(() => tf.cast(tf.any(tf.isNaN(bad[1])), "float32"))))) === 1
      ? NaN
      : Infinity
    : norm;
  return new NonFiniteGradientError(task, input.step, bad ? tensor : `${tensor} (every element finite, the norm overflows float32)`, value);
}

/**
 * Σ_i clip(∇_θ (w_i L_i), c): each task's weighted gradient clipped to norm c before they are
 * summed, differentiating each L_i through the tape already recorded (no second forward pass).
 * Variables a task does not reach (other tasks' heads) get no contribution from it.
 */
export async function clippedTaskGradients(
  losses: tf.Tensor1D,
  weights: number[],
  variables: tf.Variable[],
  maxNorm: number,
): Promise<tf.NamedTensorMap> {
  // The products w_i·L_i are recorded (their gradients run through them); the backward passes are not.
  const terms = weights.map((w, i) => (w === 0 ? undefined : (tf.mul(w, tf.squeeze(tf.slice(losses, [i], [1]))) as tf.Scalar)));
  const perTask = terms.map((term) => (term ? unrecorded(() => tf.variableGrads(() => term, variables).grads) : undefined));
  const norms = await Promise.all(perTask.map((g) => (g ? readNumber(unrecorded(() => globalNorm(g))) : 0)));
  const sum: tf.NamedTensorMap = {};
  perTask.forEach((grads, i) => {
    if (!grads) return;
    const clipped = clipByNorm(grads, norms[i], maxNorm);
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
