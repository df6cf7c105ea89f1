/** The global L2 norm of a gradient map in one host-kernel call (no tfjs kernels), on backends with host memory. */
import * as tf from "@tensorflow/tfjs";
import { hostKernelsFor } from "./hostKernels";
import { HeapBackend, readView } from "./views";

/** sqrt(Σ g²) accumulated in float64, or undefined where there is no host kernel (webgpu) or a gradient is not float32. */
export function hostGlobalNorm(grads: tf.NamedTensorMap): number | undefined {
  const backendName = tf.getBackend();
  const kernels = hostKernelsFor(backendName);
  if (!kernels) return undefined;
  const backend = tf.backend() as unknown as HeapBackend;
  const views: Float32Array[] = [];
  for (const g of Object.values(grads)) {
    const view = readView(backendName, backend, g);
    if (!view) return undefined;
    views.push(view);
  }
  return Math.sqrt(kernels.sumOfSquares(views));
}
