import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";
import { run } from "./helpers";

const A = mtl.aggregators;
const ALL = (): mtl.aggregators.Aggregator[] => [
  A.mean(),
  A.sum(),
  A.pcgrad(),
  A.mgda(),
  A.mgdaUB(),
  A.cagrad(),
  A.imtlg(),
  A.gradvac(),
  A.graddrop(),
  A.nashMtl(),
  A.alignedMtl(),
  A.upgrad(),
  A.dualproj(),
  A.config(),
  A.moco(),
  A.fairgrad(),
  A.dbmtl(),
];

eachBackend(
  () => {
    describe("bad input to aggregators", () => {
      it("refuses a NaN or infinite row, naming the task", async () => {
        for (const agg of ALL()) {
          const ctx = { taskNames: ["depth", "normals"], losses: [1, 1] };
          await expect(
            run(
              agg,
              [
                [1, 2],
                [NaN, 0],
              ],
              ctx,
            ),
            agg.name,
          ).rejects.toThrow(/task 'normals'.*non-finite/);
          await expect(
            run(
              agg,
              [
                [Infinity, 2],
                [1, 0],
              ],
              ctx,
            ),
            agg.name,
          ).rejects.toThrow(/task 'depth'/);
          await expect(
            run(agg, [
              [1, 2],
              [-Infinity, 0],
            ]),
            agg.name,
          ).rejects.toThrow(/row 1/);
          expect(agg.toString()).toContain(agg.name.split("(")[0]);
        }
      });

      it("refuses a wrong number of rows for the tasks, and a changed task count for stateful methods", async () => {
        for (const agg of ALL()) {
          await expect(
            run(
              agg,
              [
                [1, 2],
                [3, 4],
              ],
              { taskNames: ["a", "b", "c"], losses: [1, 1] },
            ),
            agg.name,
          ).rejects.toThrow(/2 rows but there are 3 tasks \(a, b, c\)/);
        }
        const gv = A.gradvac();
        await run(gv, [
          [1, 2],
          [3, 4],
        ]);
        await expect(
          run(gv, [
            [1, 2],
            [3, 4],
            [5, 6],
          ]),
        ).rejects.toThrow(/state is for 2/);
        const m = A.moco();
        await run(m, [
          [1, 2],
          [3, 4],
        ]);
        await expect(
          run(m, [
            [1, 2, 3],
            [3, 4, 5],
          ]),
        ).rejects.toThrow(/3 columns but the tracked gradients have 2/);
        m.dispose();
        expect(() => A.mean().aggregate(tf.zeros([0, 3]) as tf.Tensor2D)).toThrow(/no rows/);
        expect(() => A.mean().aggregate(tf.zeros([3]) as unknown as tf.Tensor2D)).toThrow(/2-D tensor/);
      });

      it("refuses bad options: c outside [0, 1), unknown normalisation, unknown option, bad order", async () => {
        expect(() => A.cagrad({ c: 1 })).toThrow(/option 'c' must be in \[0, 1\), got 1/);
        expect(() => A.cagrad({ c: -0.1 })).toThrow(/option 'c'/);
        expect(() => A.cagrad({ c: NaN })).toThrow(/option 'c'/);
        expect(() => A.cagrad({ rescale: "2" as never })).toThrow(/unknown rescale "2"/);
        expect(() => A.mgda({ normalization: "l1" as never })).toThrow(
          /unknown normalization "l1"; expected one of "none", "l2", "loss", "loss\+"/,
        );
        expect(() => A.mgda({ normalisation: "l2" } as never)).toThrow(/unknown option 'normalisation'/);
        expect(() => A.alignedMtl({ scale: "max" as never })).toThrow(/unknown scale/);
        expect(() => A.graddrop({ leak: 2 })).toThrow(/leak/);
        expect(() => A.fairgrad({ alpha: 0 })).toThrow(/alpha/);
        expect(() => A.nashMtl({ updateEvery: 0 })).toThrow(/updateEvery/);
        await expect(
          run(A.pcgrad({ order: [0, 0] }), [
            [1, 0],
            [0, 1],
          ]),
        ).rejects.toThrow(/permutation of the 2 task indices/);
      });

      it("refuses a method that needs the losses when they are missing or invalid", async () => {
        await expect(
          run(A.mgda({ normalization: "loss" }), [
            [1, 0],
            [0, 1],
          ]),
        ).rejects.toThrow(/needs the task losses/);
        await expect(
          run(
            A.dbmtl(),
            [
              [1, 0],
              [0, 1],
            ],
            { losses: [1, 0] },
          ),
        ).rejects.toThrow(/needs L_i > 0/);
        await expect(
          run(
            A.dbmtl(),
            [
              [1, 0],
              [0, 1],
            ],
            { losses: [1, NaN], taskNames: ["a", "b"] },
          ),
        ).rejects.toThrow(/loss of task 'b' is NaN/);
      });

      it("refuses a malformed Gramian in weights()", async () => {
        const up = A.upgrad();
        expect(() => up.weights([[1, 0], [0]])).toThrow(/square/);
        expect(() =>
          up.weights([
            [1, NaN],
            [NaN, 1],
          ]),
        ).toThrow(/not finite/);
        expect(() =>
          up.weights([
            [1, 0.5],
            [0.2, 1],
          ]),
        ).toThrow(/not symmetric/);
        expect(() =>
          up.weights([
            [-1, 0],
            [0, 1],
          ]),
        ).toThrow(/negative diagonal/);
        expect(() => up.weights([])).toThrow(/non-empty/);
      });
    });

    describe("bad gradients in training", () => {
      it("stops naming the task whose representation gradient is not finite (finite losses)", async () => {
        const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
        const w = tf.variable(tf.ones([4, 1]));
        // sqrt'(0) = ∞: the trunk's ReLU zeros make task b's gradient infinite while its loss is finite.
        const model = mtl.hardSharing({
          inputSize: 2,
          trunk: [4],
          tasks,
          seed: 1,
          heads: { b: { apply: (z: tf.Tensor2D) => tf.matMul(tf.sqrt(z), w) as tf.Tensor2D, variables: [w], outputSize: 1 } },
        });
        for (const level of ["param", "rep"] as const) {
          const trainer = new mtl.Trainer({ model, tasks, aggregator: A.pcgrad(), level, progress: false });
          const x = tf.tensor2d([
            [1, -1],
            [-1, 1],
            [2, 3],
            [-2, -3],
          ]);
          const targets = [tf.ones([4, 1]), tf.ones([4, 1])];
          await expect(trainer.trainStep(x, targets)).rejects.toThrow(/task 'b'/);
          const skipping = new mtl.Trainer({ model, tasks, aggregator: A.pcgrad(), level, progress: false, onNonFinite: "skip" });
          expect((await skipping.trainStep(x, targets)).applied).toBe(false);
          tf.dispose([x, ...targets]);
        }
        model.dispose();
      });
    });
  },
  { webgpu: true },
);
