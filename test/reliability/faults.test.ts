/** Training faults: non-finite gradients named by task, step and tensor; global and per-task clipping. */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";

function setup() {
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
  const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });
  const x = tf.tensor2d([
    [1, 2],
    [3, -1],
    [0.5, 0.5],
  ]);
  const targets = [tf.tensor2d([[1], [2], [3]]), tf.tensor2d([[100], [-200], [300]])];
  return { tasks, model, x, targets };
}

eachBackend(() => {
  describe("training faults", () => {
    it("a NaN gradient with finite losses stops training naming task, step and tensor", async () => {
      const { tasks, model, x, targets } = setup();
      // A head whose gradient is NaN while its output is finite: d/dy sqrt(|y|·0) at 0 is infinite.
      const w = tf.variable(tf.ones([4, 1]));
      const sqrtHead = {
        apply: (h: tf.Tensor2D) => tf.add(tf.matMul(h, w), tf.sqrt(tf.mul(tf.sum(h, 1, true), 0))) as tf.Tensor2D,
        variables: [w],
        outputSize: 1,
      };
      const bad = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, heads: { b: sqrtHead }, seed: 1 });
      const trainer = new mtl.Trainer({ model: bad, tasks, progress: false });
      await expect(trainer.trainStep(x, targets)).rejects.toThrow(
        /gradient of task 'b' with respect to '(trunk\.0\.(kernel|bias)|head\.b\.0)' is NaN at step 0 although the losses are finite/,
      );
      const skipping = new mtl.Trainer({ model: bad, tasks, progress: false, onNonFinite: "skip" });
      expect((await skipping.trainStep(x, targets)).applied).toBe(false);
      // The skipped step leaves the weighting's state as it was (RLW draws its weights from its RNG).
      for (const weighting of [mtl.weighting.rlw({ seed: 3 }), mtl.weighting.gradNorm()]) {
        const t = new mtl.Trainer({ model: bad, tasks, progress: false, onNonFinite: "skip", weighting });
        const before = JSON.stringify(weighting.state());
        expect((await t.trainStep(x, targets)).applied).toBe(false);
        expect(JSON.stringify(weighting.state())).toBe(before);
      }
      tf.dispose([x, ...targets]);
      model.dispose();
      bad.dispose();
    });

    it("clipNorm caps the global update norm, clipTaskNorm each task's gradient", async () => {
      const { tasks, model, x, targets } = setup();
      const sgd = (c: Partial<mtl.TrainerOptions>) =>
        new mtl.Trainer({ model, tasks, progress: false, optimizer: mtl.optimizers.sgd(1), ...c });
      const snapshot = () => model.namedVariables().map(([, v]) => Array.from(v.dataSync()));
      const restore = (values: number[][]) => model.namedVariables().forEach(([, v], i) => v.assign(tf.tensor(values[i], v.shape)));
      const start = snapshot();
      const stepSize = () => Math.sqrt(snapshot().reduce((s, v, i) => s + v.reduce((t, x, j) => t + (x - start[i][j]) ** 2, 0), 0));

      const free = await sgd({}).trainStep(x, targets);
      expect(stepSize()).toBeCloseTo(free.gradNorm!, 2);
      expect(free.gradNorm!).toBeGreaterThan(10);
      restore(start);
      await sgd({ clipNorm: 0.5 }).trainStep(x, targets);
      expect(stepSize()).toBeCloseTo(0.5, 4);
      restore(start);
      // Per task: task b's huge gradient is clipped to 0.1, task a's small one is left; the sum is ≤ 0.2.
      await sgd({ clipTaskNorm: 0.1 }).trainStep(x, targets);
      expect(stepSize()).toBeLessThanOrEqual(0.2 + 1e-5);
      expect(stepSize()).toBeGreaterThan(0.05);
      const clipped = sgd({ clipTaskNorm: 0.1, clipNorm: 0.15 });
      await clipped.trainStep(x, targets);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await clipped.trainStep(x, targets);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, ...targets]);
      model.dispose();
    });

    it("refuses non-positive clip norms", () => {
      const { tasks, model } = setup();
      expect(() => new mtl.Trainer({ model, tasks, clipNorm: 0 })).toThrow(/option 'clipNorm' must be a positive number, got 0/);
      expect(() => new mtl.Trainer({ model, tasks, clipTaskNorm: -1 })).toThrow(/option 'clipTaskNorm'/);
      model.dispose();
    });
  });
});
