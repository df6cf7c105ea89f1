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
  dataIdMap?: { get(dataId: object): { refCount: number; id?: number; memoryOffset?: number } | undefined };
  /** tfjs-wasm's bindings to its C++ tensor registry. */
  wasm?: {
    tfjs?: { disposeData?(id: number): void; registerTensor?(id: number, size: number, memoryOffset: number): void };
    _dispose_data?(id: number): void;
    _register_tensor?(id: number, size: number, memoryOffset: number): void;
  };
  typedArrayFromHeap?(t: tf.Tensor): Float32Array;
  data?: { get(dataId: object): { values: Float32Array; refCount: number } | undefined };
}

/**
 * The memory to write a tensor's new values into, holding its current values: on wasm a view of its
 * own memory on the heap (the backend's reads return copies, so no earlier read sees the write); on
 * cpu a copy of its values installed as its memory, because the cpu backend hands out its arrays
 * themselves (tf.tensor keeps the caller's array, and data()/dataSync() return the stored one), so
 * writing into them would change arrays the user holds. Undefined when the tensor is shared with
 * another, is not float32, or (wasm) the backend lacks what `wroteInPlace` needs. Take views last:
 * any tfjs allocation may move the wasm heap. Call `wroteInPlace` after writing.
 */
export function writableView(backendName: string, backend: HeapBackend, t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== "float32") return undefined;
  if (backendName === "wasm") {
    const info = backend.dataIdMap?.get(t.dataId);
    const registry = backend.wasm?.tfjs;
    const renewable = typeof registry?.disposeData === "function" && typeof registry.registerTensor === "function";
    return info && info.refCount === 1 && renewable && typeof info.id === "number" ? backend.typedArrayFromHeap!(t) : undefined;
  }
  const data = backend.data?.get(t.dataId);
  if (data?.refCount !== 1 || !(data.values instanceof Float32Array)) return undefined;
  data.values = data.values.slice();
  return data.values;
}

/**
 * Says that `t`'s memory was written through `writableView`. tfjs-wasm caches XNNPACK operators that
 * hold a packed copy of a matmul's or a convolution's weights, keyed by the weight tensor's id, and
 * drops them only when that id is disposed: an in-place update would leave the next matmul with the
 * old weights. So the id is disposed and registered again over the same memory (the backend's own
 * bookkeeping for a tensor, without freeing it), which runs the cache's disposal callbacks; the raw
 * exports cost a third of tfjs's wrapped ones (57 against 170 ns a pair). Needed for any tensor a
 * kernel may take as weights (a model's variables); Adam's moments, which only the update reads,
 * may skip it. Nothing to do on cpu (its memory is a new array already).
 */
export function wroteInPlace(backendName: string, backend: HeapBackend, t: tf.Tensor): void {
  if (backendName !== "wasm") return;
  const info = backend.dataIdMap!.get(t.dataId)!;
  const module = backend.wasm!;
  if (typeof module._dispose_data === "function" && typeof module._register_tensor === "function") {
    module._dispose_data(info.id!);
    module._register_tensor(info.id!, t.size, info.memoryOffset!);
    return;
  }
  module.tfjs!.disposeData!(info.id!);
  module.tfjs!.registerTensor!(info.id!, t.size, info.memoryOffset!);
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
