/**
 * wasm's Slice, SplitV and Unpack (lib/native/wasmSlice.ts) copy only the slice: the same values as the
 * cpu backend's kernels, bit for bit, for every rank, dtype and slice position, and no read of the
 * whole input out of the heap (tfjs-wasm's own Slice made one per output). wasm's Identity shares its
 * input's memory instead of copying it, and that memory lives until the last tensor on it goes.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { replaceWasmSlicing } from "../../lib/native/wasmSlice";
import { setBackend } from "../helpers/backends";

function random(
  shape: number[],
  dtype: "float32" | "int32" | "bool",
  seed: number,
): { values: number[]; shape: number[]; dtype: typeof dtype } {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, () =>
    dtype === "bool" ? (next() < 0.5 ? 1 : 0) : dtype === "int32" ? Math.floor(next() * 1000) - 500 : next() * 2 - 1,
  );
  return { values, shape, dtype };
}

/** Runs `f` on the cpu and on the wasm backend with the same input; returns both results' values. */
async function onBoth(input: ReturnType<typeof random>, f: (x: tf.Tensor) => tf.Tensor | tf.Tensor[]): Promise<[number[][], number[][]]> {
  const results: number[][][] = [];
  for (const backend of ["cpu", "wasm"] as const) {
    await setBackend(backend);
    const x = tf.tensor(input.values, input.shape, input.dtype);
    const out = f(x);
    const list = Array.isArray(out) ? out : [out];
    results.push(list.map((t) => [...t.shape, -1, ...Array.from(t.dataSync())]));
    tf.dispose([x, ...list]);
  }
  return [results[0], results[1]];
}

describe("wasm slicing that copies only the slice", () => {
  beforeAll(() => {
    expect(replaceWasmSlicing()).toBe(true);
  });
  afterAll(async () => setBackend("wasm"));

  it("slices every rank and dtype as the cpu backend does", async () => {
    const cases: Array<[number[], number[], number[]]> = [
      [[7], [2], [4]],
      [
        [5, 9],
        [1, 3],
        [3, 4],
      ],
      [
        [5, 9],
        [0, 0],
        [5, 4],
      ],
      [
        [5, 9],
        [2, 0],
        [2, 9],
      ],
      [
        [3, 4, 5],
        [1, 1, 1],
        [2, 2, 3],
      ],
      [
        [3, 4, 5],
        [0, 2, 0],
        [3, 1, 5],
      ],
      [
        [2, 3, 4, 5],
        [1, 0, 2, 1],
        [1, 3, 2, 4],
      ],
      [
        [2, 3, 2, 3, 2],
        [0, 1, 0, 1, 1],
        [2, 2, 2, 2, 1],
      ],
      [
        [4, 6],
        [1, 2],
        [-1, -1],
      ],
      [
        [4, 6],
        [0, 0],
        [0, 6],
      ],
    ];
    let seed = 1;
    for (const [shape, begin, size] of cases) {
      for (const dtype of ["float32", "int32", "bool"] as const) {
        const [cpu, wasm] = await onBoth(random(shape, dtype, seed++), (x) => tf.slice(x, begin, size));
        expect(wasm, `${dtype} ${shape} [${begin}] [${size}]`).toEqual(cpu);
      }
    }
  });

  it("splits and unstacks as the cpu backend does, along every axis", async () => {
    const input = random([4, 6, 3], "float32", 9);
    for (const axis of [0, 1, 2, -1]) {
      const [cpuU, wasmU] = await onBoth(input, (x) => tf.unstack(x, axis));
      expect(wasmU).toEqual(cpuU);
    }
    const [cpuS, wasmS] = await onBoth(input, (x) => tf.split(x, [1, 3, 2], 1));
    expect(wasmS).toEqual(cpuS);
    const [cpuE, wasmE] = await onBoth(input, (x) => tf.split(x, 3, 2));
    expect(wasmE).toEqual(cpuE);
  });

  it("never reads the whole input out of the heap, also in the gradients of concat and stack", async () => {
    await setBackend("wasm");
    const parts = [tf.randomNormal([64, 32]), tf.randomNormal([64, 32]), tf.randomNormal([64, 32])];
    const readSync = vi.spyOn(tf.backend(), "readSync");
    const before = tf.memory().numTensors;
    const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
      tf.add(tf.sum(tf.square(tf.concat([a, b, c], 1))), tf.sum(tf.stack([a, b, c], 1))),
    )(parts);
    const split = tf.tidy(() => tf.split(tf.concat(parts, 1), 3, 1));
    expect(readSync).not.toHaveBeenCalled();
    readSync.mockRestore();
    // ∂/∂p (Σ p² + Σ p) = 2p + 1 for each part.
    tf.dispose([...grads, ...split]);
    expect(tf.memory().numTensors).toBe(before);
    for (let i = 0; i < 3; i++) {
      const again = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.add(tf.sum(tf.square(tf.concat([a, b, c], 1))), tf.sum(tf.stack([a, b, c], 1))),
      )(parts);
      const expected = tf.tidy(() => tf.add(tf.mul(parts[i], 2), 1));
      const pieces = tf.tidy(() => tf.split(tf.concat(parts, 1), 3, 1));
      expect(Array.from(again[i].dataSync())).toEqual(Array.from(expected.dataSync()));
      expect(Array.from(pieces[i].dataSync())).toEqual(Array.from(parts[i].dataSync()));
      tf.dispose([...again, expected, ...pieces]);
    }
    tf.dispose(parts);
  });

  it("clones without copying: shared memory, freed with the last tensor, values and dtypes kept", async () => {
    await setBackend("wasm");
    const backend = tf.backend() as unknown as { refCount(dataId: object): number; numDataIds(): number };
    for (const dtype of ["float32", "int32", "bool"] as const) {
      const input = random([3, 5], dtype, 4);
      const x = tf.tensor(input.values, input.shape, dtype);
      const values = Array.from(x.dataSync());
      const ids = backend.numDataIds();
      const y = tf.clone(x);
      expect(backend.numDataIds()).toBe(ids); // no new memory
      expect(y.dataId).toBe(x.dataId);
      expect(backend.refCount(x.dataId)).toBe(2);
      x.dispose();
      expect(y.dtype).toBe(dtype);
      expect(y.shape).toEqual([3, 5]);
      expect(Array.from(y.dataSync())).toEqual(values);
      y.dispose();
      expect(backend.numDataIds()).toBe(ids - 1);
    }
    // The engine saves tensors for the backward pass with Identity: gradients stay correct and
    // nothing is left behind.
    const before = tf.memory().numTensors;
    const x = tf.tensor2d([1, -2, 3, -4], [2, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), t)))(x);
    expect(Array.from(g.dataSync())).toEqual([2, 0, 6, 0]);
    tf.dispose([x, g]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
