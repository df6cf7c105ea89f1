/** Small data sets and utilities for the architecture tests. */
import * as tf from "@tensorflow/tfjs";
import * as mtl from "../../lib";

/** Two regression tasks on 4 features (a, b are unrelated linear targets). */
export function twoRegressions(rows = 64, seed = 1) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal(), rng.normal()]);
  const a = x.map((r) => r[0] - r[1] + 0.1 * rng.normal());
  const b = x.map((r) => 2 * r[2] + r[3]);
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
  return { tasks, data: mtl.fromArrays({ x, targets: { a, b }, tasks }) };
}

/** One task of every kind on the same 5 features. */
export function everyKind(rows = 48, seed = 2) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => Array.from({ length: 5 }, () => rng.normal()));
  const cls = x.map((r) => (r[0] > 0 ? 1 : 0) + (r[1] > 0.3 ? 1 : 0));
  const bin = x.map((r) => (r[2] + r[3] > 0 ? 1 : 0));
  const tags = x.map((r) => [r[0] > 0 ? 1 : 0, r[4] > 0 ? 1 : 0, r[1] + r[2] > 0 ? 1 : 0]);
  const reg = x.map((r) => r[0] - 0.5 * r[4]);
  const tasks = [
    mtl.tasks.classification("cls", { classes: 3 }),
    mtl.tasks.binary("bin"),
    mtl.tasks.multiLabel("tags", { labels: ["t0", "t1", "t2"] }),
    mtl.tasks.regression("reg"),
  ];
  return { tasks, data: mtl.fromArrays({ x, targets: { cls, bin, tags, reg }, tasks }) };
}

export function values(v: tf.Tensor): number[] {
  return Array.from(v.dataSync());
}

/** Largest absolute difference between two lists of tensors, read with await (every backend). */
export async function maxDiffOf(a: tf.Tensor[], b: tf.Tensor[]): Promise<number> {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const [x, y] = await Promise.all([a[i].data(), b[i].data()]);
    expect(x.length).toBe(y.length);
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j] - y[j]));
  }
  return m;
}

/** Largest absolute difference between two lists of tensors (synchronous reads: cpu and wasm). */
export function maxDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  let m = 0;
  a.forEach((t, i) => {
    const x = t.dataSync();
    const y = b[i].dataSync();
    expect(x.length).toBe(y.length);
    for (let j = 0; j < x.length; j++) m = Math.max(m, Math.abs(x[j] - y[j]));
  });
  return m;
}

/** Sets `to`'s variables to `from`'s, pairwise. */
export function copyInto(from: tf.Variable[], to: tf.Variable[]): void {
  expect(from.length).toBe(to.length);
  from.forEach((v, i) => {
    expect(to[i].shape).toEqual(v.shape);
    to[i].assign(v);
  });
}

import { expect } from "vitest";
