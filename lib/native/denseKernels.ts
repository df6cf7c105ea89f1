/**
 * Native kernels around dense layers for tfjs's wasm and cpu backends (float32), through the addon's
 * `fusedGemm`, `denseGrad` and `reduceSum` (native/src/dense.h):
 *
 * - `_FusedMatMul` (tfjs's matmul + bias + activation): one sgemm, then the bias and the activation
 *   in one pass over the product, for a bias over the last axis and a linear or relu activation;
 *   anything else (prelu, leaky relu, another bias shape, another dtype) goes to tfjs's kernel.
 * - `Sum` over leading or trailing axes (a bias gradient is a sum over rows): one pass, accumulated
 *   in double in index order as tfjs's cpu kernel does (so it matches it bit for bit; tfjs-wasm's
 *   own transposes first and sums in float32, and leaves the output of an empty input unwritten,
 *   where this one gives zeros). Other axis sets and dtypes go to tfjs's kernel.
 * - `MtlkitDenseGrad` (mtlkit's own, no tfjs counterpart): from a dense layer's output gradient dy
 *   and, for relu, its output y, the pre-activation gradient dz = dy · step(y) (tfjs's relu
 *   gradient) and the bias gradient db = Σ_rows dz, in one pass: what tfjs forms with Cast, Step,
 *   Multiply and Sum (lib/ops/linear.ts uses it while these kernels are registered).
 *
 * On wasm they read and write views of the WebAssembly heap, so nothing is copied.
 */
import * as tf from "@tensorflow/tfjs";
import type { CpuBackendLike, TensorInfo, WasmBackendLike } from "./views";
import { MtlError } from "../errors";
import { NativeAddon } from "./addon";
import { KernelFunc, nativeKernelRuns, runFloat } from "./convKernels";
import { NATIVE_ACTIVATIONS } from "./activations";
import { plan } from "./matmulPlan";

/** mtlkit's kernel: inputs { dy, y? }, attrs { activation: "linear" | "relu", bias: boolean }; outputs [dz] (relu), [db] (bias), in that order. */
export const DENSE_GRAD = "MtlkitDenseGrad";

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Like runFloat, for several outputs: all are allocated before any view is taken (wasm heap growth). */
function runFloatOutputs(
  kernelName: string,
  backendName: "wasm" | "cpu",
  backend: unknown,
  inputs: TensorInfo[],
  outShapes: number[][],
  compute: (views: Float32Array[], outs: Float32Array[]) => void,
): tf.TensorInfo[] {
  nativeKernelRuns[kernelName] = (nativeKernelRuns[kernelName] ?? 0) + 1;
  if (backendName === "wasm") {
    const wasm = backend as WasmBackendLike;
    const outs = outShapes.map((s) => wasm.makeOutput(s, "float32"));
    compute(
      inputs.map((t) => wasm.typedArrayFromHeap(t)),
      outs.map((t) => wasm.typedArrayFromHeap(t)),
    );
    return outs as unknown as tf.TensorInfo[];
  }
  const cpu = backend as CpuBackendLike;
  const values = outShapes.map((s) => new Float32Array(size(s)));
  compute(
    inputs.map((t) => cpu.data.get(t.dataId).values),
    values,
  );
  return outShapes.map((s, i) => cpu.makeTensorInfo(s, "float32", values[i])) as unknown as tf.TensorInfo[];
}

/** A bias the native kernel adds: float32, n values, every axis but the last of size 1, rank at most the output's. */
function biasFits(bias: TensorInfo | undefined, n: number, outRank: number): boolean {
  if (!bias) return true;
  const s = bias.shape;
  return bias.dtype === "float32" && s.length >= 1 && s.length <= outRank && s[s.length - 1] === n && size(s) === n;
}

/** Leading (mode 0) or trailing (mode 1) reduced axes of `shape`, or undefined. */
function sumPlan(shape: number[], axes: number[]): { outer: number; inner: number; mode: 0 | 1 } | undefined {
  const rank = shape.length;
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  const r = sorted.length;
  if (r === 0 || rank === 0) return undefined;
  if (sorted.every((a, i) => a === i)) return { outer: size(shape.slice(0, r)), inner: size(shape.slice(r)), mode: 0 };
  if (sorted.every((a, i) => a === rank - r + i))
    return { outer: size(shape.slice(0, rank - r)), inner: size(shape.slice(rank - r)), mode: 1 };
  return undefined;
}

