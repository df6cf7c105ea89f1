/**
 * A gradient tape that stays open across awaited reads.
 *
 * tfjs records a tape only inside the synchronous callback of `engine.gradients` (what tf.grads and
 * tf.variableGrads call), so a step that must read its losses before it can form the weighted total
 * (a weighting method that looks at the losses, an aggregator that looks at the Gramian) could only
 * read them synchronously, which WebGPU cannot do. `recordAsync(body)` opens the tape and a tensor
 * scope the way `engine.gradients` and `tidy` do, but around an async body: inside it, forward ops
 * are recorded, `await t.data()` may be called, and tf.grads / tf.variableGrads / `vjp` differentiate
 * anything recorded so far (nested gradient calls reuse an open tape; tfjs clears it only when the
 * outermost one ends). When the body settles, the saved activations and every tensor made in the
 * scope are freed, except the tensors of its result.
 *
 * One body at a time: while it awaits, tfjs ops made by other code would land on this tape and in
 * this scope. The trainer runs one step at a time and calls nothing else during a step.
 */
import * as tf from "@tensorflow/tfjs";

/** The engine members this module uses (public in tfjs's engine, not in its typings). */
interface EngineInternals {
  state: { gradientDepth: number; kernelDepth: number; activeTape: Array<{ saved?: tf.Tensor[] }> | null };
  startScope(name?: string): void;
  endScope(result?: tf.TensorContainer): void;
}

export async function recordAsync<T extends tf.TensorContainer>(body: () => Promise<T>): Promise<T> {
  const engine = tf.engine() as unknown as EngineInternals;
  engine.startScope("mtlkit.step");
  const outermost = engine.state.gradientDepth === 0;
  if (outermost) engine.state.activeTape = [];
  engine.state.gradientDepth++;
  let result: T | undefined;
  try {
    result = await body();
    return result;
  } finally {
    engine.state.gradientDepth--;
    if (outermost) {
      for (const node of engine.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
      engine.state.activeTape = null;
    }
    engine.endScope(result);
  }
}

/**
 * A tensor scope (like tf.tidy) around an async body, without a tape: every tensor made in it is
 * freed when the body settles, except the tensors of its result. One body at a time (see above).
 */
export async function scopeAsync<T extends tf.TensorContainer>(body: () => Promise<T>): Promise<T> {
  const engine = tf.engine() as unknown as EngineInternals;
  engine.startScope("mtlkit.step");
  let result: T | undefined;
  try {
    result = await body();
    return result;
  } finally {
    engine.endScope(result);
  }
}

/** The values of several tensors with one awaited read each, issued together. */
export async function readAll(tensors: tf.Tensor[]): Promise<Array<Float32Array | Int32Array | Uint8Array>> {
  return Promise.all(tensors.map((t) => t.data() as Promise<Float32Array | Int32Array | Uint8Array>));
}

/**
 * Runs `fn` (synchronous) without recording its ops on the open tape, which stays readable: a
 * backward pass of what was recorded (tf.grads, tf.variableGrads and vjp inside work as usual), the
 * update and its norm. Nothing here is differentiated again, and recording it would clone every
 * saved tensor and keep it alive until the step ends. (tfjs records only at kernel depth 0; raising
 * it is how its own kernels keep their inner ops off the tape.)
 */
export function unrecorded<T>(fn: () => T): T {
  const engine = tf.engine() as unknown as EngineInternals;
  engine.state.kernelDepth++;
  try {
    return fn();
  } finally {
    engine.state.kernelDepth--;
  }
}
