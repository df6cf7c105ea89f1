import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { cosineMatrix, lookaheadAffinity, relatednessMonitor, sharedGradients, suggestGroups } from "../../lib/eval/relatedness";
import { eachBackend } from "../helpers/backends";
import { batchTensors } from "../../lib/data/dataset";

function problem(rows = 64, seed = 1) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b"), mtl.tasks.classification("c", { classes: 2 })];
  const data = mtl.fromArrays({
    x,
    targets: { a: x.map((r) => r[0] + r[1]), b: x.map((r) => -r[0] - r[1]), c: x.map((r) => (r[2] > 0 ? 1 : 0)) },
    tasks,
  });
  return { tasks, data };
}

const tensors = (data: mtl.MultiTaskData, tasks: mtl.Task[]) =>
  batchTensors(
    data,
    tasks,
    Int32Array.from({ length: data.rows }, (_, i) => i),
  );

describe("cosineMatrix and suggestGroups", () => {
  it("cosines of hand vectors; a zero gradient has cosine 0", () => {
    const c = cosineMatrix([
      [1, 0],
      [1, 1],
      [-2, 0],
      [0, 0],
    ]);
    expect(c[0][1]).toBeCloseTo(Math.SQRT1_2, 12);
    expect(c[0][2]).toBeCloseTo(-1, 12);
    expect(c[1][2]).toBeCloseTo(-Math.SQRT1_2, 12);
    expect(c[3][0]).toBe(0);
    expect(c[2][2]).toBe(1);
  });

  it("groups tasks that help each other and keeps apart those that hurt", () => {
    const names = ["A", "B", "C", "D"];
    const Z = [
      [0, 0.5, -0.2, -0.1],
      [0.4, 0, -0.3, -0.2],
      [-0.2, -0.1, 0, 0.3],
      [-0.3, -0.2, 0.2, 0],
    ];
    const best = suggestGroups(Z, names);
    expect(best[0].groups).toEqual([
      ["A", "B"],
      ["C", "D"],
    ]);
    expect(best[0].score).toBeCloseTo(0.4 + 0.5 + 0.2 + 0.3, 12);
    const alone = suggestGroups(
      Z.map((r) => r.map((v) => -Math.abs(v))),
      names,
    );
    expect(alone[0].groups).toEqual([["A"], ["B"], ["C"], ["D"]]);
    expect(alone[0].score).toBe(0);
    // one network for all: only one candidate
    expect(suggestGroups(Z, names, { maxGroups: 1 })).toHaveLength(1);
    // Bell(4) = 15 partitions in all
    expect(suggestGroups(Z, names, { top: 100 })).toHaveLength(15);
    expect(() => suggestGroups([[0, 1]], ["A", "B"])).toThrow(/2 × 2/);
  });
});

eachBackend(() => {
  describe("task relatedness on a model", () => {
    it("per-task shared gradients add up to the gradient of the summed loss", () => {
      const { tasks, data } = problem();
      const model = mtl.hardSharing({ inputSize: 3, trunk: [6], tasks, seed: 3 });
      const { x, targets } = tensors(data, tasks);
      const g = sharedGradients(model, tasks, x, targets);
      const shared = model.sharedVariables().map(([, v]) => v);
      const total = tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const out = model.forward(x, false);
          return tf.addN(tasks.map((t, i) => t.loss(out[i], targets[i]))) as tf.Scalar;
        }, shared);
        return tf.concat(shared.map((v) => tf.reshape(grads[v.name], [-1])));
      });
      const sum = total.dataSync();
      for (let p = 0; p < sum.length; p++) expect(g[0][p] + g[1][p] + g[2][p]).toBeCloseTo(sum[p], 5);
      tf.dispose([x, total, ...targets]);
      model.dispose();
    });

    it("TAG's affinity equals a direct two-step computation, and restores θ_s", async () => {
      const { tasks, data } = problem(48, 2);
      const eta = 0.05;
      const model = mtl.hardSharing({ inputSize: 3, trunk: [5], tasks, seed: 4 });
      const { x, targets } = tensors(data, tasks);
      const before = model.namedVariables().map(([, v]) => Array.from(v.dataSync()));
      const count = tf.memory().numTensors;
      const Z = lookaheadAffinity(model, tasks, x, targets, eta);
      expect(tf.memory().numTensors).toBe(count);
      expect(model.namedVariables().map(([, v]) => Array.from(v.dataSync()))).toEqual(before);
      const L0 = new mtl.Trainer({ model, tasks, progress: false }).evaluate(data);
      for (let i = 0; i < tasks.length; i++) {
        // Directly: copy the model, take one SGD step of size η on task i alone (weight 1, others 0;
        // heads j ≠ i get no gradient, head i does not enter L_j), then read each L_j, j ≠ i.
        // (For j = i the trainer also moves head i, which TAG's Z_{i→i} keeps fixed.)
        const copy = mtl.hardSharing({ inputSize: 3, trunk: [5], tasks, seed: 4 });
        const weights = tasks.map((_, t) => (t === i ? 1 : 0));
        const trainer = new mtl.Trainer({
          model: copy,
          tasks,
          weights,
          optimizer: mtl.optimizers.sgd(eta),
          batchSize: data.rows,
          shuffle: false,
          progress: false,
        });
        await trainer.fit(data, { epochs: 1 });
        const L1 = trainer.evaluate(data);
        tasks.forEach((t, j) => {
          if (j !== i) expect(Z[i][j]).toBeCloseTo(1 - L1[t.name].loss / L0[t.name].loss, 4);
        });
        copy.dispose();
      }
      // a step on a task's own gradient lowers its own loss
      for (let i = 0; i < tasks.length; i++) expect(Z[i][i]).toBeGreaterThan(0);
      tf.dispose([x, ...targets]);
      model.dispose();
    });

    it("the monitor records cosines and affinities during training without leaking", async () => {
      const { tasks, data } = problem(64, 5);
      const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed: 6 });
      const monitor = relatednessMonitor({ model, tasks, data, every: 2, batchSize: 32, learningRate: 0.01, seed: 1 });
      const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, progress: false, callbacks: monitor.callbacks });
      await trainer.fit(data, { epochs: 1 });
      const count = tf.memory().numTensors;
      await trainer.fit(data, { epochs: 1 });
      expect(tf.memory().numTensors).toBe(count);
      expect(monitor.snapshots.map((s) => s.step)).toEqual([0, 2, 4, 6, 8]);
      const pairs = monitor.conflicts();
      expect(pairs.map((p) => `${p.a}-${p.b}`)).toEqual(["a-b", "a-c", "b-c"]);
      expect(pairs[0].conflictRate).toBeGreaterThan(0.5);
      expect(pairs[0].meanConflict).toBeLessThan(0);
      const Z = monitor.affinity();
      expect(Z).toHaveLength(3);
      expect(Z[0][1]).toBeLessThan(0);
      expect(monitor.meanCosine()[1][1]).toBe(1);
      expect(() => relatednessMonitor({ model, tasks, data, every: 0 })).toThrow(/'every' must be a positive integer/);
      const noEta = relatednessMonitor({ model, tasks, data });
      noEta.measure(0);
      expect(() => noEta.affinity()).toThrow(/learningRate/);
      model.dispose();
    });
  });
});
