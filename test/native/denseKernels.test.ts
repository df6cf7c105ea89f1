/**
 * The native dense-layer kernels (lib/native/denseKernels.ts) against tfjs's own, on wasm and cpu:
 * `_FusedMatMul` and `Sum` against the backend's kernels they replace (the same call with native
 * kernels off), `MtlkitDenseGrad` against the tfjs ops it stands for (relu's gradient
 * dy · step(x) and the bias gradient Σ_rows), and lib/ops/linear's fused layer against tfjs's
 * autodiff of relu(x·W + b): values to float32 rounding, odd shapes, transposes, batches, with and
 * without bias and activation; what they do not handle goes to tfjs's kernel. Without the kernels
 * (no addon, or turned off) the layer takes tfjs's ops. Likewise `FusedConv2D` (convolution, bias
 * and relu) against the backends' own, and mtlkit's Conv2d layer, fused, against tfjs's autodiff.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { nativeKernelRuns } from "../../lib/native/convKernels";
import { DENSE_GRAD } from "../../lib/native/denseKernels";
import { Conv2d } from "../../lib/layers/conv2d";
import { linear } from "../../lib/ops/linear";
import { Rng } from "../../lib/random";
import { eachBackend } from "../helpers/backends";

const { status } = loadNative();

function maxRelativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
      if (!(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return Infinity;
      continue;
    }
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  }
  return worst;
}

/** f with tfjs's own kernels, then with the native ones; how many times `kernel` ran natively in the second. */
function ownThenNative<T extends tf.Tensor | tf.Tensor[]>(kernel: string, f: () => T): { own: T; native: T; runs: number } {
  disableNativeKernels();
  const own = f();
  enableNativeKernels();
  const before = nativeKernelRuns[kernel] ?? 0;
  const native = f();
  return { own, native, runs: (nativeKernelRuns[kernel] ?? 0) - before };
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe("the dense layer without native kernels", () => {
  eachBackend((backend) => {
    it(`without the native kernels the layer takes tfjs's ops on ${backend} (as without the addon)`, () => {
      disableNativeKernels();
      expect(tf.getKernel(DENSE_GRAD, backend)).toBeUndefined();
      const x = tf.tensor2d([1, -2, 3, -4], [2, 2]);
      const w = tf.tensor2d([1, 0, 0, 1], [2, 2]);
      const b = tf.tensor1d([0.5, 0.5]);
      const runs = nativeKernelRuns._FusedMatMul ?? 0;
      const [dx, dw, db] = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D, "relu")),
      )([x, w, b]);
      expect(values(linear(x, w, b, "relu"))).toEqual([1.5, 0, 3.5, 0]);
      expect(values(dx)).toEqual([1, 0, 1, 0]);
      expect(values(dw)).toEqual([4, 0, -6, 0]);
      expect(values(db)).toEqual([2, 0]);
      expect(nativeKernelRuns._FusedMatMul ?? 0).toBe(runs);
      tf.dispose([x, w, b, dx, dw, db]);
      // With the addon they come back; without it (MTLKIT_NATIVE=0, not built) nothing registers.
      expect(enableNativeKernels().enabled.includes(backend as "wasm" | "cpu")).toBe(status.available);
      expect(tf.getKernel(DENSE_GRAD, backend) !== undefined).toBe(status.available);
      disableNativeKernels();
    });
  });
});

describe.runIf(status.available)("sumOfSquares (the gradient-norm check)", () => {
  it("equals a sequential double sum for every length, and propagates NaN and ∞", () => {
    const addon = status.available ? loadNative().addon! : undefined;
    let seed = 5;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
    for (const n of [0, 1, 7, 8, 9, 17, 1000, 100003]) {
      const arrays = [Float32Array.from({ length: n }, next), Float32Array.from({ length: (n % 5) + 1 }, next)];
      let expected = 0;
      for (const a of arrays) for (const v of a) expected += v * v;
      const got = addon!.sumOfSquares(arrays);
      expect(Math.abs(got - expected) / Math.max(expected, 1e-30), `n ${n}`).toBeLessThan(1e-11); // both are double sums of ≤ 10⁵ terms; float32 ε is 6e-8
    }
    expect(addon!.sumOfSquares([new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, Number.NaN])])).toBeNaN();
    expect(addon!.sumOfSquares([new Float32Array([1, Number.NEGATIVE_INFINITY, 3])])).toBe(Number.POSITIVE_INFINITY);
    expect(addon!.sumOfSquares([new Float32Array([3, 4]), new Float32Array(0)])).toBe(25);
  });
});

