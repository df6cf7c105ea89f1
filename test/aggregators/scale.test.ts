/**
 * Every finite Jacobian is accepted, whatever its scale: the Gramian methods form G = J Jᵀ in float32,
 * whose squares overflow above ~1e19 and underflow below ~1e-19, so G is formed on J scaled by a
 * power of two and scaled back in float64. Each method is compared at 1e±20 with the same matrix
 * at scale 1, scaled back by its degree of homogeneity h (d(cJ) = cʰ d(J); h = 1 for most methods,
 * 0 for Nash-MTL, (1 − α)/(1 + α) for FairGrad).
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { Rng } from "../../lib";
import { Aggregator, AggregationContext } from "../../lib/aggregators";
import { gramianOfAsync } from "../../lib/aggregators/types";
import { eachBackend } from "../helpers/backends";
import { numbersOf } from "../helpers/reads";
import { run, sampleMatrix } from "./helpers";

const A = mtl.aggregators;
const LOSSES = [0.8, 2.5, 1.3];
const CASES: Array<{ name: string; make: () => Aggregator; degree: number }> = [
  { name: "mean", make: A.mean, degree: 1 },
  { name: "sum", make: A.sum, degree: 1 },
  { name: "PCGrad", make: () => A.pcgrad({ order: [2, 0, 1] }), degree: 1 },
  { name: "MGDA", make: () => A.mgda(), degree: 1 },
  { name: "MGDA l2", make: () => A.mgda({ normalization: "l2" }), degree: 1 },
  { name: "MGDA loss", make: () => A.mgda({ normalization: "loss" }), degree: 1 },
  { name: "MGDA loss+", make: () => A.mgda({ normalization: "loss+" }), degree: 1 },
  { name: "MGDA-UB", make: () => A.mgdaUB(), degree: 1 },
  { name: "CAGrad", make: () => A.cagrad({ c: 0.5 }), degree: 1 },
  { name: "CAGrad 1+c", make: () => A.cagrad({ c: 0.8, rescale: "1+c" }), degree: 1 },
  { name: "IMTL-G", make: A.imtlg, degree: 1 },
  { name: "GradVac", make: () => A.gradvac({ order: [1, 2, 0], beta: 0.5 }), degree: 1 },
  { name: "Nash-MTL", make: () => A.nashMtl(), degree: 0 },
  { name: "Nash-MTL normalized", make: () => A.nashMtl({ normalizeGramian: true }), degree: 1 },
  { name: "Aligned-MTL", make: () => A.alignedMtl(), degree: 1 },
  { name: "Aligned-MTL median", make: () => A.alignedMtl({ scale: "median" }), degree: 1 },
  { name: "UPGrad", make: A.upgrad, degree: 1 },
  { name: "DualProj", make: A.dualproj, degree: 1 },
  { name: "ConFIG", make: A.config, degree: 1 },
  { name: "FairGrad", make: () => A.fairgrad(), degree: 0 },
  { name: "FairGrad α=2", make: () => A.fairgrad({ alpha: 2 }), degree: -1 / 3 },
  { name: "DB-MTL", make: () => A.dbmtl(), degree: 1 },
];

/** Two steps with conflicting, differently scaled gradients (k = 3, d = 7). */
const rng = new Rng(20);
const STEPS = [sampleMatrix(rng, 3, 7), sampleMatrix(rng, 3, 7)];
const scaled = (rows: number[][], c: number) => rows.map((r) => r.map((v) => v * c));

function relativeError(actual: number[], expected: number[]): number {
  const size = Math.max(...expected.map(Math.abs));
  return Math.max(...actual.map((v, i) => Math.abs(v - expected[i]) / size));
}

/** The updates of two steps of a fresh aggregator on the steps' matrices times c. */
async function updates(make: () => Aggregator, c: number): Promise<number[][]> {
  const agg = make();
  const context: AggregationContext = { losses: LOSSES };
  const out: number[][] = [];
  for (const rows of STEPS) out.push(await run(agg, scaled(rows, c), context));
  (agg as { dispose?: () => void }).dispose?.();
  return out;
}

eachBackend(
  (backend) => {
    describe(`aggregators at any finite scale (${backend})`, () => {
      it("MGDA on the issue's two examples", async () => {
        const big = await run(A.mgda(), [
          [1e20, 0],
          [0, 1e20],
        ]);
        expect(relativeError(big, [5e19, 5e19])).toBeLessThan(1e-6);
        const small = await run(A.mgda(), [
          [3e-23, 0],
          [0, 1e-22],
        ]);
        // min-norm point of 3e-23·e1 and 1e-22·e2: weights (100, 9)/109
        expect(relativeError(small, [(3e-23 * 100) / 109, (1e-22 * 9) / 109])).toBeLessThan(1e-6);
      });

      for (const { name, make, degree } of CASES) {
        it(`${name}: at 1e20 and 1e-20 equals the scale-1 result scaled back`, async () => {
          const reference = await updates(make, 1);
          for (const c of [1e20, 1e-20]) {
            const got = await updates(make, c);
            got.forEach((d, step) => {
              const expected = reference[step].map((v) => v * Math.pow(c, degree));
              expect(d.every(Number.isFinite), `step ${step} at ${c}: [${d}]`).toBe(true);
              expect(relativeError(d, expected), `step ${step} at ${c}: [${d}] vs [${expected}]`).toBeLessThan(1e-5);
            });
          }
        });
      }

      it("MoCo gives a finite update at 1e20 and 1e-20", async () => {
        for (const c of [1e20, 1e-20]) {
          for (const d of await updates(() => A.moco(), c)) expect(d.every(Number.isFinite), `[${d}] at ${c}`).toBe(true);
        }
      });

      it("gramianOf (read with await) is accurate from 1e-30 to 1e30, and unchanged in the ordinary range", async () => {
        const rows = STEPS[0];
        const J = tf.tensor2d(rows);
        const base = await gramianOfAsync(J);
        const direct = await numbersOf(() => tf.matMul(J, J, false, true));
        expect(base.flat()).toEqual(direct);
        for (const c of [1e30, 1e20, 1e-20, 1e-30]) {
          const Jc = tf.tensor2d(scaled(rows, c));
          const G = await gramianOfAsync(Jc);
          const expected = base.flat().map((v) => v * c * c);
          expect(relativeError(G.flat(), expected), `at ${c}`).toBeLessThan(1e-6);
          Jc.dispose();
        }
        J.dispose();
      });

      it("still refuses a Jacobian or a Gramian that is not finite, naming the row", async () => {
        await expect(
          run(A.mgda(), [
            [1, 2],
            [NaN, 0],
          ]),
        ).rejects.toThrow(/row 1.*non-finite/);
        await expect(
          run(A.upgrad(), [
            [Infinity, 0],
            [0, 1],
          ]),
        ).rejects.toThrow(/row 0.*non-finite/);
        await expect(
          run(
            A.nashMtl(),
            [
              [1e20, 0],
              [0, -Infinity],
            ],
            { taskNames: ["a", "b"] },
          ),
        ).rejects.toThrow(/task 'b'.*non-finite/);
        expect(() =>
          A.mgda().weights([
            [Infinity, 0],
            [0, 1],
          ]),
        ).toThrow(/not finite/);
      });

      it("leaks no tensor", async () => {
        const before = tf.memory().numTensors;
        for (const { make } of [...CASES, { make: () => A.moco({ normalize: "loss" }) }]) await updates(make, 1e20);
        expect(tf.memory().numTensors).toBe(before);
      });
    });
  },
  { webgpu: true },
);
