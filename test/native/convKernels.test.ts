/**
 * The native convolution and pooling kernels (lib/native/convKernels.ts, native/src/conv_pool.cc)
 * against each backend's own kernels: forward values and both gradients, to float32 rounding, over
 * odd shapes, strides, 'same' / 'valid' / explicit padding, dilation, batch 1 and > 1, one and
 * several channels, and ties in max pooling (the first maximum takes the gradient on cpu, the last on
 * wasm, as each backend's own kernel does).
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { nativeKernelRuns } from "../../lib/native/convKernels";
import { eachBackend, setBackend } from "../helpers/backends";

const { status } = loadNative();

/** Native runs of these kernels so far. */
const runs = (...names: string[]) => names.reduce((n, k) => n + (nativeKernelRuns[k] ?? 0), 0);
const CONV = ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"];
const POOL = ["MaxPool", "AvgPool", "MaxPoolGrad", "AvgPoolGrad"];

function maxRelativeError(a: tf.Tensor, b: tf.Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    if (Number.isNaN(y[i]) && Number.isNaN(x[i])) continue;
    worst = Math.max(worst, Math.abs(x[i] - y[i]) / Math.max(1, Math.abs(y[i])));
  }
  return worst;
}

/** f(x, w) forward, and the gradients of Σ f(x, w)·dy with respect to both (dy fixed, seeded). */
function valueAndGrads(f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D, x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor[] {
  return tf.tidy(() => {
    const y = f(x, w);
    const dy = tf.randomNormal(y.shape, 0, 1, "float32", 7);
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a as tf.Tensor4D, b as tf.Tensor4D), dy)))([x, w]);
    return [y, dx, dw];
  });
}

type ConvCase = [
  number[],
  number[],
  number | [number, number],
  "same" | "valid" | [[number, number], [number, number], [number, number], [number, number]],
  number | [number, number],
];

