/**
 * Slice, SplitV and Unpack for tfjs's wasm backend that copy only the slice. tfjs-wasm 4.22's Slice
 * first reads its whole input out of the WebAssembly heap (readSync makes a copy), and SplitV and
 * Unpack call it once per output, so splitting [batch, n·h] into n parts copied the input n times;
 * the gradients of concat and stack go through them (MMoE spent 40% of its step there). These read
 * views of the heap instead; values are bit-identical. Strings go to tfjs's own kernels.
 *
 * Identity (tf.clone, and the engine's copy of every tensor a gradient saves for the backward pass)
 * copied its input on wasm; tensors are immutable, so here it shares the input's memory and counts a
 * reference, as the cpu backend's Identity and wasm's own Reshape do (a generic training step made
 * 37 such copies). Code that writes into a tensor's memory in place checks first that nothing shares
 * it (lib/native/views.ts, writableView).
 * Registered when the wasm backend is installed (it is optional), replacing tfjs's kernels.
 */
import * as tf from "@tensorflow/tfjs";

interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
  incRef(dataId: object): void;
}

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };

/** out = x[begin : begin + size], one contiguous run per index of the axes before the innermost partial one. */
export function sliceInto(
  x: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  shape: number[],
  begin: number[],
  size: number[],
  out: { set(a: ArrayLike<number>, offset: number): void },
): void {
  const rank = shape.length;
  if (rank === 0) {
    out.set(x.subarray(0, 1), 0);
    return;
  }
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  // Axes after `inner` are whole, so each run covers size[inner] · strides[inner] elements.
  let inner = rank - 1;
  while (inner > 0 && size[inner] === shape[inner] && begin[inner] === 0) inner--;
  const run = size[inner] * strides[inner];
  const outer = size.slice(0, inner).reduce((a, b) => a * b, 1);
  if (run === 0 || outer === 0) return;
  const index = new Array<number>(inner).fill(0);
  let offset = 0;
  for (let d = 0; d <= inner; d++) offset += begin[d] * strides[d];
  for (let r = 0, o = 0; r < outer; r++, o += run) {
    let at = offset;
    for (let d = 0; d < inner; d++) at += index[d] * strides[d];
    out.set(x.subarray(at, at + run), o);
    for (let d = inner - 1; d >= 0; d--) {
      if (++index[d] < size[d]) break;
      index[d] = 0;
    }
  }
}

function sliceOne(x: TensorInfo, begin: number[], size: number[], backend: WasmBackendLike): TensorInfo {
  const out = backend.makeOutput(size, x.dtype); // first: allocating may grow the heap and detach views
  sliceInto(backend.typedArrayFromHeap(x), x.shape, begin, size, backend.typedArrayFromHeap(out));
  return out;
}

function makeSlice(original: tf.KernelFunc) {
  return (args: KernelArgs): TensorInfo => {
    const { x } = args.inputs;
    if (x.dtype === "string") return original(args as never) as TensorInfo;
    const [begin, size] = tf.slice_util.parseSliceParams(x as never, args.attrs.begin as number[], args.attrs.size as number[]);
    return sliceOne(x, begin, size, args.backend);
  };
}

function makeSplitV(original: tf.KernelFunc) {
  return (args: KernelArgs): TensorInfo[] => {
    const { x } = args.inputs;
    if (x.dtype === "string") return original(args as never) as TensorInfo[];
    const axis = tf.util.parseAxisParam(args.attrs.axis as number, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as never, args.attrs.numOrSizeSplits as number[], axis);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[axis] = s;
      const part = sliceOne(x, begin, size, args.backend);
      begin[axis] += s;
      return part;
    });
  };
}

function makeUnpack(original: tf.KernelFunc) {
  return (args: KernelArgs): TensorInfo[] => {
    const { value } = args.inputs;
    if (value.dtype === "string") return original(args as never) as TensorInfo[];
    let axis = args.attrs.axis as number;
    if (axis < 0) axis += value.shape.length;
    const outShape = value.shape.filter((_, i) => i !== axis);
    const begin = new Array<number>(value.shape.length).fill(0);
    const size = [...value.shape];
    size[axis] = 1;
    return Array.from({ length: value.shape[axis] }, (_, i) => {
      begin[axis] = i;
      const part = sliceOne(value, begin, size, args.backend);
      return { dataId: part.dataId, dtype: part.dtype, shape: outShape };
    });
  };
}

function makeIdentity(original: tf.KernelFunc) {
  return (args: KernelArgs): TensorInfo => {
    const { x } = args.inputs;
    if (x.dtype === "string") return original(args as never) as TensorInfo;
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
}

const REPLACEMENTS: Array<[string, (original: tf.KernelFunc) => (args: KernelArgs) => TensorInfo | TensorInfo[]]> = [
  ["Slice", makeSlice],
  ["SplitV", makeSplitV],
  ["Unpack", makeUnpack],
  ["Identity", makeIdentity],
];

let replaced = false;

/**
 * Replaces tfjs-wasm's Slice, SplitV, Unpack and Identity (once; false while the wasm backend's package has not
 * been loaded). It does not load that package itself: loading it registers the wasm backend, which
 * then outranks cpu as tfjs's default and needs an asynchronous start, so merely importing mtlkit
 * would break code that never chose a backend. The backend selection calls this when it loads wasm.
 */
export function replaceWasmSlicing(): boolean {
  if (replaced) return true;
  if (!tf.getKernel("Slice", "wasm")) return false;
  for (const [kernelName, make] of REPLACEMENTS) {
    const original = tf.getKernel(kernelName, "wasm");
    if (!original) continue;
    tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({ ...original, kernelFunc: make(original.kernelFunc) as unknown as tf.KernelFunc });
  }
  replaced = true;
  return true;
}

replaceWasmSlicing();
