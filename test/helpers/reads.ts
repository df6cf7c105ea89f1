/** Reading test values with await, so a test runs on every backend (webgpu reads only asynchronously). */
import * as tf from "@tensorflow/tfjs";

/** Runs `fn` in a tidy scope, reads the tensor it returns with await, and frees it. */
export async function numbersOf(fn: () => tf.Tensor): Promise<number[]> {
  const t = tf.tidy(fn);
  try {
    return Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

/** The first value of `numbersOf`: for scalars. */
export async function numberOf(fn: () => tf.Tensor): Promise<number> {
  return (await numbersOf(fn))[0];
}
