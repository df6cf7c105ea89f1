/**
 * Kernels tfjs 4.22's wasm backend lacks and training needs, registered for "wasm" only (and only
 * where tfjs does not already have one, so a future tfjs keeps its own):
 *
 * - UnsortedSegmentSum, the gradient of gather (an embedding lookup):
 *     out[s, :] = Σ_{i : ids[i] = s} x[i, :]   (ids outside [0, numSegments) are dropped, as in TF)
 *   a single pass over x in JavaScript, written straight into the wasm heap.
 * - Conv2DBackpropFilter, the filter gradient of conv2d (NHWC), by im2col and one matrix product:
 *     P[(b,oy,ox), (ky,kx,ci)] = x[b, oy·s_h + ky − pad_top, ox·s_w + kx − pad_left, ci]  (0 outside)
 *     dW = Pᵀ · dY,   dY reshaped to [(b,oy,ox), co]
 *   so the heavy part runs in wasm's own BatchMatMul (XNNPACK).
 *
 * The cpu backend has both; tests check these against it (test/layers/wasmKernels.test.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { MtlError } from "../errors"; // the one module above native/ it may use: it imports nothing
import "./wasmSlice"; // slicing that copies only the slice

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> };

/** The parts of tfjs-backend-wasm's BackendWasm these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object): boolean;
}

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, segmentIds } = inputs;
  const numSegments = attrs.numSegments as number;
  const idsRank = segmentIds.shape.length;
  const count = segmentIds.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(idsRank).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype);
  const o = backend.typedArrayFromHeap(out);
  o.fill(0);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let i = 0; i < count; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xs[src + j];
  }
  return out;
}

function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const { x, dy } = inputs;
  const filterShape = attrs.filterShape as [number, number, number, number];
  const dataFormat = (attrs.dataFormat as string | undefined) ?? "NHWC";
  if (dataFormat !== "NHWC") throw new MtlError("Conv2DBackpropFilter (mtlkit, wasm)", `only NHWC is supported, got ${dataFormat}.`);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    attrs.strides as [number, number],
    1,
    attrs.pad as "same" | "valid" | number,
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    false,
    "channelsLast",
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    strideHeight,
    strideWidth,
    filterHeight,
    filterWidth,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rows = batchSize * outHeight * outWidth;
  const k = filterHeight * filterWidth * inChannels;
  const patches = backend.makeOutput([1, rows, k], "float32");
  const P = backend.typedArrayFromHeap(patches);
  const X = backend.typedArrayFromHeap(x);
  let r = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++, r++) {
        let c = r * k;
        for (let ky = 0; ky < filterHeight; ky++) {
          const iy = oy * strideHeight + ky - top;
          for (let kx = 0; kx < filterWidth; kx++) {
            const ix = ox * strideWidth + kx - left;
            if (iy < 0 || iy >= inHeight || ix < 0 || ix >= inWidth) {
              P.fill(0, c, c + inChannels);
            } else {
              const src = ((b * inHeight + iy) * inWidth + ix) * inChannels;
              for (let ci = 0; ci < inChannels; ci++) P[c + ci] = X[src + ci];
            }
            c += inChannels;
          }
        }
      }
    }
  }
  const matMul = tf.getKernel("BatchMatMul", "wasm")!.kernelFunc;
  const dy3: tf.TensorInfo = { dataId: dy.dataId, shape: [1, rows, outChannels], dtype: dy.dtype };
  const product = matMul({
    inputs: { a: patches, b: dy3 },
    backend: backend as never,
    attrs: { transposeA: true, transposeB: false },
  }) as tf.TensorInfo;
  backend.disposeData(patches.dataId);
  return { dataId: product.dataId, shape: filterShape, dtype: "float32" };
}

const KERNELS: Array<[string, (args: KernelArgs) => tf.TensorInfo]> = [
  ["UnsortedSegmentSum", unsortedSegmentSum],
  ["Conv2DBackpropFilter", conv2DBackpropFilter],
];

let registered = false;

/** Registers the missing training kernels for the wasm backend (idempotent). */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  if (registered) return added;
  registered = true;
  for (const [kernelName, fn] of KERNELS) {
    if (tf.getKernel(kernelName, "wasm")) continue;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: fn as unknown as tf.KernelFunc });
    added.push(kernelName);
  }
  return added;
}

registerWasmTrainingKernels();
