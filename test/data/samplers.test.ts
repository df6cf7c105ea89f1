import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { hardSharing } from "../../lib/architectures/hardSharing";
import { MultiTaskData } from "../../lib/data/dataset";
import { mmoeSynthetic } from "../../lib/data/generators/mmoeSynthetic";
import { annealed, proportional, roundRobin, TaskSampler, temperature } from "../../lib/data/samplers";
import { datasetSizes as sizes } from "../../lib/train/batches";
import { Trainer } from "../../lib/train/trainer";
import { eachBackend } from "../helpers/backends";

function counts(sampler: TaskSampler, k: number, from: number, to: number): number[] {
  const c = new Array(k).fill(0);
  for (let s = from; s < to; s++) c[sampler.next(s)]++;
  return c;
}

/** Each share is within 4 binomial standard deviations of p (fails by chance with prob. < 1e-4). */
function expectShares(c: number[], p: number[]): void {
  const n = c.reduce((a, b) => a + b, 0);
  c.forEach((ci, i) => expect(Math.abs(ci / n - p[i])).toBeLessThanOrEqual(4 * Math.sqrt((p[i] * (1 - p[i])) / n) + 1e-12));
}

describe("task samplers", () => {
  const n = { a: 1000, b: 300, c: 50 };

  it("round-robin cycles through the tasks", () => {
    const s = roundRobin(n);
    expect(Array.from({ length: 7 }, (_, i) => s.next(i))).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(counts(s, 3, 0, 300)).toEqual([100, 100, 100]);
  });

  it("proportional: p_i = n_i / Σ n, and the counts over 20000 draws follow it", () => {
    const s = proportional(n, { seed: 1 });
    expect(s.probabilities(0)).toEqual([1000 / 1350, 300 / 1350, 50 / 1350].map((v) => expect.closeTo(v, 12)));
    expectShares(counts(s, 3, 0, 20000), s.probabilities(0));
  });

  it("temperature T: p_i ∝ n_i^(1/T); T = 1 is proportional, large T nearly uniform", () => {
    const z = 1000 ** 0.5 + 300 ** 0.5 + 50 ** 0.5;
    const t2 = temperature(n, { T: 2, seed: 2 });
    t2.probabilities(0).forEach((p, i) => expect(p).toBeCloseTo([1000, 300, 50][i] ** 0.5 / z, 12));
    expectShares(counts(t2, 3, 0, 20000), t2.probabilities(0));
    temperature(n, { T: 1 })
      .probabilities(0)
      .forEach((p, i) => expect(p).toBeCloseTo(proportional(n).probabilities(0)[i], 12));
    temperature(n, { T: 1e6 })
      .probabilities(0)
      .forEach((p) => expect(p).toBeCloseTo(1 / 3, 4));
  });

  it("annealed: proportional at the start, ∝ n^0.2 at the end, and the draws follow the schedule", () => {
    const S = 40000;
    const s = annealed(n, { totalSteps: S, seed: 3 });
    s.probabilities(0).forEach((p, i) => expect(p).toBeCloseTo(proportional(n).probabilities(0)[i], 12));
    const z = [1000, 300, 50].map((v) => v ** 0.2);
    s.probabilities(S - 1).forEach((p, i) => expect(p).toBeCloseTo(z[i] / z.reduce((a, b) => a + b), 12));
    // Over a short window the probabilities barely move: the counts follow the window's middle.
    expectShares(counts(s, 3, 0, 4000), s.probabilities(2000));
    expectShares(counts(s, 3, S - 4000, S), s.probabilities(S - 2000));
  });

  it("is seeded and its state restores", () => {
    const a = temperature(n, { T: 3, seed: 9 });
    counts(a, 3, 0, 10);
    const state = a.getState();
    const next = counts(a, 3, 10, 50);
    const b = temperature(n, { T: 3, seed: 0 });
    b.setState(state);
    expect(counts(b, 3, 10, 50)).toEqual(next);
  });

  it("refuses T ≤ 0 and empty datasets", () => {
    expect(() => temperature(n, { T: 0 })).toThrow(/temperature T must be a finite number > 0/);
    expect(() => temperature(n, { T: -1 })).toThrow(/> 0/);
    expect(() => proportional({ a: 10, b: 0 })).toThrow(/task 'b' has 0 rows; every task needs a non-empty dataset/);
    expect(() => roundRobin({})).toThrow(/no tasks/);
    expect(() => annealed(n, { totalSteps: 0 })).toThrow(/totalSteps/);
  });
});