const CONV_CASES: ConvCase[] = [
  [[1, 5, 7, 1], [3, 3, 1, 2], 1, "same", 1],
  [[3, 9, 8, 3], [3, 2, 3, 4], [2, 1], "same", 1],
  [[2, 11, 10, 2], [5, 3, 2, 3], [2, 3], "valid", 1],
  [[4, 7, 7, 1], [3, 3, 1, 1], 3, "same", 1],
  [[2, 6, 6, 4], [1, 1, 4, 3], 1, "valid", 1],
  [
    [2, 8, 9, 3],
    [3, 3, 3, 2],
    2,
    [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
    1,
  ],
  [[5, 28, 28, 1], [3, 3, 1, 16], 1, "same", 1],
];

// tfjs has no gradient for dilated convolutions: forward only.
const DILATED: ConvCase[] = [
  [[2, 9, 10, 3], [3, 2, 3, 2], 1, "valid", [2, 3]],
  [[1, 8, 8, 2], [3, 3, 2, 4], 1, "same", 2],
];

type PoolCase = {
  shape: number[];
  size: number | [number, number];
  strides: number | [number, number];
  pad: "same" | "valid" | number;
  rounding?: "floor" | "round" | "ceil";
};

const POOL_CASES: PoolCase[] = [
  { shape: [1, 5, 7, 1], size: 2, strides: 2, pad: "valid" },
  { shape: [3, 9, 8, 3], size: 3, strides: 2, pad: "same" },
  { shape: [2, 7, 6, 4], size: [2, 3], strides: [1, 2], pad: "same" },
  { shape: [2, 6, 6, 5], size: 3, strides: 1, pad: "valid" },
  { shape: [2, 9, 9, 2], size: 3, strides: 2, pad: 1, rounding: "ceil" },
  { shape: [4, 28, 28, 16], size: 2, strides: 2, pad: "valid" },
];

describe.runIf(status.available)("native convolution and pooling kernels", () => {
  afterAll(() => disableNativeKernels());

  eachBackend((backend) => {
    it(`Conv2D and both its gradients equal ${backend}'s own`, () => {
      for (const [xShape, wShape, strides, pad] of CONV_CASES) {
        const x = tf.randomNormal(xShape as [number, number, number, number], 0, 1, "float32", 1) as tf.Tensor4D;
        const w = tf.randomNormal(wShape as [number, number, number, number], 0, 1, "float32", 2) as tf.Tensor4D;
        const f = (a: tf.Tensor4D, b: tf.Tensor4D) => tf.conv2d(a, b, strides, pad);
        disableNativeKernels();
        const expected = valueAndGrads(f, x, w);
        enableNativeKernels();
        const calls = runs(...CONV);
        const before = tf.memory().numTensors;
        const actual = valueAndGrads(f, x, w);
        expect(tf.memory().numTensors - before).toBe(3); // the three results, nothing else
        expect(runs(...CONV) - calls, `native runs for ${xShape} * ${wShape}`).toBe(4); // forward twice (value, tape)
        actual.forEach((t, i) =>
          expect(
            maxRelativeError(t, expected[i]),
            `${["y", "dx", "dw"][i]} of ${xShape} * ${wShape}, ${strides}, ${JSON.stringify(pad)}`,
          ).toBeLessThan(1e-4),
        );
        tf.dispose([x, w, ...expected, ...actual]);
      }
    });

    it(`dilated Conv2D equals ${backend}'s own`, () => {
      for (const [xShape, wShape, strides, pad, dilations] of DILATED) {
        const x = tf.randomNormal(xShape as [number, number, number, number], 0, 1, "float32", 3) as tf.Tensor4D;
        const w = tf.randomNormal(wShape as [number, number, number, number], 0, 1, "float32", 4) as tf.Tensor4D;
        disableNativeKernels();
        const expected = tf.conv2d(x, w, strides, pad as "same", "NHWC", dilations);
        enableNativeKernels();
        const actual = tf.conv2d(x, w, strides, pad as "same", "NHWC", dilations);
        expect(maxRelativeError(actual, expected)).toBeLessThan(1e-5);
        tf.dispose([x, w, expected, actual]);
      }
    });

    /** The pooling's value and gradient, native or the backend's own. */
    const pooled = (kind: "max" | "avg", c: PoolCase, x: tf.Tensor4D, native: boolean) => {
      if (native) enableNativeKernels();
      else disableNativeKernels();
      const pool = (a: tf.Tensor4D) =>
        kind === "max" ? tf.maxPool(a, c.size, c.strides, c.pad, c.rounding) : tf.avgPool(a, c.size, c.strides, c.pad, c.rounding);
      return tf.tidy(() => {
        const y = pool(x);
        const dy = tf.randomNormal(y.shape, 0, 1, "float32", 6);
        return [y, tf.grad((a: tf.Tensor) => tf.sum(tf.mul(pool(a as tf.Tensor4D), dy)))(x)];
      });
    };

    for (const kind of ["max", "avg"] as const) {
      it(`${kind} pooling and its gradient equal ${backend}'s own`, () => {
        for (const c of POOL_CASES) {
          // Positive values without ties: tfjs-wasm's own MaxPoolGrad is wrong for all-negative windows
          // and breaks ties its own way (see lib/native/convKernels.ts); the next test covers those.
          const x = tf.tidy(() => tf.add(tf.abs(tf.randomNormal(c.shape, 0, 1, "float32", 5)), 0.1)) as tf.Tensor4D;
          const expected = pooled(kind, c, x, false);
          const calls = runs(...POOL);
          const actual = pooled(kind, c, x, true);
          expect(runs(...POOL) - calls).toBe(3); // forward twice (value, tape), gradient once
          actual.forEach((t, i) =>
            expect(maxRelativeError(t, expected[i]), `${["y", "dx"][i]} of ${JSON.stringify(c)}`).toBeLessThan(1e-6),
          );
          tf.dispose([x, ...expected, ...actual]);
        }
      });
    }

    it("max pooling's gradient goes to each window's first maximum, as tfjs's cpu kernel (any signs, many ties)", async () => {
      for (const c of POOL_CASES) {
        // Rounded values of both signs: many ties inside each window, and all-negative windows.
        const values = tf.tidy(() => tf.round(tf.mul(tf.randomNormal(c.shape, 0, 1, "float32", 8), 2)).dataSync());
        await setBackend("cpu");
        const xc = tf.tensor4d(values, c.shape as [number, number, number, number]);
        const reference = pooled("max", c, xc, false).map((t) => tf.tensor(t.dataSync(), t.shape));
        await setBackend(backend);
        const x = tf.tensor4d(values, c.shape as [number, number, number, number]);
        const actual = pooled("max", c, x, true);
        actual.forEach((t, i) => expect(maxRelativeError(t, reference[i]), `${["y", "dx"][i]} of ${JSON.stringify(c)}`).toBeLessThan(1e-6));
        tf.dispose([x, ...actual]);
        await setBackend("cpu");
        tf.dispose([xc, ...reference]);
        await setBackend(backend);
      }
    });

    it("leaves NCHW and integer inputs to the backend's own kernels", () => {
      enableNativeKernels();
      const calls = runs(...POOL, ...CONV);
      const xi = tf.tensor4d([1, 5, 3, 2], [1, 2, 2, 1], "int32");
      if (backend === "cpu") expect(Array.from(tf.maxPool(xi, 2, 1, "valid").dataSync())).toEqual([5]);
      tf.dispose(xi);
      expect(runs(...POOL, ...CONV)).toBe(calls);
    });
  });
});
