/**
 * The guide's PyTorch example reproduced in mtlkit: same initial weights, same data, same batches,
 * Adam at 1e-3, loss = CE + MSE; the per-step losses must agree with PyTorch's to 1e-4 relative.
 * The reference comes from test/fixtures/seed_parity.py (Debian's python3-torch).
 */
import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as mtl from "../lib";
import { eachBackend } from "./helpers/backends";

interface DenseJson {
  kernel: number[][];
  bias: number[];
}
const fixture = JSON.parse(readFileSync(join(__dirname, "fixtures", "seed-parity.json"), "utf8")) as {
  config: { input: number; shared: number; classes: number; rows: number; batch: number; steps: number; lr: number };
  x: number[][];
  y1: number[];
  y2: number[];
  initial: { shared: DenseJson; task1: DenseJson; task2: DenseJson };
  losses: Array<{ task1: number; task2: number; total: number }>;
};

eachBackend((backend) => {
  describe(`the seed example on ${backend}`, () => {
    it("matches PyTorch's per-step losses to 1e-4 relative for 25 steps", () => {
      const { config } = fixture;
      const tasks = [mtl.tasks.classification("task1", { classes: config.classes }), mtl.tasks.regression("task2")];
      const model = mtl.hardSharing({ inputSize: config.input, trunk: [config.shared], tasks, activation: "relu" });
      const vars = Object.fromEntries(model.namedVariables());
      const load = (prefix: string, d: DenseJson) => {
        vars[`${prefix}.kernel`].assign(tf.tensor2d(d.kernel));
        vars[`${prefix}.bias`].assign(tf.tensor1d(d.bias));
      };
      load("trunk.0", fixture.initial.shared);
      load("head.task1.0", fixture.initial.task1);
      load("head.task2.0", fixture.initial.task2);

      const data = mtl.fromArrays({ x: fixture.x, targets: { task1: fixture.y1, task2: fixture.y2 }, tasks });
      const trainer = new mtl.Trainer({ model, tasks, optimizer: mtl.optimizers.adam({ learningRate: config.lr }), progress: false });
      for (let step = 0; step < config.steps; step++) {
        const start = (step * config.batch) % config.rows;
        const indices = Int32Array.from({ length: config.batch }, (_, i) => start + i);
        const x = tf.tensor2d(mtl.subset(data, indices).features, [config.batch, config.input]);
        const targets = tasks.map((t) => t.targetTensor(mtl.subset(data, indices).targets[t.name], config.batch));
        const record = trainer.trainStep(x, targets);
        tf.dispose([x, ...targets]);
        const expected = fixture.losses[step];
        expect(Math.abs(record.losses[0] - expected.task1) / expected.task1).toBeLessThan(1e-4);
        expect(Math.abs(record.losses[1] - expected.task2) / expected.task2).toBeLessThan(1e-4);
        expect(Math.abs(record.total - expected.total) / expected.total).toBeLessThan(1e-4);
      }
      model.dispose();
      trainer.optimizer.dispose();
    });
  });
});