/** The dense-layer kernels that replace tfjs's (`_FusedMatMul`, `Sum`), as factories of their fallback. */
export function denseKernels(backendName: "wasm" | "cpu", addon: NativeAddon): Record<string, (fallback: KernelFunc) => KernelFunc> {
  return {
    _FusedMatMul: (fallback) => (args) => {
      const a = args.inputs.a as unknown as TensorInfo;
      const b = args.inputs.b as unknown as TensorInfo;
      const bias = args.inputs.bias as unknown as TensorInfo | undefined;
      const activation = NATIVE_ACTIVATIONS.get((args.attrs?.activation as string | undefined) ?? "linear");
      const p = plan(a, b, Boolean(args.attrs?.transposeA), Boolean(args.attrs?.transposeB));
      if (!p || activation === undefined || args.inputs.preluActivationWeights || !biasFits(bias, p.n, p.outShape.length))
        return fallback(args);
      const inputs = bias ? [a, b, bias] : [a, b];
      return runFloat("_FusedMatMul", backendName, args.backend, inputs, p.outShape, ([av, bv, biasView], out) =>
        addon.fusedGemm(p.transA, p.transB, p.batch, p.m, p.n, p.k, av, p.strideA, bv, p.strideB, out, biasView ?? null, activation),
      );
    },
    Sum: (fallback) => (args) => {
      const x = args.inputs.x as unknown as TensorInfo;
      if (x.dtype !== "float32") return fallback(args);
      const axes = tf.util.parseAxisParam(args.attrs?.axis as number | number[], x.shape);
      const s = sumPlan(x.shape, axes);
      const keep = Boolean(args.attrs?.keepDims);
      const outShape = x.shape.map((d, i) => (axes.includes(i) ? (keep ? 1 : -1) : d)).filter((d) => d >= 0);
      // An empty input sums to zeros here (tfjs-wasm 4.22's own kernel leaves its output unwritten).
      if (!s || size(outShape) === 0) return fallback(args);
      return runFloat("Sum", backendName, args.backend, [x], outShape, ([xv], out) => addon.reduceSum(xv, s.outer, s.inner, s.mode, out));
    },
  };
}

/** mtlkit's own dense-layer kernels (no tfjs kernel to fall back on): registered with the native kernels. */
export function denseOwnKernels(backendName: "wasm" | "cpu", addon: NativeAddon): Record<string, KernelFunc> {
  return {
    [DENSE_GRAD]: (args) => {
      const dy = args.inputs.dy as unknown as TensorInfo;
      const y = args.inputs.y as unknown as TensorInfo | undefined;
      const activation = NATIVE_ACTIVATIONS.get(args.attrs?.activation as string);
      const withBias = Boolean(args.attrs?.bias);
      const rank = dy.shape.length;
      if (
        activation === undefined ||
        dy.dtype !== "float32" ||
        rank < 1 ||
        (activation === 1 && (!y || y.shape.join() !== dy.shape.join()))
      )
        throw new MtlError(DENSE_GRAD, "needs a float32 dy, activation 'linear' or 'relu' and, for relu, y of dy's shape.");
      const cols = dy.shape[rank - 1];
      const rows = size(dy.shape) / Math.max(cols, 1);
      const outShapes: number[][] = [];
      if (activation === 1) outShapes.push([...dy.shape]);
      if (withBias) outShapes.push([cols]);
      const inputs = activation === 1 ? [dy, y!] : [dy];
      return runFloatOutputs(DENSE_GRAD, backendName, args.backend, inputs, outShapes, ([dyv, yv], outs) => {
        const dz = activation === 1 ? outs[0] : null;
        const db = withBias ? outs[outs.length - 1] : null;
        addon.denseGrad(dyv, yv ?? null, rows, cols, activation, dz, db);
      });
    },
  };
}
