import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import "../../lib/native/wasmKernels";
import { Rng } from "../../lib/random";
import { setBackend } from "../helpers/backends";

/** Runs `f` on a backend and returns its results as plain arrays. */
async function on(backend: "wasm" | "cpu", f: () => tf.Tensor[]): Promise<number[][]> {
  await setBackend(backend);
  const out = tf.tidy(f);
  const values = out.map((t) => Array.from(t.dataSync()));
  tf.dispose(out);
  return values;
}

function random(shape: number[], seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal());
}

function expectClose(a: number[][], b: number[][], tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  a.forEach((arr, i) => {
    expect(arr.length).toBe(b[i].length);
    const scale = Math.max(1, ...b[i].map(Math.abs));
    arr.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThanOrEqual(tol * scale));
  });
}

describe("wasm training kernels equal the cpu backend's", () => {
  it("UnsortedSegmentSum directly, with repeated and out-of-range ids", async () => {
    const f = () => [tf.unsortedSegmentSum(tf.tensor2d(random([6, 3], 1), [6, 3]), tf.tensor1d([2, 0, 2, 5, -1, 1], "int32"), 4)];
    const [w, c] = [await on("wasm", f), await on("cpu", f)];
    expectClose(w, c, 1e-6);
    // By hand: row 0 of the result is input row 1.
    const x = random([6, 3], 1);
    expect(w[0].slice(0, 3).map((v) => +v.toFixed(5))).toEqual(x.slice(3, 6).map((v) => +Math.fround(v).toFixed(5)));
  });

  it("the gradient of an embedding lookup (gather) with repeated tokens", async () => {
    const table = random([7, 4], 2);
    const ids = [
      [1, 3, 1],
      [6, 0, 1],
    ];
    const up = random([2, 3, 4], 3);
    const f = () => {
      const E = tf.tensor2d(table, [7, 4]);
      const g = tf.grad((e: tf.Tensor) => tf.sum(tf.mul(tf.gather(e, tf.tensor2d(ids, [2, 3], "int32")), tf.tensor3d(up, [2, 3, 4]))))(E);
      return [g];
    };
    const [w, c] = [await on("wasm", f), await on("cpu", f)];
    expectClose(w, c, 1e-6);
    // Token 1 appears three times: its gradient row is the sum of those three upstream rows.
    const row1 = [0, 1, 2, 3].map((j) => up[0 * 12 + 0 * 4 + j] + up[0 * 12 + 2 * 4 + j] + up[1 * 12 + 2 * 4 + j]);
    w[0].slice(4, 8).forEach((v, j) => expect(v).toBeCloseTo(row1[j], 4));
    expect(w[0].slice(8, 12)).toEqual([0, 0, 0, 0]); // token 2 never appears
  });

  it.each([
    { name: "3×3 same, stride 1", x: [2, 7, 6, 3], f: [3, 3, 3, 4], strides: 1, pad: "same" as const },
    { name: "3×3 valid, stride 2", x: [3, 9, 8, 2], f: [3, 3, 2, 5], strides: 2, pad: "valid" as const },
    { name: "5×2 same, strides [2, 1]", x: [2, 8, 5, 1], f: [5, 2, 1, 3], strides: [2, 1] as [number, number], pad: "same" as const },
    { name: "1-D text conv (conv1d)", x: [4, 1, 12, 6], f: [1, 3, 6, 8], strides: 1, pad: "same" as const },
  ])("the gradients of conv2d w.r.t. filter and input: $name", async ({ x, f, strides, pad }) => {
    const xs = random(x, 4);
    const fs = random(f, 5);
    const outShape = tf.tidy(() =>
      tf.conv2d(
        tf.zeros(x as [number, number, number, number]) as tf.Tensor4D,
        tf.zeros(f as [number, number, number, number]) as tf.Tensor4D,
        strides,
        pad,
      ),
    ).shape as number[];
    const up = random(outShape, 6);
    const run = () => {
      const X = tf.tensor4d(xs, x as [number, number, number, number]);
      const F = tf.tensor4d(fs, f as [number, number, number, number]);
      const U = tf.tensor(up, outShape);
      const [gx, gf] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, strides, pad), U)),
      )([X, F]);
      return [gx, gf];
    };
    const [w, c] = [await on("wasm", run), await on("cpu", run)];
    expectClose(w, c, 1e-4);
  });

  it("leaves no tensors behind on wasm", async () => {
    await setBackend("wasm");
    const E = tf.variable(tf.randomNormal([20, 8]));
    const F = tf.variable(tf.randomNormal([3, 3, 2, 4]));
    const x = tf.randomNormal([2, 6, 6, 2]) as tf.Tensor4D;
    const ids = tf.tensor2d(
      [
        [1, 2],
        [3, 1],
      ],
      [2, 2],
      "int32",
    );
    const step = () =>
      tf.tidy(() => {
        const { grads } = tf.variableGrads(
          () => tf.add(tf.sum(tf.gather(E, ids)), tf.sum(tf.conv2d(x, F as tf.Tensor4D, 1, "same"))) as tf.Scalar,
          [E, F],
        );
        return Object.values(grads).map((g) => g.sum().dataSync()[0]);
      });
    step();
    const before = tf.memory().numTensors;
    const dataBefore = tf.engine().backend.numDataIds(); // the im2col buffer lives only in the heap
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    tf.dispose([E, F, x, ids]);
  });
});