eachBackend((backend) => {
  describe(`multi-dataset training on ${backend}`, () => {
    /** Two tasks, each with its own inputs: y1 on one draw of the MMoE data, y2 on another. */
    function setup(rows1: number, rows2: number) {
      const g1 = mmoeSynthetic({ p: 0.9, rows: rows1, inputSize: 10, seed: 1 });
      const g2 = mmoeSynthetic({ p: 0.9, rows: rows2, inputSize: 10, seed: 2 });
      const datasets: Record<string, MultiTaskData> = { y1: g1.data, y2: g2.data };
      const model = hardSharing({ inputSize: 10, trunk: [16], tasks: g1.tasks, seed: 1 });
      return { datasets, model, tasks: g1.tasks };
    }

    it("round-robin gives equal steps; each step moves only the shared trunk and its task's head", async () => {
      const { datasets, model, tasks } = setup(200, 60);
      const trainer = new Trainer({ model, tasks, sampler: roundRobin(sizes(datasets)), batchSize: 20, seed: 1, progress: false });
      const head2 = model.taskVariables(1).map(([, v]) => Array.from(v.dataSync()));
      const trunk = model.sharedVariables().map(([, v]) => Array.from(v.dataSync()));
      await trainer.fit(datasets, { steps: 1 });
      const r = trainer.history.steps[0];
      expect(r.task).toBe("y1");
      expect(r.losses[1]).toBeNaN(); // y2 did not train at this step
      expect(r.rows).toEqual([20, 0]);
      expect(model.taskVariables(1).map(([, v]) => Array.from(v.dataSync()))).toEqual(head2);
      expect(model.sharedVariables().map(([, v]) => Array.from(v.dataSync()))).not.toEqual(trunk);
      const before = tf.memory().numTensors;
      const h = await trainer.fit(datasets, { steps: 59 });
      expect(tf.memory().numTensors).toBe(before);
      expect(h.stepsSeen).toEqual({ y1: 30, y2: 30 });
      expect(h.examplesSeen).toEqual({ y1: 600, y2: 600 });
      expect(trainer.epochsCompleted).toEqual({ y1: 3, y2: 10 });
      model.dispose();
    });

    it("proportional sampling gives steps in proportion to dataset size, and both tasks learn", async () => {
      const { datasets, model, tasks } = setup(900, 300);
      const trainer = new Trainer({
        model,
        tasks,
        sampler: proportional(sizes(datasets), { seed: 4 }),
        batchSize: 32,
        seed: 2,
        optimizer: tf.train.adam(0.01),
        progress: false,
      });
      const first = trainer.evaluate(datasets);
      const h = await trainer.fit(datasets, { steps: 400, validation: datasets });
      expectShares([h.stepsSeen.y1, h.stepsSeen.y2], [0.75, 0.25]);
      // An epoch is one pass over all the datasets' batches: 29 + 10 steps; each ends with validation.
      expect(h.epochs).toHaveLength(Math.floor(400 / 39));
      expect(h.epochs.every((e) => e.validationLoss !== undefined)).toBe(true);
      const last = await trainer.evaluateAsync(datasets);
      expect(last.y1.loss).toBeLessThan(0.5 * first.y1.loss);
      expect(last.y2.loss).toBeLessThan(0.5 * first.y2.loss);
      model.dispose();
    });

    it("refuses a missing, empty or mismatched dataset and a sampler for other tasks", async () => {
      const { datasets, model, tasks } = setup(50, 50);
      const sampler = roundRobin(sizes(datasets));
      const trainer = new Trainer({ model, tasks, sampler, progress: false });
      await expect(trainer.fit({ y1: datasets.y1 })).rejects.toThrow(/task 'y2' has no dataset/);
      const empty = { ...datasets.y2, rows: 0, features: new Float32Array(0), targets: { y2: { values: new Float32Array(0), width: 1 } } };
      await expect(trainer.fit({ ...datasets, y2: empty })).rejects.toThrow(/dataset of task 'y2' is empty/);
      const wide = mmoeSynthetic({ p: 0, rows: 5, inputSize: 12 }).data;
      await expect(trainer.fit({ ...datasets, y2: wide })).rejects.toThrow(/'y2' has 12 features but the model takes 10/);
      expect(trainer.history.steps).toHaveLength(0);
      expect(() => new Trainer({ model, tasks, sampler: roundRobin([5, 5, 5]) })).toThrow(/built for 3 tasks but there are 2/);
      model.dispose();
    });
  });
});
