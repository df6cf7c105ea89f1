/**
 * tfjs's cpu backend prints "Hi there 👋. Looks like you are running TensorFlow.js in Node.js. To speed
 * things up dramatically, install our node backend…" on its first tensor, also when it only serves as a
 * helper beside wasm, and it lands in every notebook's output. mtlkit says which backend runs and why
 * the better ones do not (backendInfo, `mtlkit doctor`), so the banner is dropped: tfjs prints it while
 * the backend's `firstUse` flag is true.
 */
import * as tf from "@tensorflow/tfjs";

/** Clears the cpu backend's first-use flag, so tfjs never prints its banner (does nothing without a cpu backend). */
export function silenceCpuBanner(): void {
  try {
    const cpu = tf.engine().findBackend("cpu") as unknown as { firstUse?: boolean } | null;
    if (cpu && typeof cpu.firstUse === "boolean") cpu.firstUse = false;
  } catch {
    // no cpu backend registered: nothing to silence
  }
}
