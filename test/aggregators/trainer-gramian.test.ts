/**
 * The aggregated step's Gramian: formed once by the trainer (its diagonal is the rows' finiteness
 * check), handed to the method through `context.gramian`, with the tape suspended meanwhile.
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { gramianOf, rowScaledGramianReads } from "../../lib/aggregators/types";
import { checkedGramian, suspendTape, vjp } from "../../lib/train/jacobian";
import { recordAsync } from "../../lib/train/tape";
import { readsSync } from "../../lib/util/reads";
import { eachBackend } from "../helpers/backends";
import { run } from "./helpers";

const A = mtl.aggregators;

/** J Jᵀ in float64 from float32 rows (what an exact Gramian of the tensor is). */
function exactGram(rows: number[][]): number[][] {
  const f = rows.map((r) => Array.from(Float32Array.from(r)));
  return f.map((a) => f.map((b) => a.reduce((s, v, i) => s + v * b[i], 0)));
}

function expectRelClose(actual: number[][], expected: number[][], rel: number): void {
  const scale = Math.max(...expected.map((r, i) => Math.abs(r[i])));
  actual.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - expected[i][j])).toBeLessThanOrEqual(rel * scale)));
}

async function checked(rows: number[][], zeroRows = rows.map(() => false)) {
  const J = tf.tensor2d(rows);
  const before = tf.memory().numTensors;
  try {
    const result = await checkedGramian(J, zeroRows);
    expect(tf.memory().numTensors).toBe(before);
    return result;
  } finally {
    J.dispose();
  }
}

eachBackend(
  () => {
    describe("the trainer's checked Gramian", () => {
      it("is gramianOf's G, bit for bit, for an ordinary Jacobian, with no bad row", async () => {
        const rng = new mtl.Rng(3);
        const rows = Array.from({ length: 3 }, () => Array.from({ length: 50 }, () => rng.normal()));
        const J = tf.tensor2d(rows);
        const { gramian, badRow } = await checked(rows);
        expect(badRow).toBe(-1);
        if (tf.getBackend() !== "webgpu") expect(gramian).toEqual(gramianOf(J));
        expectRelClose(gramian, exactGram(rows), 1e-5);
        J.dispose();
      });

      it("names the non-finite row, and only it, even when another row's squares overflow float32", async () => {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const rows = [
            [1e30, -2e30, 3e29],
            [1, bad, 2],
            [0.5, 0.25, -1],
          ];
          const { gramian, badRow } = await checked(rows);
          expect(badRow).toBe(1);
          expect(Math.abs(gramian[0][0] / exactGram([rows[0]])[0][0] - 1)).toBeLessThan(1e-6);
          expect(gramian[2][2]).toBeCloseTo(0.25 + 0.0625 + 1, 6);
        }
      });

      it("is accurate where squares overflow or underflow float32, and tells a zero row from a tiny one", async () => {
        const huge = [
          [3e25, -1e25, 2e25],
          [1e25, 1e25, -4e25],
        ];
        const big = await checked(huge);
        expect(big.badRow).toBe(-1);
        expectRelClose(big.gramian, exactGram(huge), 1e-6);
        const tiny = [
          [3e-25, -1e-25, 2e-25],
          [1e-25, 1e-25, -4e-25],
        ];
        const small = await checked(tiny);
        expect(small.badRow).toBe(-1);
        expectRelClose(small.gramian, exactGram(tiny), 1e-6);
        expect(small.gramian[0][0]).toBeGreaterThan(0);
        // A zero row (an absent task's) is fine either way.
        for (const zero of [true, false]) {
          const { gramian, badRow } = await checked(
            [
              [1, 2, 3],
              [0, 0, 0],
            ],
            [false, zero],
          );
          expect(badRow).toBe(-1);
          expect(gramian[1]).toEqual([0, 0]);
          expect(gramian[0][0]).toBeCloseTo(14, 5);
        }
      });
    });

    describe("context.gramian", () => {
      it("is the Gramian a Gramian method weighs (it does not form its own)", async () => {
        const rows = [
          [1, 0],
          [0, 1],
        ];
        const mgda = A.mgda();
        await run(mgda, rows);
        expect(mgda.lastWeights![0]).toBeCloseTo(0.5, 6);
        // The trainer's G of these rows, as given: MGDA weighs it (w ∝ 1/G_ii for orthogonal rows).
        const d = await run(mgda, rows, {
          rowsChecked: true,
          gramian: [
            [1, 0],
            [0, 4],
          ],
        });
        expect(mgda.lastWeights![0]).toBeCloseTo(0.8, 6);
        expect(d[0]).toBeCloseTo(0.8, 5);
        const monitored = A.monitored(A.mean());
        await run(monitored, rows, {
          rowsChecked: true,
          gramian: [
            [4, 0],
            [0, 9],
          ],
        });
        expect(monitored.log[0].norms).toEqual([2, 3]);
      });
    });

    describe("suspendTape", () => {
      it("records nothing while it runs, lets a gradient be taken inside, and keeps the open tape", async () => {
        const engine = tf.engine() as unknown as { state: { activeTape: unknown[] | null } };
        const w = tf.variable(tf.tensor1d([1, 2, 3]));
        const result = await recordAsync(async () => {
          const y = tf.sum(tf.square(w));
          const taped = engine.state.activeTape!.length;
          const inner = await suspendTape(async () => {
            const big = tf.mul(w, 2);
            await big.data();
            // A method may differentiate something of its own (a tape of its own, as outside a step).
            const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, v)))(big);
            return Array.from(await g.data());
          });
          expect(engine.state.activeTape!.length).toBe(taped);
          const [dw] = vjp(y, [w]);
          return { inner, dw: Array.from(await dw!.data()) };
        });
        expect(result.inner).toEqual([4, 8, 12]);
        expect(result.dw).toEqual([2, 4, 6]);
        w.dispose();
      });

      it("lets a user's aggregator that differentiates inside run in the trainer", async () => {
        const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
        const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });
        // d = ∇_v ½||v||² at v = mean of the rows: the mean, by autodiff.
        const byGradient: mtl.aggregators.Aggregator = {
          name: "by-gradient",
          levels: ["param", "rep"],
          lastWeights: undefined,
          aggregate: (J) => tf.tidy(() => tf.grad((v: tf.Tensor) => tf.mul(0.5, tf.sum(tf.square(v))))(tf.mean(J, 0)) as tf.Tensor1D),
        };
        const x = tf.tensor2d([
          [1, -1],
          [2, 0.5],
        ]);
        const targets = [tf.ones([2, 1]), tf.zeros([2, 1])];
        const trainer = new mtl.Trainer({ model, tasks, aggregator: byGradient, progress: false });
        const step = await trainer.trainStep(x, targets);
        expect(step.applied).toBe(true);
        tf.dispose([x, ...targets]);
        model.dispose();
      });
    });

    describe("rowScaledGramianReads", () => {
      it("keeps a non-finite entry to its own row and column", () => {
        if (tf.getBackend() === "webgpu") return; // a synchronous read
        const J = tf.tensor2d([
          [1, 2],
          [NaN, 1],
          [3, Infinity],
        ]);
        const G = readsSync(rowScaledGramianReads(J));
        expect(G[0][0]).toBe(5);
        expect(G.map((r, i) => Number.isFinite(r[i]))).toEqual([true, false, false]);
        J.dispose();
      });
    });
  },
  { webgpu: true },
);
