import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";
import { run } from "./helpers";

const A = mtl.aggregators;

eachBackend(
  () => {
    describe("aggregator state", () => {
      const makers: Array<[string, () => mtl.aggregators.Aggregator, boolean]> = [
        ["PCGrad", () => A.pcgrad({ seed: 3 }), false],
        ["GradVac", () => A.gradvac({ seed: 3, beta: 0.3 }), false],
        ["GradDrop", () => A.graddrop({ seed: 3 }), false],
        ["Nash-MTL", () => A.nashMtl({ updateEvery: 2 }), false],
        ["MoCo", () => A.moco(), false],
        ["DB-MTL", () => A.dbmtl(), true],
      ];
      for (const [name, make, needsLosses] of makers) {
        it(`${name}: a reloaded state continues identically (JSON round trip)`, async () => {
          const rng = new mtl.Rng(5);
          const batches = Array.from({ length: 4 }, () => Array.from({ length: 3 }, () => Array.from({ length: 5 }, () => rng.normal())));
          const ctx = needsLosses ? { losses: [0.5, 1, 2] } : undefined;
          const a = make();
          await run(a, batches[0], ctx);
          await run(a, batches[1], ctx);
          // stateAsync where the method has one (its state lives in tensors): every backend reads it.
          const saved = JSON.parse(JSON.stringify(a.stateAsync ? await a.stateAsync() : a.state!()));
          const expected = [await run(a, batches[2], ctx), await run(a, batches[3], ctx)];
          const b = make();
          b.loadState!(saved);
          const got = [await run(b, batches[2], ctx), await run(b, batches[3], ctx)];
          got.forEach((d, i) => d.forEach((v, j) => expect(v).toBeCloseTo(expected[i][j], 5)));
          for (const x of [a, b]) if ("dispose" in x) (x as mtl.aggregators.StatefulAggregator).dispose();
        });
      }

      it("the trainer checkpoints an aggregator's state", async () => {
        const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
        const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });
        const agg = A.gradvac({ seed: 1 });
        const trainer = new mtl.Trainer({ model, tasks, aggregator: agg, progress: false });
        expect(Object.keys(trainer.components)).toContain("aggregator");
        const x = mtl.tf.tensor2d([
          [1, 2],
          [3, -1],
        ]);
        const targets = [mtl.tf.tensor2d([[1], [0]]), mtl.tf.tensor2d([[0], [1]])];
        await trainer.trainStep(x, targets);
        const snapshot = JSON.parse(JSON.stringify(trainer.snapshot()));
        expect(snapshot.components.aggregator.target).toHaveLength(2);
        mtl.tf.dispose([x, ...targets]);
        model.dispose();
      });
    });
  },
  { webgpu: true },
);
