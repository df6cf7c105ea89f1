/**
 * Restoring a component's state leaks nothing: for every weighting method and every aggregator,
 * a trainer restored from its own snapshot again and again keeps tf.memory().numTensors flat, and
 * keeps training (the restored state is live, not a copy left behind).
 */
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";

const W = mtl.weighting;
const A = mtl.aggregators;

type Rule = { weighting: mtl.weighting.Weighting } | { aggregator: mtl.aggregators.Aggregator };

const RULES: Array<[string, () => Rule]> = [
  ["weighting.uncertainty", () => ({ weighting: W.uncertainty() })],
  ["weighting.uncertainty (own learning rate)", () => ({ weighting: W.uncertainty({ learningRate: 0.025 }) })],
  ["weighting.dwa", () => ({ weighting: W.dwa() })],
  ["weighting.gradNorm", () => ({ weighting: W.gradNorm() })],
  ["weighting.rlw", () => ({ weighting: W.rlw({ seed: 1 }) })],
  ["weighting.gls", () => ({ weighting: W.gls() })],
  ["weighting.dtp", () => ({ weighting: W.dtp({ kpi: "manual" }) })],
  ["weighting.famo", () => ({ weighting: W.famo() })],
  ["weighting.imtlL", () => ({ weighting: W.imtlL() })],
  ["weighting.stch", () => ({ weighting: W.stch() })],
  ["aggregators.pcgrad", () => ({ aggregator: A.pcgrad({ seed: 1 }) })],
  ["aggregators.gradvac", () => ({ aggregator: A.gradvac({ seed: 1 }) })],
  ["aggregators.graddrop", () => ({ aggregator: A.graddrop({ seed: 1 }) })],
  ["aggregators.nashMtl", () => ({ aggregator: A.nashMtl() })],
  ["aggregators.moco", () => ({ aggregator: A.moco() })],
  ["aggregators.dbmtl", () => ({ aggregator: A.dbmtl() })],
  ["aggregators.fairgrad", () => ({ aggregator: A.fairgrad() })],
];

describe("restoring component state keeps the tensor count flat", () => {
  for (const [name, make] of RULES) {
    it(name, async () => {
      const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
      const model = mtl.hardSharing({ inputSize: 3, trunk: [4], tasks, seed: 2 });
      const trainer = new mtl.Trainer({ model, tasks, ...make(), optimizer: mtl.optimizers.adam(), progress: false });
      const x = mtl.tf.tensor2d([
        [1, 2, 3],
        [4, -5, 6],
        [0.5, 0, -1],
      ]);
      const targets = [mtl.tf.tensor2d([[1], [2], [0]]), mtl.tf.tensor2d([[0], [1], [-1]])];
      try {
        await trainer.trainStep(x, targets);
        await trainer.trainStep(x, targets);
        const saved = JSON.parse(JSON.stringify(await trainer.snapshotAsync()));
        trainer.restore(saved);
        const before = mtl.tf.memory().numTensors;
        for (let i = 0; i < 5; i++) trainer.restore(saved);
        expect(mtl.tf.memory().numTensors, `${name}: tensors after 5 restores`).toBe(before);
        const record = await trainer.trainStep(x, targets);
        expect(record.losses.every(Number.isFinite)).toBe(true);
        trainer.restore(saved);
        expect(mtl.tf.memory().numTensors, `${name}: tensors after a step and a restore`).toBe(before);
      } finally {
        mtl.tf.dispose([x, ...targets]);
        for (const c of Object.values(trainer.components)) (c as { dispose?: () => void }).dispose?.();
        model.dispose();
      }
    });
  }
});
