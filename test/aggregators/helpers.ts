import * as tf from "@tensorflow/tfjs";
import { expect } from "vitest";
import { Rng } from "../../lib";
import { Aggregator, AggregationContext } from "../../lib/aggregators";
import { gramianOf } from "../../lib/aggregators/types";

/** Runs an aggregator on a plain matrix and reads the update back, synchronously (cpu and wasm only). */
export function runSync(agg: Aggregator, rows: number[][], context?: AggregationContext): number[] {
  const J = tf.tensor2d(rows);
  try {
    const d = agg.aggregate(J, context);
    const out = Array.from(d.dataSync());
    d.dispose();
    return out;
  } finally {
    J.dispose();
  }
}

/** Runs an aggregator on a plain matrix as the Trainer does (awaited reads where it has them): every backend. */
export async function run(agg: Aggregator, rows: number[][], context?: AggregationContext): Promise<number[]> {
  const J = tf.tensor2d(rows);
  try {
    const d = agg.aggregateAsync ? await agg.aggregateAsync(J, context) : agg.aggregate(J, context);
    const out = Array.from(await d.data());
    d.dispose();
    return out;
  } finally {
    J.dispose();
  }
}

export function gram(rows: number[][]): number[][] {
  return rows.map((a) => rows.map((b) => a.reduce((s, v, i) => s + v * b[i], 0)));
}

export function expectClose(actual: number[], expected: number[], tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => {
    if (Math.abs(v - expected[i]) > tol)
      throw new Error(`entry ${i}: got ${v}, expected ${expected[i]} (±${tol}); actual [${actual}] expected [${expected}]`);
  });
}

export function dot(a: number[], b: number[]): number {
  return a.reduce((s, v, i) => s + v * b[i], 0);
}

/** d = Jᵀ w. */
export function combine(rows: number[][], w: number[]): number[] {
  return rows[0].map((_, c) => rows.reduce((s, r, i) => s + w[i] * r[c], 0));
}

/** Random k × n matrix, sometimes rank-deficient or with a zero row. */
export function sampleMatrix(rng: Rng, k: number, n: number, kind: "full" | "deficient" | "zero" = "full"): number[][] {
  const rows = Array.from({ length: k }, () => Array.from({ length: n }, () => rng.normal() * Math.exp(rng.normal())));
  if (kind === "deficient" && k >= 3) rows[k - 1] = rows[0].map((v, i) => 0.7 * v - 1.3 * rows[1][i]);
  if (kind === "zero") rows[rng.int(k)] = new Array(n).fill(0);
  return rows;
}

export { gramianOf };
