/**
 * One Trainer for every path: multi-dataset training has the weighting methods, aggregators,
 * regularizers, clipping, the non-finite policy, callbacks and exact checkpoints of any other run;
 * an update rule and a batch source that cannot go together are refused before training, naming
 * both; a non-finite gradient never reaches the parameters.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";

function problem(rows: number, seed: number) {
  const tasks = [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];
  const rng = new mtl.Rng(seed);
  const x: number[][] = [];
  const c: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < rows; i++) {
    const row = [rng.normal(), rng.normal(), rng.normal()];
    x.push(row);
    c.push(row[0] > 0.4 ? 2 : row[0] > -0.4 ? 1 : 0);
    r.push(row[1] - row[2]);
  }
  return { tasks, data: mtl.fromArrays({ x, targets: { c, r }, tasks }) };
}

function setup() {
  const a = problem(40, 1);
  const b = problem(24, 2);
  const datasets = { c: a.data, r: b.data };
  const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks: a.tasks, seed: 4 });
  return { tasks: a.tasks, datasets, single: a.data, model };
}

eachBackend(() => {
  describe("an update rule and a batch source that do not fit are refused before training, naming both", () => {
    it("a sampler with an aggregator, or with a weighting that weighs every task at each step", () => {
      const { tasks, datasets, model } = setup();
      const sampler = mtl.data.roundRobin(mtl.data.datasetSizes(datasets));
      expect(() => new mtl.Trainer({ model, tasks, sampler, aggregator: mtl.aggregators.pcgrad() })).toThrow(
        /Trainer: option 'aggregator' \(PCGrad\) cannot be used with option 'sampler' \(roundRobin\)/,
      );
      expect(() => new mtl.Trainer({ model, tasks, sampler, weighting: mtl.weighting.dwa() })).toThrow(
        /Trainer: option 'weighting' \(dwa\) cannot be used with option 'sampler' \(roundRobin\)/,
      );
      // Static weights go with a sampler.
      expect(new mtl.Trainer({ model, tasks, sampler, weights: { c: 2 }, progress: false }).weights).toEqual([2, 1]);
      model.dispose();
    });

    it("a sampler without per-task datasets, and a rep-level aggregator with per-task datasets", async () => {
      const { tasks, datasets, single, model } = setup();
      const sampler = mtl.data.roundRobin(mtl.data.datasetSizes(datasets));
      const sampled = new mtl.Trainer({ model, tasks, sampler, progress: false });
      await expect(sampled.fit(single)).rejects.toThrow(
        /Trainer\.fit: option 'sampler' \(roundRobin\) draws one task per step from one dataset per task, but the training data is one dataset/,
      );
      await expect(sampled.fit(datasets, { validation: { c: single, x: single } as never })).rejects.toThrow(
        /validation set .* has a dataset for 'x'/,
      );
      const rep = new mtl.Trainer({ model, tasks, aggregator: mtl.aggregators.mgda(), level: "rep", progress: false });
      await expect(rep.fit(datasets)).rejects.toThrow(
        /option 'aggregator' \(MGDA\) at level "rep" needs one representation z for all tasks, but the training data is one dataset per task/,
      );
      expect(sampled.history.steps.length + rep.history.steps.length).toBe(0);
      model.dispose();
    });

    it("an aggregator with a model that has no shared parameters", () => {
      const { tasks } = setup();
      const towers = mtl.softSharing({ inputSize: 3, tasks, towers: [4], seed: 1 });
      const shared = towers.sharedVariables().length;
      if (shared === 0) {
        expect(() => new mtl.Trainer({ model: towers, tasks, aggregator: mtl.aggregators.pcgrad() })).toThrow(
          /aggregator PCGrad .* the model \(softSharing\) has no shared parameters/,
        );
      }
      const fnTrunk = mtl.hardSharing({
        inputSize: 3,
        trunk: { apply: (x: tf.Tensor2D) => tf.relu(x), variables: [], outputSize: 3 },
        tasks,
      });
      expect(() => new mtl.Trainer({ model: fnTrunk, tasks, aggregator: mtl.aggregators.upgrad(), level: "rep" })).toThrow(
        /aggregator UPGrad \(level "rep"\) .* has no shared parameters/,
      );
      towers.dispose();
      fnTrunk.dispose();
    });
  });

  describe("multi-dataset training has every trainer feature", () => {
    it("every task at each step on its own dataset: a weighting method, clipping, regularizer, callbacks, flat tensors", async () => {
      const { tasks, datasets, model } = setup();
      const seen: number[] = [];
      const trainer = new mtl.Trainer({
        model,
        tasks,
        batchSize: 8,
        seed: 2,
        progress: false,
        weighting: mtl.weighting.gradNorm(),
        clipNorm: 1,
        regularizers: [mtl.regularizers.l2(1e-3)],
        callbacks: { onStepEnd: (s) => void seen.push(s.step) },
      });
      await trainer.fit(datasets, { epochs: 1 });
      const before = tf.memory().numTensors;
      const h = await trainer.fit(datasets, { epochs: 1, validation: datasets });
      expect(tf.memory().numTensors).toBe(before);
      // An epoch is the longest dataset's batches (40 / 8); the shorter one wraps around on its own.
      expect(h.steps).toHaveLength(10);
      expect(seen).toEqual(h.steps.map((s) => s.step));
      expect(h.steps.every((s) => s.losses.every(Number.isFinite) && s.gradNorm! > 0 && Object.keys(s.regularizers).length === 1)).toBe(
        true,
      );
      expect(h.examplesSeen).toEqual({ c: 80, r: 80 });
      expect(trainer.epochsCompleted).toEqual({ c: 2, r: 3 });
      expect(Object.keys(h.epochs[1].validationLoss!)).toEqual(["c", "r"]);
      model.dispose();
    });

    it("an aggregator at param level, every task on its own dataset", async () => {
      const { tasks, datasets, model } = setup();
      const trainer = new mtl.Trainer({ model, tasks, batchSize: 8, seed: 2, progress: false, aggregator: mtl.aggregators.upgrad() });
      const first = trainer.evaluate(datasets);
      await trainer.fit(datasets, { epochs: 15 });
      const last = trainer.evaluate(datasets);
      expect(last.r.loss).toBeLessThan(first.r.loss);
      expect(last.c.loss).toBeLessThan(first.c.loss);
      expect(trainer.history.steps.at(-1)!.weights.every((w) => w > 0)).toBe(true);
      model.dispose();
    });

    it("a sampled run checkpointed mid-epoch resumes batch for batch", async () => {
      const dir = mkdtempSync(join(tmpdir(), "mtlkit-sampled-"));
      try {
        const build = () => {
          const { tasks, datasets } = setup();
          const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed: 4 });
          const sampler = mtl.data.temperature(mtl.data.datasetSizes(datasets), { T: 2, seed: 5 });
          return { tasks, datasets, model, options: { model, tasks, sampler, batchSize: 8, seed: 3, progress: false, clipTaskNorm: 5 } };
        };
        const straight = build();
        const all = await new mtl.Trainer(straight.options).fit(straight.datasets, { steps: 17 });
        const first = build();
        const t1 = new mtl.Trainer(first.options);
        await t1.fit(first.datasets, { steps: 7 }); // mid-epoch (an epoch is 5 + 3 steps)
        await t1.save(dir);
        const second = build();
        const t2 = await mtl.Trainer.resume(dir, second.options);
        const h = await t2.fit(second.datasets, { steps: 10 });
        expect(h.steps.map((s) => [s.task, s.losses])).toEqual(all.steps.map((s) => [s.task, s.losses]));
        for (const b of [straight, first, second]) b.model.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("a non-finite gradient is never applied", () => {
    it("stop and skip leave every parameter and optimizer slot as it was", async () => {
      const { tasks, single } = setup();
      // sqrt at 0 has an infinite derivative: finite outputs and losses, a NaN gradient.
      const w = tf.variable(tf.ones([8, 1]));
      const head = {
        apply: (h: tf.Tensor2D) => tf.add(tf.matMul(h, w), tf.sqrt(tf.mul(tf.sum(h, 1, true), 0))) as tf.Tensor2D,
        variables: [w],
        outputSize: 1,
      };
      const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, heads: { r: head }, seed: 1 });
      const params = () => model.namedVariables().map(([, v]) => Array.from(v.dataSync()));
      const before = params();
      for (const onNonFinite of ["stop", "skip"] as const) {
        for (const extra of [{}, { aggregator: mtl.aggregators.mean() }]) {
          const trainer = new mtl.Trainer({ model, tasks, progress: false, onNonFinite, batchSize: 8, ...extra });
          const run = trainer.fit(single, { epochs: 1 });
          if (onNonFinite === "stop") await expect(run).rejects.toThrow(/gradient of task 'r'/);
          else expect((await run).steps.every((s) => !s.applied)).toBe(true);
          expect(params()).toEqual(before);
          // No moment was written (Adam makes its slots on the first update it applies).
          expect((await trainer.optimizer.getWeights()).filter((v) => v.name !== "iter")).toHaveLength(0);
        }
      }
      model.dispose();
      w.dispose();
    });
  });
});
