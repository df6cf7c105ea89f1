/**
 * Native convolution and pooling kernels for tfjs's wasm and cpu backends (NHWC, float32):
 * Conv2D, FusedConv2D (with a per-channel bias and a linear or relu activation), Conv2DBackpropInput,
 * Conv2DBackpropFilter (im2col + OpenBLAS sgemm), MaxPool, AvgPool,
 * MaxPoolGrad and AvgPoolGrad (loops in C++), through the addon's `conv2d` and `pool`
 * (native/src/conv_pool.h). On wasm they read and write views of the WebAssembly heap, so nothing
 * is copied. Geometry comes from tfjs's own computeConv2DInfo / computePool2DInfo, so padding
 * ('same', 'valid', explicit), strides, dilations and rounding mean exactly what they mean in tfjs.
 * Anything else (NCHW, another dtype, an empty tensor) goes to the backend's own kernel.
 *
 * MaxPoolGrad sends each window's gradient to its first maximum, as tfjs's cpu kernel does, on both
 * backends. tfjs-wasm 4.22's own MaxPoolGrad differs: it starts its search from 0 rather than −∞, so
 * a window whose values are all negative sends its gradient to its first position, maximum or not,
 * and among equal positive maxima the last wins (test/native/convKernels.test.ts shows both).
 */
import * as tf from "@tensorflow/tfjs";
import type { CpuBackendLike, TensorInfo, WasmBackendLike } from "./views";
import { NativeAddon } from "./addon";
import { NATIVE_ACTIVATIONS } from "./activations";

export type KernelFunc = (args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}) => tf.TensorInfo | tf.TensorInfo[];

/** How many times each native kernel ran rather than deferring (for tests; counting costs nothing). */
export const nativeKernelRuns: Record<string, number> = {};

/**
 * Runs `compute` on float32 views of `inputs` into a fresh output of `outShape`, on either backend.
 * On wasm the output is allocated first: allocation may grow the heap and detach earlier views.
 */
export function runFloat(
  kernelName: string,
  backendName: "wasm" | "cpu",
  backend: unknown,
  inputs: TensorInfo[],
  outShape: number[],
  compute: (views: Float32Array[], out: Float32Array) => void,
): tf.TensorInfo {
  nativeKernelRuns[kernelName] = (nativeKernelRuns[kernelName] ?? 0) + 1;
  if (backendName === "wasm") {
    const wasm = backend as WasmBackendLike;
    const out = wasm.makeOutput(outShape, "float32");
    compute(
      inputs.map((t) => wasm.typedArrayFromHeap(t)),
      wasm.typedArrayFromHeap(out),
    );
    return out as unknown as tf.TensorInfo;
  }
  const cpu = backend as CpuBackendLike;
  const values = new Float32Array(outShape.reduce((a, b) => a * b, 1));
  compute(
    inputs.map((t) => cpu.data.get(t.dataId).values),
    values,
  );
  return cpu.makeTensorInfo(outShape, "float32", values) as unknown as tf.TensorInfo;
}

const isFloat = (...ts: TensorInfo[]) => ts.every((t) => t.dtype === "float32" && t.shape.length === 4 && t.shape.every((d) => d > 0));
const isNhwc = (attrs?: tf.NamedAttrMap) => ((attrs?.dataFormat as string | undefined) ?? "NHWC") === "NHWC";
const NO_ARRAY = new Float32Array(0);

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;
type Pad = Parameters<typeof tf.backend_util.computeConv2DInfo>[4];
type Rounding = Parameters<typeof tf.backend_util.computeConv2DInfo>[5];

function convGeometry(c: Conv2DInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.outChannels,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.dilationHeight,
    c.dilationWidth,
    c.padInfo.top,
    c.padInfo.left,
  ];
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  attrs: tf.NamedAttrMap | undefined,
  dilations: number | [number, number],
): Conv2DInfo | undefined {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs?.strides as [number, number],
    dilations,
    attrs?.pad as Pad,
    attrs?.dimRoundingMode as Rounding,
    false,
    "channelsLast",
  );
  // Negative pads (possible only with odd explicit pads) or an empty output: tfjs's own kernel.
  if (info.padInfo.top < 0 || info.padInfo.left < 0 || info.outHeight <= 0 || info.outWidth <= 0) return undefined;
  return info;
}

function poolGeometry(c: Conv2DInfo): number[] {
  return [
    c.batchSize,
    c.inHeight,
    c.inWidth,
    c.inChannels,
    c.outHeight,
    c.outWidth,
    c.filterHeight,
    c.filterWidth,
    c.strideHeight,
    c.strideWidth,
    c.padInfo.top,
    c.padInfo.left,
  ];
}

function poolInfo(xShape: number[], attrs: tf.NamedAttrMap | undefined): Conv2DInfo | undefined {
  const info = tf.backend_util.computePool2DInfo(
    xShape as [number, number, number, number],
    attrs?.filterSize as [number, number],
    attrs?.strides as [number, number],
    1,
    attrs?.pad as Pad,
    attrs?.dimRoundingMode as Rounding,
  );
  if (info.padInfo.top < 0 || info.padInfo.left < 0 || info.outHeight <= 0 || info.outWidth <= 0) return undefined;
  return info;
}

