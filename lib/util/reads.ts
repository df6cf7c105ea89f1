/**
 * Code that needs tensor values in the middle of its work, written once for both kinds of backend.
 *
 * Such code is a generator that `yield`s each tensor it needs to read and receives its values back;
 * it owns nothing it yields (the driver disposes the tensor after reading). `readsSync` drives it
 * with dataSync (cpu, wasm, tensorflow: the values are there at once); `readsAsync` with awaited
 * data(), which is what WebGPU allows, so the training path runs on every backend with one
 * implementation of each method.
 */
import * as tf from "@tensorflow/tfjs";

export type Values = Float32Array | Int32Array | Uint8Array;
/** A computation that reads tensors: yields each tensor to read, receives its values. */
export type Reads<T> = Generator<tf.Tensor, T, Values>;

export function readsSync<T>(work: Reads<T>): T {
  let next = work.next();
  while (!next.done) {
    const t = next.value;
    let values: Values;
    try {
      values = t.dataSync() as Values;
    } finally {
      t.dispose();
    }
    next = work.next(values);
  }
  return next.value;
}

/**
 * `readsSync` inside one tidy scope, for work whose tensors all end with it (evaluation, prediction).
 * The kernel interrupts synchronous code by terminating it, so no `finally` runs: a tensor being
 * read at that moment would be in no scope and leak. Here it is in this scope, which the kernel's
 * engine repair closes (util/engineRecovery.ts), freeing it.
 */
export function readsSyncScoped<T>(work: Reads<T>): T {
  let result!: T;
  tf.tidy(() => {
    result = readsSync(work);
  });
  return result;
}

export async function readsAsync<T>(work: Reads<T>): Promise<T> {
  let next = work.next();
  while (!next.done) {
    const t = next.value;
    let values: Values;
    try {
      values = (await t.data()) as Values;
    } finally {
      t.dispose();
    }
    next = work.next(values);
  }
  return next.value;
}