describe.runIf(status.available)("native dense kernels", () => {
  afterAll(() => disableNativeKernels());

  eachBackend((backend) => {
    it(`_FusedMatMul equals ${backend}'s own: transposes, batches, odd shapes, bias, relu`, () => {
      const cases: Array<[number[], number[], boolean, boolean]> = [
        [[7, 5], [5, 3], false, false],
        [[5, 7], [5, 3], true, false],
        [[7, 5], [3, 5], false, true],
        [[5, 7], [3, 5], true, true],
        [[1, 1], [1, 1], false, false],
        [[33, 1], [1, 17], false, false],
        [[4, 6, 5], [4, 5, 2], false, false],
        [[3, 6, 5], [5, 9], false, false],
        [[65, 130], [130, 67], false, false],
      ];
      let seed = 1;
      for (const [sa, sb, ta, tb] of cases) {
        const a = tf.randomNormal(sa, 0, 1, "float32", seed++);
        const b = tf.randomNormal(sb, 0, 1, "float32", seed++);
        const n = tb ? sb[sb.length - 2] : sb[sb.length - 1];
        // tfjs-wasm's own kernel takes only a rank-1 bias; cpu's also [1, n].
        const biases = [undefined, tf.randomNormal([n], 0, 1, "float32", seed++)];
        if (backend === "cpu") biases.push(tf.randomNormal([1, n], 0, 1, "float32", seed++));
        for (const bias of biases) {
          for (const activation of ["linear", "relu"] as const) {
            const what = `${sa}×${sb} ${ta}/${tb} bias ${bias?.shape ?? "none"} ${activation}`;
            // tfjs-wasm 4.22's own kernel adds the bias wrongly when an operand is transposed (with
            // transposeA, bias[i] lands on row i) or batched (cpu's agrees with the native one
            // there): on wasm those cases' reference is its unfused ops.
            const unfused = backend === "wasm" && bias !== undefined && (ta || tb || sa.length > 2 || sb.length > 2);
            const { own, native, runs } = ownThenNative("_FusedMatMul", () =>
              unfused
                ? tf.tidy(() => {
                    const affine = tf.add(tf.matMul(a, b, ta, tb), bias!);
                    return activation === "relu" ? tf.relu(affine) : affine;
                  })
                : tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation }),
            );
            expect(runs, what).toBe(unfused ? 0 : 1);
            expect(native.shape, what).toEqual(own.shape);
            expect(maxRelativeError(values(native), values(own)), what).toBeLessThan(1e-4);
            if (activation === "relu") expect(values(native).every((v) => v >= 0)).toBe(true);
            tf.dispose([own, native]);
          }
        }
        tf.dispose([a, b, ...biases.filter((t) => t !== undefined)]);
      }
    });

    it(`_FusedMatMul leaves to ${backend}'s own what it does not handle, with the same result`, () => {
      const a = tf.randomNormal([6, 4], 0, 1, "float32", 11);
      const b = tf.randomNormal([4, 5], 0, 1, "float32", 12);
      const matrixBias = tf.randomNormal([6, 5], 0, 1, "float32", 13);
      const alpha = tf.randomNormal([5], 0, 1, "float32", 14);
      const calls: Array<() => tf.Tensor> = [
        () => tf.fused.matMul({ a, b, activation: "elu" }),
        () => tf.fused.matMul({ a, b, activation: "leakyrelu", leakyreluAlpha: 0.2 }),
        () => tf.fused.matMul({ a, b, activation: "prelu", preluActivationWeights: alpha }),
      ];
      // A bias over both axes (tfjs-wasm's own kernel refuses it: rank-1 only).
      if (backend === "cpu") calls.push(() => tf.fused.matMul({ a, b, bias: matrixBias, activation: "relu" }));
      for (const call of calls) {
        const { own, native, runs } = ownThenNative("_FusedMatMul", call);
        expect(runs).toBe(0);
        expect(values(native)).toEqual(values(own));
        tf.dispose([own, native]);
      }
      tf.dispose([a, b, matrixBias, alpha]);
    });

    it(`Sum over leading or trailing axes equals ${backend}'s own; other axes and dtypes go to it`, () => {
      const x = tf.randomNormal([5, 3, 7], 0, 1, "float32", 21);
      const native: Array<[number | number[] | undefined, boolean]> = [
        [0, false],
        [[0, 1], false],
        [2, false],
        [-1, true],
        [[1, 2], false],
        [undefined, false],
        [[0, 1, 2], true],
        [[1, 0], true],
      ];
      for (const [axis, keepDims] of native) {
        const what = `axis ${axis} keepDims ${keepDims}`;
        const r = ownThenNative("Sum", () => tf.sum(x, axis, keepDims));
        expect(r.runs, what).toBe(1);
        expect(r.native.shape, what).toEqual(r.own.shape);
        // Double accumulation in index order: cpu's own kernel bit for bit, wasm's (float32) to rounding.
        if (backend === "cpu") expect(values(r.native), what).toEqual(values(r.own));
        else expect(maxRelativeError(values(r.native), values(r.own)), what).toBeLessThan(1e-5);
        tf.dispose([r.own, r.native]);
      }
      const ints = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3], "int32");
      const fallbacks: Array<() => tf.Tensor> = [() => tf.sum(x, 1), () => tf.sum(x, [0, 2]), () => tf.sum(ints, 0)];
      for (const call of fallbacks) {
        const r = ownThenNative("Sum", call);
        expect(r.runs).toBe(0);
        expect(r.native.dtype).toBe(r.own.dtype);
        expect(values(r.native)).toEqual(values(r.own));
        tf.dispose([r.own, r.native]);
      }
      // Empty input: zeros (tfjs-wasm's own kernel leaves them unwritten; cpu's gives zeros).
      const empty = tf.zeros([0, 3]);
      const r = ownThenNative("Sum", () => tf.sum(empty, 0));
      expect(r.runs).toBe(1);
      expect(values(r.native)).toEqual([0, 0, 0]);
      if (backend === "cpu") expect(values(r.own)).toEqual([0, 0, 0]);
      tf.dispose([x, ints, empty, r.own, r.native]);
    });

    it(`MtlkitDenseGrad equals tfjs's relu and bias gradients on ${backend}, zeros, −0 and NaN included`, () => {
      enableNativeKernels();
      for (const [rows, cols] of [
        [1, 1],
        [7, 3],
        [64, 129],
      ]) {
        const dy = tf.randomNormal([rows, cols], 0, 1, "float32", rows + cols);
        const raw = Array.from(tf.randomNormal([rows, cols], 0, 1, "float32", rows * cols).dataSync());
        // Exact zeros and a NaN among the pre-activations.
        for (let i = 0; i < raw.length; i += 5) raw[i] = 0;
        if (raw.length > 3) raw[3] = NaN;
        const z = tf.tensor2d(raw, [rows, cols]);
        const y = tf.relu(z);
        const [dz, db] = tf.engine().runKernel(DENSE_GRAD, { dy, y }, { activation: "relu", bias: true }) as tf.Tensor[];
        const expectedDz = tf.mul(dy, tf.step(tf.cast(z, "float32")));
        expect(dz.shape).toEqual([rows, cols]);
        expect(db.shape).toEqual([cols]);
        expect(Object.is(values(dz)[0], values(expectedDz)[0])).toBe(true); // dy · 0 keeps −0 where tfjs does
        expect(values(dz).map(String)).toEqual(values(expectedDz).map(String));
        disableNativeKernels();
        const expectedDb = tf.sum(expectedDz, 0);
        const expectedLinearDb = tf.sum(dy, 0);
        enableNativeKernels();
        expect(maxRelativeError(values(db), values(expectedDb))).toBeLessThan(1e-5);
        const onlyDz = tf.engine().runKernel(DENSE_GRAD, { dy, y }, { activation: "relu", bias: false }) as tf.Tensor[];
        expect(onlyDz.length).toBe(1);
        expect(values(onlyDz[0]).map(String)).toEqual(values(expectedDz).map(String));
        const onlyDb = tf.engine().runKernel(DENSE_GRAD, { dy }, { activation: "linear", bias: true }) as tf.Tensor[];
        expect(onlyDb.length).toBe(1);
        expect(maxRelativeError(values(onlyDb[0]), values(expectedLinearDb))).toBeLessThan(1e-5);
        tf.dispose([dy, z, y, dz, db, expectedDz, expectedDb, expectedLinearDb, ...onlyDz, ...onlyDb]);
      }
      const dy = tf.ones([2, 2]);
      expect(() => tf.engine().runKernel(DENSE_GRAD, { dy }, { activation: "relu", bias: true })).toThrow(/MtlkitDenseGrad/);
      expect(() => tf.engine().runKernel(DENSE_GRAD, { dy }, { activation: "tanh", bias: true })).toThrow(/MtlkitDenseGrad/);
      expect(() => tf.engine().runKernel(DENSE_GRAD, { dy }, { activation: "toString", bias: true })).toThrow(/MtlkitDenseGrad/);
      dy.dispose();
    });

    it(`the fused layer's value and gradients equal tfjs's autodiff on ${backend}, and it leaks nothing`, () => {
      let seed = 31;
      for (const [batch, inputs, units] of [
        [1, 1, 1],
        [9, 5, 3],
        [64, 33, 130],
      ]) {
        const x = tf.randomNormal([batch, inputs], 0, 1, "float32", seed++) as tf.Tensor2D;
        const w = tf.randomNormal([inputs, units], 0, 1, "float32", seed++) as tf.Tensor2D;
        const b = tf.randomNormal([units], 0, 1, "float32", seed++) as tf.Tensor1D;
        const dy = tf.randomNormal([batch, units], 0, 1, "float32", seed++);
        for (const activation of ["linear", "relu"] as const) {
          for (const withBias of [true, false]) {
            const what = `${batch}×${inputs}→${units} ${activation} bias ${withBias}`;
            const loss = (f: () => tf.Tensor) => tf.sum(tf.mul(f(), dy)) as tf.Scalar;
            const vars = withBias ? [x, w, b] : [x, w];
            disableNativeKernels();
            const reference = (xx: tf.Tensor2D, ww: tf.Tensor2D, bb?: tf.Tensor1D) => {
              const affine = bb ? tf.add(tf.matMul(xx, ww), bb) : tf.matMul(xx, ww);
              return activation === "relu" ? tf.relu(affine) : affine;
            };
            const expected = tf.grads((...t: tf.Tensor[]) =>
              loss(() => reference(t[0] as tf.Tensor2D, t[1] as tf.Tensor2D, t[2] as tf.Tensor1D)),
            )(vars);
            const expectedValue = reference(x, w, withBias ? b : undefined);
            enableNativeKernels();
            const before = tf.memory().numTensors;
            const runs = nativeKernelRuns[DENSE_GRAD] ?? 0;
            const got = tf.grads((...t: tf.Tensor[]) =>
              loss(() => linear(t[0] as tf.Tensor2D, t[1] as tf.Tensor2D, t[2] as tf.Tensor1D | undefined, activation)),
            )(vars);
            expect(tf.memory().numTensors - before, what).toBe(got.length);
            expect((nativeKernelRuns[DENSE_GRAD] ?? 0) - runs, what).toBe(activation === "relu" || withBias ? 1 : 0);
            const value = linear(x, w, withBias ? b : undefined, activation);
            expect(maxRelativeError(values(value), values(expectedValue)), what).toBeLessThan(1e-4);
            got.forEach((g, i) => {
              expect(g.shape, what).toEqual(expected[i].shape);
              expect(maxRelativeError(values(g), values(expected[i])), `${what} gradient ${i}`).toBeLessThan(1e-4);
            });
            tf.dispose([...expected, ...got, expectedValue, value]);
          }
        }
        tf.dispose([x, w, b, dy]);
      }
    });

    it(`FusedConv2D equals ${backend}'s own: strides, padding, bias, relu; prelu goes to it`, () => {
      const cases: Array<[number[], number[], number | [number, number], "same" | "valid"]> = [
        [[1, 5, 7, 1], [3, 3, 1, 2], 1, "same"],
        [[3, 9, 8, 3], [3, 2, 3, 4], [2, 1], "same"],
        [[2, 11, 10, 2], [5, 3, 2, 3], [2, 3], "valid"],
        [[4, 28, 28, 1], [3, 3, 1, 16], 1, "same"],
      ];
      let seed = 41;
      for (const [xs, fs, strides, pad] of cases) {
        const x = tf.randomNormal<tf.Rank.R4>(xs as [number, number, number, number], 0, 1, "float32", seed++) as tf.Tensor4D;
        const filter = tf.randomNormal<tf.Rank.R4>(fs as [number, number, number, number], 0, 1, "float32", seed++) as tf.Tensor4D;
        const bias = tf.randomNormal([fs[3]], 0, 1, "float32", seed++) as tf.Tensor1D;
        for (const b of [undefined, bias]) {
          for (const activation of ["linear", "relu"] as const) {
            const what = `${xs} ${fs} ${strides} ${pad} bias ${b !== undefined} ${activation}`;
            const r = ownThenNative("FusedConv2D", () => tf.fused.conv2d({ x, filter, strides, pad, bias: b, activation }));
            expect(r.runs, what).toBe(1);
            expect(r.native.shape, what).toEqual(r.own.shape);
            expect(maxRelativeError(values(r.native), values(r.own)), what).toBeLessThan(1e-4);
            tf.dispose([r.own, r.native]);
          }
        }
        tf.dispose([x, filter, bias]);
      }
      const x = tf.randomNormal([2, 6, 6, 2], 0, 1, "float32", 51) as tf.Tensor4D;
      const filter = tf.randomNormal([3, 3, 2, 3], 0, 1, "float32", 52) as tf.Tensor4D;
      const alpha = tf.fill([3], 0.2) as tf.Tensor1D;
      const r = ownThenNative("FusedConv2D", () =>
        tf.fused.conv2d({ x, filter, strides: 1, pad: "same", activation: "prelu", preluActivationWeights: alpha }),
      );
      expect(r.runs).toBe(0);
      expect(values(r.native)).toEqual(values(r.own));
      tf.dispose([x, filter, alpha, r.own, r.native]);
    });

    it(`mtlkit's Conv2d layer, fused, has tfjs autodiff's value and gradients on ${backend}, and leaks nothing`, () => {
      for (const [activation, strides, padding] of [
        ["relu", 1, "same"],
        ["linear", 2, "valid"],
        ["relu", [2, 1], "valid"],
      ] as const) {
        const layer = new Conv2d("conv", 3, 5, new Rng(7), {
          kernelSize: [3, 2],
          strides: strides as number | [number, number],
          padding,
          activation,
        });
        tf.tidy(() => layer.bias.assign(tf.randomNormal([5], 0, 0.5, "float32", 3)));
        const x = tf.randomNormal([3, 9, 8, 3], 0, 1, "float32", 61) as tf.Tensor4D;
        const f = (xx: tf.Tensor4D, dy?: tf.Tensor) => {
          const y = layer.apply(xx);
          return dy ? tf.sum(tf.mul(y, dy)) : y;
        };
        disableNativeKernels();
        const expectedY = f(x);
        const dy = tf.randomNormal(expectedY.shape, 0, 1, "float32", 62);
        const expected = tf.grads((xx: tf.Tensor, k: tf.Tensor, b: tf.Tensor) => {
          void k;
          void b;
          return f(xx as tf.Tensor4D, dy) as tf.Scalar;
        })([x, layer.filter, layer.bias]);
        enableNativeKernels();
        const before = tf.memory().numTensors;
        const gradRuns = nativeKernelRuns[DENSE_GRAD] ?? 0;
        const fusedRuns = nativeKernelRuns.FusedConv2D ?? 0;
        const got = tf.grads((xx: tf.Tensor, k: tf.Tensor, b: tf.Tensor) => {
          void k;
          void b;
          return f(xx as tf.Tensor4D, dy) as tf.Scalar;
        })([x, layer.filter, layer.bias]);
        expect(tf.memory().numTensors - before).toBe(got.length);
        expect((nativeKernelRuns[DENSE_GRAD] ?? 0) - gradRuns).toBe(1);
        expect((nativeKernelRuns.FusedConv2D ?? 0) - fusedRuns).toBe(1);
        const y = f(x);
        expect(maxRelativeError(values(y), values(expectedY))).toBeLessThan(1e-4);
        got.forEach((g, i) => {
          expect(g.shape).toEqual(expected[i].shape);
          expect(maxRelativeError(values(g), values(expected[i])), `${activation} gradient ${i}`).toBeLessThan(1e-4);
        });
        tf.dispose([x, dy, expectedY, y, ...expected, ...got]);
        layer.dispose();
      }
    });
  });
});
