/**
 * The optional native matmul kernels (OpenBLAS through native/) against the backends' own kernels:
 * equal within float32 rounding for every transpose combination, batched and broadcast shapes,
 * and in a training step. CI builds the addon (MTLKIT_REQUIRE_NATIVE=1), so these never skip there.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative, nativeMatMulActive } from "../../lib/native";
import { transposesExplicitly } from "../../lib/ops/matmul";
import { useJsHostKernels } from "../../lib/native/hostKernels";
import { eachBackend } from "../helpers/backends";

const { status } = loadNative();
const required = process.env.MTLKIT_REQUIRE_NATIVE === "1";

describe("native addon", () => {
  it("loads, or says why not", () => {
    if (required) expect(status.available, status.reason).toBe(true);
    expect(status.reason.length).toBeGreaterThan(0);
  });
});

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return worst;
}

describe.runIf(status.available)("native kernels", () => {
  afterAll(() => disableNativeKernels());

  eachBackend((backend) => {
    it(`equal ${backend}'s own BatchMatMul for every transpose, batch and broadcast`, () => {
      const cases: Array<[number[], number[], boolean, boolean]> = [
        [[7, 5], [5, 3], false, false],
        [[5, 7], [5, 3], true, false],
        [[7, 5], [3, 5], false, true],
        [[5, 7], [3, 5], true, true],
        [[4, 6, 5], [4, 5, 2], false, false],
        [[4, 6, 5], [5, 2], false, false],
        [[2, 3, 5, 6], [1, 6, 4], false, false],
        [[1, 5, 6], [3, 4, 6], false, true],
        [[64, 300], [300, 129], false, false],
      ];
      for (const [sa, sb, ta, tb] of cases) {
        const a = tf.randomNormal(sa, 0, 1, "float32", 1);
        const b = tf.randomNormal(sb, 0, 1, "float32", 2);
        disableNativeKernels();
        const expected = tf.matMul(a, b, ta, tb);
        enableNativeKernels();
        expect(nativeMatMulActive()).toBe(true);
        const actual = tf.matMul(a, b, ta, tb);
        expect(actual.shape).toEqual(expected.shape);
        // Both sum up to 300 float32 products in different orders: a few units of k·ε apart.
        expect(maxRelativeError(actual.dataSync() as Float32Array, expected.dataSync() as Float32Array)).toBeLessThan(1e-4);
        tf.dispose([a, b, expected, actual]);
      }
    });

    it("train with the same losses as the backend's own kernels, and no explicit transposes", async () => {
      const run = async (native: boolean) => {
        if (native) enableNativeKernels();
        else disableNativeKernels();
        expect(transposesExplicitly()).toBe(!native);
        const tasks = [mtl.tasks.classification("c", { classes: 4 }), mtl.tasks.regression("r")];
        const model = mtl.hardSharing({ inputSize: 20, trunk: [32, 16], tasks, seed: 3 });
        const trainer = new mtl.Trainer({ model, tasks, progress: false });
        const x = tf.randomNormal([16, 20], 0, 1, "float32", 4) as tf.Tensor2D;
        const targets = [
          tf.tensor1d(
            Array.from({ length: 16 }, (_, i) => i % 4),
            "int32",
          ),
          tf.randomNormal([16, 1], 0, 1, "float32", 5),
        ];
        const losses: number[] = [];
        for (let i = 0; i < 5; i++) losses.push(...(await trainer.trainStep(x, targets)).losses);
        tf.dispose([x, ...targets]);
        model.dispose();
        return losses;
      };
      const own = await run(false);
      const native = await run(true);
      native.forEach((l, i) => expect(Math.abs(l - own[i]) / own[i]).toBeLessThan(1e-5));
    });

    it("leave what they do not handle to the original kernel", () => {
      enableNativeKernels();
      const a = tf.ones([2, 3, 4]);
      const b = tf.ones([3, 4, 5]);
      expect(() => tf.matMul(a, b)).toThrow(); // incompatible batch dims: tfjs's own error
      tf.dispose([a, b]);
    });
  });
});

describe.runIf(status.available)("useBestBackend and the native kernels", () => {
  afterAll(() => disableNativeKernels());

  it("turns them on for wasm and cpu, reports them, and turns them off on request", async () => {
    const on = await mtl.useBestBackend({ prefer: "wasm", webgpu: false });
    expect(on.native.enabled).toBe(true);
    expect(on.device).toMatch(/native kernels \(OpenBLAS/);
    const off = await mtl.useBestBackend({ prefer: "wasm", webgpu: false, native: false });
    expect(off.native).toEqual({ enabled: false, reason: "turned off by the option native: false" });
    expect(nativeMatMulActive()).toBe(false);
  });
});

describe("host global gradient norm", () => {
  afterAll(() => {
    disableNativeKernels();
    useJsHostKernels(true);
  });

  eachBackend(() => {
    it("equals the tensor computation on both host kernels (native and JavaScript bit for bit), and is not finite when an element is not", async () => {
      const { hostGlobalNorm } = await import("../../lib/native/norm");
      const { globalNorm } = await import("../../lib/train/steps/update");
      // 8·k + 5 elements: the eight accumulators and the tail.
      const grads = {
        a: tf.randomNormal([30, 7], 0, 3, "float32", 1),
        b: tf.randomNormal([7], 0, 1e19, "float32", 2),
        c: tf.randomNormal([5], 0, 1e-3, "float32", 3),
      };
      const expected = globalNorm(grads).dataSync()[0];
      disableNativeKernels();
      const js = hostGlobalNorm(grads)!;
      expect(js / expected).toBeCloseTo(1, 5);
      const exact = Math.sqrt(Object.values(grads).reduce((s, g) => s + Array.from(g.dataSync()).reduce((a, x) => a + x * x, 0), 0));
      expect(js / exact).toBeCloseTo(1, 12);
      if (status.available) {
        enableNativeKernels();
        expect(hostGlobalNorm(grads)).toBe(js);
      }
      const bad = { a: grads.a, d: tf.tensor1d([1, NaN]) };
      expect(hostGlobalNorm(bad)).toBeNaN();
      disableNativeKernels();
      expect(hostGlobalNorm(bad)).toBeNaN();
      expect(hostGlobalNorm({ e: tf.tensor1d([1, Infinity]) })).toBe(Infinity);
      useJsHostKernels(false);
      expect(hostGlobalNorm(grads)).toBeUndefined();
      useJsHostKernels(true);
      tf.dispose([grads.a, grads.b, grads.c, bad.d]);
    });
  });
});
