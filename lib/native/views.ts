/**
 * Float32Array views over a tensor's memory on the wasm heap or in the cpu backend's store, so the
 * native addon works on tensors without copying them. A view is valid only until the next tfjs
 * allocation (which may grow and move the wasm heap): take views last, right before the call.
 */
import * as tf from "@tensorflow/tfjs";

/** What a kernel function receives and returns for a tensor (tfjs's TensorInfo, as kernels see it). */
export interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** The parts of tfjs-backend-wasm's backend that mtlkit's wasm kernels use. */
export interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** The parts of tfjs's cpu backend that mtlkit's cpu kernels use. */
export interface CpuBackendLike {
  data: { get(dataId: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): TensorInfo;
}

export interface HeapBackend {
  dataIdMap?: { get(dataId: object): { refCount: number } | undefined };
  typedArrayFromHeap?(t: tf.Tensor): Float32Array;
  data?: { get(dataId: object): { values: Float32Array; refCount: number } | undefined };
}

/** A Float32Array over the tensor's own memory (no copy), or undefined when it is shared or not float32. */
export function exclusiveView(backendName: string, backend: HeapBackend, t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== "float32") return undefined;
  if (backendName === "wasm") {
    const info = backend.dataIdMap?.get(t.dataId);
    return info && info.refCount === 1 ? backend.typedArrayFromHeap!(t) : undefined;
  }
  const data = backend.data?.get(t.dataId);
  return data && data.refCount === 1 && data.values instanceof Float32Array ? data.values : undefined;
}

/** A read-only view of a tensor's values (shared memory is fine for reading). */
export function readView(backendName: string, backend: HeapBackend, t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== "float32") return undefined;
  if (backendName === "wasm") return backend.typedArrayFromHeap!(t);
  const values = backend.data?.get(t.dataId)?.values;
  return values instanceof Float32Array ? values : undefined;
}

/** A read-only view of an int32 tensor's values. */
export function readInt32View(backendName: string, backend: HeapBackend, t: tf.Tensor): Int32Array | undefined {
  if (t.dtype !== "int32") return undefined;
  if (backendName === "wasm") return backend.typedArrayFromHeap!(t) as unknown as Int32Array;
  const values = (backend.data?.get(t.dataId) as { values?: unknown } | undefined)?.values;
  return values instanceof Int32Array ? values : undefined;
}
