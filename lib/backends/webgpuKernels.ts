/**
 * Repairs to tfjs-backend-webgpu's kernels, installed when mtlkit registers the backend.
 *
 * AddN: tfjs-backend-webgpu 4.22 binds every input of tf.addN as its own storage buffer in one
 * shader, and WebGPU caps storage buffers per shader stage (8 by default, 16 on lavapipe). With more
 * inputs than the cap the pipeline is invalid, Dawn drops the whole command buffer, and every tensor
 * that submit was computing reads back as zeros: an L2 penalty over nine variables zeroed a step's
 * losses (test/architectures/matrix.test.ts found it). Its Concat kernel already splits its inputs by
 * the device's limit; AddN here does the same: partial sums of at most `limit` inputs, then their sum.
 */
import * as tf from "@tensorflow/tfjs";

interface WebGpuBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: object): void;
}

const REPAIRED = Symbol.for("mtlkit.webgpu.addN");

/** The most tensors one AddN shader may read: one storage buffer of the stage is the output. */
export function addNInputLimit(backend: WebGpuBackendLike): number {
  return Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
}

export function repairWebGpuAddN(): void {
  const original = tf.getKernel("AddN", "webgpu");
  if (!original || (original as unknown as Record<symbol, boolean>)[REPAIRED]) return;
  const kernelFunc: tf.KernelFunc = (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const backend = args.backend as unknown as WebGpuBackendLike;
    const limit = addNInputLimit(backend);
    if (inputs.length <= limit) return original.kernelFunc(args);
    let level = inputs;
    const made: tf.TensorInfo[] = [];
    while (level.length > limit) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < level.length; i += limit) {
        const chunk = level.slice(i, i + limit);
        if (chunk.length === 1) {
          next.push(chunk[0]);
          continue;
        }
        const partial = original.kernelFunc({ ...args, inputs: chunk as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
        made.push(partial);
        next.push(partial);
      }
      level = next;
    }
    const result = original.kernelFunc({ ...args, inputs: level as unknown as tf.NamedTensorInfoMap }) as tf.TensorInfo;
    for (const t of made) backend.disposeData(t.dataId);
    return result;
  };
  tf.unregisterKernel("AddN", "webgpu");
  tf.registerKernel({ ...original, kernelFunc, [REPAIRED]: true } as tf.KernelConfig);
}
