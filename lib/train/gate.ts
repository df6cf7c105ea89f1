/**
 * An update gated on the device, for steps whose scalars are read later (the trainer's bounded lag,
 * ./pipeline.ts). The step computes a bool scalar `healthy` on the device (every loss finite, the
 * gradient norm finite, and under onNonFinite "stop" every earlier step in flight healthy too) and
 * applies its update so that, where `healthy` is false, neither the parameters nor the optimizer's
 * state change:
 * - mtlkit's Adam gates inside its update (FusedAdamOptimizer.applyGradientsGated);
 * - any other tf.Optimizer: the old values of the updated parameters and of the optimizer's own
 *   variables (its slots, e.g. momentum accumulators or Adam's moments, and scalar variables such
 *   as tfjs Adam's running β powers) are kept, the update is applied, then each is assigned
 *   `where(healthy, new, old)`.
 * tfjs optimizers count steps in a JS number (`iterations`), which only checkpoints read; mtlkit's
 * Adam derives its bias corrections from it. It is counted when the step is dispatched, and
 * `uncountStep` takes it back once the step's read shows that it was not applied.
 */
import * as tf from "@tensorflow/tfjs";
import { FusedAdamOptimizer } from "../native/adam";

/**
 * Whether `optimizer`'s update can be gated at this point: mtlkit's Adam always; another optimizer
 * once it has applied a step (it creates its slots at its first update, with initial values this
 * module cannot know, so its first step runs without lag).
 */
export function canGate(optimizer: tf.Optimizer): boolean {
  return FusedAdamOptimizer.is(optimizer) || optimizer.iterations > 0;
}

/**
 * Applies `ordered` (every variable the optimizer updates, in its slot order; null where a variable
 * gets no gradient) only where `healthy` holds. `skipped` (int32 scalar) counts the `unconfirmed`
 * earlier steps still in flight that were not applied (onNonFinite "skip"; see FusedAdamOptimizer).
 */
export function applyGated(
  optimizer: tf.Optimizer,
  ordered: tf.NamedTensorMap,
  healthy: tf.Tensor,
  skipped: tf.Tensor | undefined,
  unconfirmed: number,
): void {
  if (FusedAdamOptimizer.is(optimizer)) {
    optimizer.applyGradientsGated(ordered, healthy, skipped, unconfirmed);
    return;
  }
  tf.tidy(() => {
    const registered = tf.engine().registeredVariables;
    const updated = Object.keys(ordered)
      .filter((name) => ordered[name] != null)
      .map((name) => registered[name]);
    const state = [...updated, ...optimizerVariables(optimizer)];
    // A clone shares the variable's memory: assign() gives the variable new memory and leaves this.
    const old = state.map((v) => tf.clone(v));
    optimizer.applyGradients(ordered);
    const healthy01 = tf.cast(healthy, "float32");
    // A full-shape condition: a scalar one would be broadcast with Tile, which reads synchronously on cpu.
    state.forEach((v, i) => v.assign(tf.where(tf.less(tf.zerosLike(v), healthy01), v, old[i])));
  });
}

/** The variables an optimizer owns, found on the object: tf.Variable fields and slot lists ({ variable }). */
export function optimizerVariables(optimizer: tf.Optimizer): tf.Variable[] {
  const out: tf.Variable[] = [];
  for (const value of Object.values(optimizer)) {
    if (value instanceof tf.Variable) out.push(value);
    else if (Array.isArray(value)) {
      for (const slot of value) {
        const v = (slot as { variable?: unknown } | null)?.variable;
        if (v instanceof tf.Variable) out.push(v);
      }
    }
  }
  return out.filter((v) => !v.isDisposed);
}

/** Takes back the step count of a dispatched step that was not applied. */
export function uncountStep(optimizer: tf.Optimizer): void {
  (optimizer as unknown as { iterations_: number }).iterations_ = optimizer.iterations - 1;
}