/** Kernel name → a native kernel that defers to `fallback` for what it does not handle. */
export function convPoolKernels(backendName: "wasm" | "cpu", addon: NativeAddon): Record<string, (fallback: KernelFunc) => KernelFunc> {
  // Max and average pooling differ only in the addon's mode (0: max, 1: average).
  const poolForward =
    (name: string, mode: 0 | 1, fallback: KernelFunc): KernelFunc =>
    (args) => {
      const x = args.inputs.x as unknown as TensorInfo;
      const info = isFloat(x) ? poolInfo(x.shape, args.attrs) : undefined;
      if (!info) return fallback(args);
      return runFloat(name, backendName, args.backend, [x], info.outShape, ([xv], out) =>
        addon.pool(mode, xv, NO_ARRAY, out, poolGeometry(info)),
      );
    };
  return {
    FusedConv2D: (fallback) => (args) => {
      // The convolution, then its bias (one per output channel) and a linear or relu activation in
      // one pass; prelu, leaky relu and other biases go to tfjs's kernel.
      const x = args.inputs.x as unknown as TensorInfo;
      const filter = args.inputs.filter as unknown as TensorInfo;
      const bias = args.inputs.bias as unknown as TensorInfo | undefined;
      const activation = NATIVE_ACTIVATIONS.get((args.attrs?.activation as string | undefined) ?? "linear");
      if (!isFloat(x, filter) || !isNhwc(args.attrs) || activation === undefined || args.inputs.preluActivationWeights)
        return fallback(args);
      const info = convInfo(x.shape, filter.shape, args.attrs, (args.attrs?.dilations as number | [number, number] | undefined) ?? 1);
      if (!info || (bias && (bias.dtype !== "float32" || bias.shape.length !== 1 || bias.shape[0] !== info.outChannels)))
        return fallback(args);
      const rows = info.batchSize * info.outHeight * info.outWidth;
      return runFloat(
        "FusedConv2D",
        backendName,
        args.backend,
        bias ? [x, filter, bias] : [x, filter],
        info.outShape,
        ([xv, fv, bv], out) => {
          addon.conv2d(0, xv, fv, out, convGeometry(info));
          addon.biasActivation(out, rows, info.outChannels, bv ?? null, activation);
        },
      );
    },
    Conv2D: (fallback) => (args) => {
      const x = args.inputs.x as unknown as TensorInfo;
      const filter = args.inputs.filter as unknown as TensorInfo;
      if (!isFloat(x, filter) || !isNhwc(args.attrs)) return fallback(args);
      const info = convInfo(x.shape, filter.shape, args.attrs, (args.attrs?.dilations as number | [number, number] | undefined) ?? 1);
      if (!info) return fallback(args);
      return runFloat("Conv2D", backendName, args.backend, [x, filter], info.outShape, ([xv, fv], out) =>
        addon.conv2d(0, xv, fv, out, convGeometry(info)),
      );
    },
    Conv2DBackpropInput: (fallback) => (args) => {
      const dy = args.inputs.dy as unknown as TensorInfo;
      const filter = args.inputs.filter as unknown as TensorInfo;
      const inputShape = args.attrs?.inputShape as number[];
      if (!isFloat(dy, filter) || !isNhwc(args.attrs) || inputShape.some((d) => d <= 0)) return fallback(args);
      const info = convInfo(inputShape, filter.shape, args.attrs, 1);
      if (!info || info.outShape.join() !== dy.shape.join()) return fallback(args);
      return runFloat("Conv2DBackpropInput", backendName, args.backend, [dy, filter], [...inputShape], ([dv, fv], out) =>
        addon.conv2d(1, dv, fv, out, convGeometry(info)),
      );
    },
    Conv2DBackpropFilter: (fallback) => (args) => {
      const x = args.inputs.x as unknown as TensorInfo;
      const dy = args.inputs.dy as unknown as TensorInfo;
      const filterShape = args.attrs?.filterShape as number[];
      if (!isFloat(x, dy) || !isNhwc(args.attrs) || filterShape.some((d) => d <= 0)) return fallback(args);
      const info = convInfo(x.shape, filterShape, args.attrs, 1);
      if (!info || info.outShape.join() !== dy.shape.join()) return fallback(args);
      return runFloat("Conv2DBackpropFilter", backendName, args.backend, [x, dy], [...filterShape], ([xv, dv], out) =>
        addon.conv2d(2, xv, dv, out, convGeometry(info)),
      );
    },
    MaxPool: (fallback) => poolForward("MaxPool", 0, fallback),
    AvgPool: (fallback) => poolForward("AvgPool", 1, fallback),
    MaxPoolGrad: (fallback) => (args) => {
      const dy = args.inputs.dy as unknown as TensorInfo;
      const x = args.inputs.input as unknown as TensorInfo;
      const info = isFloat(dy, x) ? poolInfo(x.shape, args.attrs) : undefined;
      if (!info || info.outShape.join() !== dy.shape.join()) return fallback(args);
      return runFloat("MaxPoolGrad", backendName, args.backend, [x, dy], x.shape, ([xv, dv], out) =>
        addon.pool(2, xv, dv, out, poolGeometry(info)),
      );
    },
    AvgPoolGrad: (fallback) => (args) => {
      const dy = args.inputs.dy as unknown as TensorInfo;
      const x = args.inputs.input as unknown as TensorInfo;
      const info = isFloat(dy, x) ? poolInfo(x.shape, args.attrs) : undefined;
      if (!info || info.outShape.join() !== dy.shape.join()) return fallback(args);
      return runFloat("AvgPoolGrad", backendName, args.backend, [dy], x.shape, ([dv], out) =>
        addon.pool(3, dv, NO_ARRAY, out, poolGeometry(info)),
      );
    },
  };
}
