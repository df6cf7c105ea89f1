import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { trainSeeds, trainSingleTaskBaselines, tablesOf } from "../../lib/eval/baselines";
import { compareComplexity, complexity } from "../../lib/eval/complexity";
import { compareTransfer, freezeShared } from "../../lib/eval/transfer";
import { deltaMOverSeeds } from "../../lib/eval/deltaM";
import { eachBackend } from "../helpers/backends";

function problem(rows = 120, seed = 1) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.classification("b", { classes: 2 })];
  const data = mtl.fromArrays({ x, targets: { a: x.map((r) => r[0] + r[1]), b: x.map((r) => (r[0] + r[1] > 0 ? 1 : 0)) }, tasks });
  return { tasks, data };
}

const build: mtl.evaluation.ModelFactory = (tasks, seed) => mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed });
const trainer = () => ({ optimizer: tf.train.adam(0.02), batchSize: 20 });

eachBackend(() => {
  describe("baselines, transfer and complexity", () => {
    it("single-task baselines: one model per task and seed, reproducible, same budget", async () => {
      const { tasks, data } = problem();
      const opts = { build, tasks, train: data, test: data, seeds: [1, 2], epochs: 3, trainer };
      const base = await trainSingleTaskBaselines(opts);
      expect(Object.keys(base.perTask)).toEqual(["a", "b"]);
      expect(base.perTask.a.map((r) => r.seed)).toEqual([1, 2]);
      expect(base.perTask.a[0].evaluation.tasks.a).toBeDefined();
      expect(base.perTask.a[0].evaluation.tasks.b).toBeUndefined();
      // same budget: 3 epochs × 6 batches for every model
      expect(base.perTask.b[1].history.steps.length).toBe(18);
      const again = await trainSingleTaskBaselines({ ...opts, tasks: [tasks[0]] });
      expect(again.tables[0].a).toEqual(base.tables[0].a);
      expect(base.tables[0].a.mse).not.toBe(base.tables[1].a.mse);
      const multi = await trainSeeds(opts);
      expect(multi[0].history.steps.length).toBe(18);
      const d = deltaMOverSeeds(tablesOf(multi), base.tables, { tasks, metrics: { a: ["mse"], b: ["accuracy"] } });
      expect(d.runs).toHaveLength(2);
      expect(Number.isFinite(d.summary.mean)).toBe(true);
      await expect(trainSeeds({ ...opts, seeds: [1, 1] })).rejects.toThrow(/repeats a seed/);
      await expect(trainSeeds({ ...opts, build: (t, s) => build([t[0]], s) })).rejects.toThrow(/returned a model for tasks \(a\)/);
    });

    it("freezing keeps θ_s fixed while the head learns", async () => {
      const { tasks, data } = problem();
      const model = build([tasks[0]], 3);
      const trunk = model.sharedVariables().map(([, v]) => Array.from(v.dataSync()));
      const head = model.taskVariables(0).map(([, v]) => Array.from(v.dataSync()));
      const t = new mtl.Trainer({ model: freezeShared(model), tasks: [tasks[0]], progress: false, ...trainer() });
      await t.fit(data, { epochs: 1 });
      expect(model.sharedVariables().map(([, v]) => Array.from(v.dataSync()))).toEqual(trunk);
      expect(model.taskVariables(0).map(([, v]) => Array.from(v.dataSync()))).not.toEqual(head);
      model.dispose();
    });

    it("transfer vs joint: every strategy, same seeds, B's metrics", async () => {
      const { tasks, data } = problem();
      const r = await compareTransfer({
        source: tasks[0],
        target: tasks[1],
        build,
        train: data,
        test: data,
        seeds: [1, 2],
        epochs: 4,
        trainer,
      });
      expect(Object.keys(r.runs)).toEqual(["joint", "scratch", "fineTune", "frozen"]);
      for (const runs of Object.values(r.runs)) expect(runs).toHaveLength(2);
      expect(r.primaryMetric).toBe("accuracy");
      expect(r.runs.joint[0].a).toBeDefined();
      expect(r.summary.scratch.n).toBe(2);
      expect(r.summary.joint.mean).toBeGreaterThan(0.6);
      expect(r.toDataFrame().columns).toEqual(["strategy", "seed", "task", "metric", "value"]);
      await expect(
        compareTransfer({ source: tasks[0], target: tasks[1], build, train: data, test: data, seeds: [1], epochs: 4, pretrainEpochs: 4 }),
      ).rejects.toThrow(/'pretrainEpochs' must be an integer in \[1, 3\]/);
    });

    it("complexity: parameter counts, FLOPs, a timed step that leaves the model unchanged", async () => {
      const { tasks, data } = problem();
      const multi = build(tasks, 1);
      const before = multi.namedVariables().map(([, v]) => Array.from(v.dataSync()));
      const c = await complexity(multi, { tasks, data, batchSize: 32, repeats: 3 });
      expect(multi.namedVariables().map(([, v]) => Array.from(v.dataSync()))).toEqual(before);
      // trunk 3→8: 32; heads 8→1: 9 and 8→2: 18
      expect(c.parameters).toEqual({ shared: 32, perTask: { a: 9, b: 18 }, total: 59 });
      expect(c.stepMs).toBeGreaterThan(0);
      const singles = await Promise.all(tasks.map((t) => complexity(build([t], 1))));
      const rows = compareComplexity(c, singles);
      expect(rows[1].parameters).toBe(32 + 9 + 32 + 18);
      expect(rows[2].parameters).toBeCloseTo(59 / 91, 12);
      expect(rows[2].flopsPerExample).toBeLessThan(1);
      await expect(complexity(multi, { tasks })).rejects.toThrow(/both 'tasks' and 'data'/);
      multi.dispose();
    });
  });
});
