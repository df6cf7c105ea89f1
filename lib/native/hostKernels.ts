/**
 * The optimizer path's two kernels on host memory: Adam's in-place update and the sum of squares
 * behind the global gradient norm. On the wasm and cpu backends a tensor's values live in host memory
 * (the WebAssembly heap, the cpu backend's arrays), so these run on views of them (./views.ts): the
 * native addon's C++ when it is enabled, else the JavaScript below, which does the same arithmetic
 * in the same order (bit-identical results). On any other backend (webgpu) there are none, and the
 * callers use tfjs ops.
 *
 * Why by hand: with tfjs ops, Adam is 12 kernels per variable and the overflow-safe norm 6 per
 * gradient plus 6; on a small model each kernel's dispatch costs more than its arithmetic (the
 * bench's 20-64 model spent half of its step there), and the addon is optional. Nothing here waits
 * for a device: on these backends a kernel's output is in memory when the kernel returns.
 */
import * as tf from "@tensorflow/tfjs";
import type { NativeAddon } from "./addon";
import { nativeAddonFor } from "./kernels";

/**
 * The two kernels, as the native addon declares them (./addon.ts): `adam` is one Adam update in
 * place, PyTorch's form (the step constants −lr/(1 − β₁ᵗ) and sqrt(1 − β₂ᵗ) formed in float64 from
 * the two bias corrections, every array operation in float32); `sumOfSquares` is Σ x² over all
 * elements of all arrays in float64 (NaN or ±Infinity when an element is).
 */
export type HostKernels = Pick<NativeAddon, "adam" | "sumOfSquares">;

const f = Math.fround;

/** The native kernels' arithmetic in JavaScript: Math.fround after each operation is float32's. */
export const jsHostKernels: HostKernels = {
  adam(value, gradient, m, v, beta1, beta2, oneMinusBeta1, oneMinusBeta2, oneMinusAccBeta1, oneMinusAccBeta2, epsilon, negLearningRate) {
    const [b1, b2, c1, c2, eps] = [f(beta1), f(beta2), f(oneMinusBeta1), f(oneMinusBeta2), f(epsilon)];
    const sqrtBiasCorrection2 = f(Math.sqrt(oneMinusAccBeta2));
    const negStepSize = f(negLearningRate / oneMinusAccBeta1);
    for (let i = 0; i < value.length; i++) {
      const g = gradient[i];
      const mNew = f(f(m[i] * b1) + f(g * c1));
      const vNew = f(f(v[i] * b2) + f(f(g * g) * c2));
      const denom = f(f(f(Math.sqrt(vNew)) / sqrtBiasCorrection2) + eps);
      m[i] = mNew;
      v[i] = vNew;
      value[i] = f(f(mNew / denom) * negStepSize) + value[i];
    }
  },
  sumOfSquares(arrays) {
    // Eight accumulators combined as the native kernel combines them, so both give the same double.
    let total = 0;
    for (const x of arrays) {
      let a0 = 0,
        a1 = 0,
        a2 = 0,
        a3 = 0,
        a4 = 0,
        a5 = 0,
        a6 = 0,
        a7 = 0;
      const n = x.length;
      let i = 0;
      for (; i + 8 <= n; i += 8) {
        a0 += x[i] * x[i];
        a1 += x[i + 1] * x[i + 1];
        a2 += x[i + 2] * x[i + 2];
        a3 += x[i + 3] * x[i + 3];
        a4 += x[i + 4] * x[i + 4];
        a5 += x[i + 5] * x[i + 5];
        a6 += x[i + 6] * x[i + 6];
        a7 += x[i + 7] * x[i + 7];
      }
      // The last n mod 8 elements go to the first accumulators, one each.
      const rest = n - i; // fewer than 8
      if (rest > 0) a0 += x[i] * x[i];
      if (rest > 1) a1 += x[i + 1] * x[i + 1];
      if (rest > 2) a2 += x[i + 2] * x[i + 2];
      if (rest > 3) a3 += x[i + 3] * x[i + 3];
      if (rest > 4) a4 += x[i + 4] * x[i + 4];
      if (rest > 5) a5 += x[i + 5] * x[i + 5];
      if (rest > 6) a6 += x[i + 6] * x[i + 6];
      total += a0 + a4 + (a2 + a6) + (a1 + a5 + (a3 + a7));
    }
    return total;
  },
};

let jsKernelsOn = true;

/** Turns the JavaScript kernels off (true: back on), so tests and benches can compare the tfjs-op path. */
export function useJsHostKernels(on: boolean): void {
  jsKernelsOn = on;
}

/**
 * Above this many elements a variable on wasm is updated faster by tfjs-wasm's 12 element-wise
 * kernels (SIMD: about 55 µs of dispatch and 3.4 ns an element) than by the JavaScript loop (9.2 ns
 * an element: its two divisions and square root are float64's), so there the tfjs-op path runs,
 * with the same result. Measured on this project's 2-core machine, 1k to 262k elements.
 */
export const JS_ADAM_WASM_LIMIT = 8192;

/** The kernels to update a variable of `elements` with Adam on `backendName`, or undefined where tfjs ops serve it better or alone. */
export function hostAdamFor(backendName: string, elements: number): HostKernels | undefined {
  const kernels = hostKernelsFor(backendName);
  return kernels === jsHostKernels && backendName === "wasm" && elements > JS_ADAM_WASM_LIMIT ? undefined : kernels;
}

/** The kernels for `backendName`: the native addon's when enabled for it, else JavaScript on wasm and cpu. */
export function hostKernelsFor(backendName = tf.getBackend()): HostKernels | undefined {
  if (backendName !== "wasm" && backendName !== "cpu") return undefined;
  return nativeAddonFor(backendName) ?? (jsKernelsOn ? jsHostKernels : undefined);
}
