/** The global L2 norm of a gradient map in one native call (no tfjs kernels), when the addon serves this backend. */
import * as tf from "@tensorflow/tfjs";
import { nativeAddonFor } from "./kernels";
import { HeapBackend, readView } from "./views";

export function nativeGlobalNorm(grads: tf.NamedTensorMap): number | undefined {
  const backendName = tf.getBackend();
  const addon = nativeAddonFor(backendName);
  if (!addon) return undefined;
  const backend = tf.backend() as unknown as HeapBackend;
  const views: Float32Array[] = [];
  for (const g of Object.values(grads)) {
    const view = readView(backendName, backend, g);
    if (!view) return undefined;
    views.push(view);
  }
  return Math.sqrt(addon.sumOfSquares(views));
}
