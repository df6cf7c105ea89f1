import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { evaluate } from "../../lib/eval/evaluate";
import { eachBackend } from "../helpers/backends";

/** A fixed "model" whose outputs are given per row: evaluate only sees forward(). */
function fixedModel(tasks: mtl.Task[], outputs: number[][][]): mtl.MultiTaskModel {
  // outputs[task][row] = head output row; forward(x) reads the row index from x[:, 0].
  const model = mtl.hardSharing({ inputSize: 1, trunk: [1], tasks, seed: 0 });
  return Object.assign(Object.create(model), {
    forward(x: tf.Tensor2D) {
      const idx = Array.from(x.slice([0, 0], [-1, 1]).dataSync(), Math.round);
      return tasks.map((_, t) => tf.tensor2d(idx.map((r) => outputs[t][r])));
    },
  });
}

const oneHot = (c: number, k: number) => Array.from({ length: k }, (_, i) => (i === c ? 5 : 0));

eachBackend(() => {
  describe("evaluate", () => {
    it("matches a hand-computed confusion matrix, with an empty class and 0 (not NaN) for 0/0", () => {
      const cls = mtl.tasks.classification("c", { classes: ["a", "b", "z"] });
      const target = [0, 0, 1, 1, 0, 1];
      const pred = [0, 1, 1, 1, 0, 0];
      const x = target.map((_, i) => [i]);
      const data = mtl.fromArrays({ x, targets: { c: target }, tasks: [cls] });
      const model = fixedModel([cls], [pred.map((p) => oneHot(p, 3))]);
      for (const batchSize of [1, 4, 1024]) {
        const ev = evaluate(model, data, [cls], { batchSize });
        const r = ev.tasks.c;
        // rows: target, columns: predicted; class 'z' never occurs
        expect(r.confusion).toEqual([
          [2, 1, 0],
          [1, 2, 0],
          [0, 0, 0],
        ]);
        expect(r.metrics.accuracy).toBeCloseTo(4 / 6, 12);
        expect(r.perClass!.precision).toEqual([2 / 3, 2 / 3, 0]);
        expect(r.perClass!.recall).toEqual([2 / 3, 2 / 3, 0]);
        expect(r.perClass!.f1.map((v) => +v.toFixed(12))).toEqual([+(2 / 3).toFixed(12), +(2 / 3).toFixed(12), 0]);
        expect(r.perClass!.support).toEqual([3, 3, 0]);
        expect(r.perClass!.labels).toEqual(["a", "b", "z"]);
        expect(r.metrics.f1Macro).toBeCloseTo((2 / 3 + 2 / 3 + 0) / 3, 12);
        expect(r.metrics.f1Micro).toBeCloseTo(4 / 6, 12);
        expect(Object.values(r.metrics).every(Number.isFinite)).toBe(true);
      }
      model.dispose();
    });

    it("all predictions in one class: precision of the never-predicted classes is 0", () => {
      const cls = mtl.tasks.classification("c", { classes: 3 });
      const target = [0, 1, 2, 2];
      const data = mtl.fromArrays({ x: target.map((_, i) => [i]), targets: { c: target }, tasks: [cls] });
      const model = fixedModel([cls], [target.map(() => oneHot(2, 3))]);
      const r = evaluate(model, data, [cls], { batchSize: 3 }).tasks.c;
      expect(r.confusion).toEqual([
        [0, 0, 1],
        [0, 0, 1],
        [0, 0, 2],
      ]);
      expect(r.perClass!.precision).toEqual([0, 0, 0.5]);
      expect(r.perClass!.recall).toEqual([0, 0, 1]);
      expect(r.metrics.precisionMacro).toBeCloseTo(0.5 / 3, 12);
      expect(r.metrics.recallMacro).toBeCloseTo(1 / 3, 12);
      expect(r.metrics.f1Macro).toBeCloseTo((2 * 0.5 * 1) / 1.5 / 3, 12);
      model.dispose();
    });

    it("binary, multi-label and regression agree with task.metrics on the whole set, in any batch size", () => {
      const bin = mtl.tasks.binary("b");
      const ml = mtl.tasks.multiLabel("m", { labels: 3 });
      const reg = mtl.tasks.regression("r", { outputs: 2 });
      const tasks = [bin, ml, reg];
      const rng = new mtl.Rng(3);
      const n = 37;
      const outs: number[][][] = [[], [], []];
      const tb: number[] = [];
      const tm: number[][] = [];
      const tr: number[][] = [];
      for (let i = 0; i < n; i++) {
        outs[0].push([rng.normal()]);
        outs[1].push([rng.normal(), rng.normal(), rng.normal()]);
        outs[2].push([rng.normal(), rng.normal()]);
        tb.push(rng.uniform() < 0.4 ? 1 : 0);
        tm.push([0, 1, 2].map(() => (rng.uniform() < 0.5 ? 1 : 0)));
        tr.push([rng.normal(), 3 + rng.normal()]);
      }
      const data = mtl.fromArrays({ x: tb.map((_, i) => [i]), targets: { b: tb, m: tm, r: tr }, tasks });
      const model = fixedModel(tasks, outs);
      const full = [
        bin.metrics(bin.decode(Float32Array.from(outs[0].flat()), n), data.targets.b.values),
        ml.metrics(ml.decode(Float32Array.from(outs[1].flat()), n), data.targets.m.values),
        reg.metrics(Float32Array.from(outs[2].flat()), data.targets.r.values),
      ];
      for (const batchSize of [1, 5, 100]) {
        const ev = evaluate(model, data, tasks, { batchSize });
        tasks.forEach((t, i) => {
          for (const [m, v] of Object.entries(full[i])) expect(ev.tasks[t.name].metrics[m]).toBeCloseTo(v, 5);
        });
        // the loss is the mean over rows, whatever the batching
        const loss = tf.tidy(() => reg.loss(tf.tensor2d(outs[2]), tf.tensor2d(tr)).dataSync()[0]);
        expect(ev.tasks.r.loss).toBeCloseTo(loss, 5);
      }
      const ev = evaluate(model, data, tasks);
      const [tn, fp] = ev.tasks.b.confusion![0];
      const [fn, tp] = ev.tasks.b.confusion![1];
      expect(tn + fp + fn + tp).toBe(n);
      expect(ev.tasks.b.metrics.precision).toBeCloseTo(tp / (tp + fp), 12);
      const frame = ev.toDataFrame();
      expect(frame.columns).toEqual(["task", "metric", "value", "higherIsBetter"]);
      expect(frame.shape[0]).toBe(tasks.reduce((s, t) => s + 1 + t.metricSpecs.length, 0)); // loss + each metric
      expect(ev.rows.find((r) => r.task === "r" && r.metric === "mse")!.higherIsBetter).toBe(false);
      model.dispose();
    });

    it("streams a real model without leaking tensors and agrees with Trainer.evaluate", async () => {
      const tasks = [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];
      const rng = new mtl.Rng(1);
      const x = Array.from({ length: 300 }, () => [rng.normal(), rng.normal()]);
      const data = mtl.fromArrays({
        x,
        targets: { c: x.map((r) => (r[0] > 0.5 ? 2 : r[0] > -0.5 ? 1 : 0)), r: x.map((r) => r[0] * r[1]) },
        tasks,
      });
      const model = mtl.hardSharing({ inputSize: 2, trunk: [8], tasks, seed: 2 });
      evaluate(model, data, tasks, { batchSize: 64 });
      const before = tf.memory().numTensors;
      const ev = evaluate(model, data, tasks, { batchSize: 64 });
      expect(tf.memory().numTensors).toBe(before);
      const trainer = new mtl.Trainer({ model, tasks, progress: false });
      const te = trainer.evaluate(data);
      expect(ev.tasks.c.metrics.accuracy).toBeCloseTo(te.c.metrics.accuracy, 10);
      expect(ev.tasks.r.metrics.mse).toBeCloseTo(te.r.metrics.mse, 5);
      expect(ev.tasks.c.loss).toBeCloseTo(te.c.loss, 5);
      model.dispose();
    });

    it("refuses tasks that are not the model's, and data of the wrong width", () => {
      const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
      const model = mtl.hardSharing({ inputSize: 2, trunk: [2], tasks, seed: 0 });
      const data = mtl.fromArrays({ x: [[1, 2]], targets: { a: [1], b: [2] } });
      expect(() => evaluate(model, data, [tasks[1], tasks[0]])).toThrow(/must be the model's tasks in its order \(a, b\)/);
      const narrow = mtl.fromArrays({ x: [[1]], targets: { a: [1], b: [2] } });
      expect(() => evaluate(model, narrow, tasks)).toThrow(/1 features but the model takes 2 \(its inputSize\)/);
      const missing = mtl.fromArrays({ x: [[1, 2]], targets: { a: [1] } });
      expect(() => evaluate(model, missing, tasks)).toThrow(/regression\('b'\).*no targets/);
      model.dispose();
    });
  });
});

describe("evaluatePredictions", () => {
  it("scores given predictions like evaluate, and refuses lengths that do not match", () => {
    const cls = mtl.tasks.classification("c", { classes: 3 });
    const reg = mtl.tasks.regression("r");
    const data = mtl.fromArrays({ x: [[0], [1], [2], [3]], targets: { c: [0, 1, 2, 2], r: [1, 2, 3, 4] }, tasks: [cls, reg] });
    const ev = mtl.evaluation.evaluatePredictions([cls, reg], { c: [2, 2, 2, 2], r: [1, 2, 3, 5] }, data);
    expect(ev.tasks.c.confusion).toEqual([
      [0, 0, 1],
      [0, 0, 1],
      [0, 0, 2],
    ]);
    expect(ev.tasks.c.metrics.precisionMacro).toBeCloseTo(0.5 / 3, 12);
    expect(ev.tasks.r.metrics.mse).toBeCloseTo(0.25, 12);
    expect(ev.tasks.r.metrics.r2).toBeCloseTo(1 - 1 / 5, 12);
    expect(() => mtl.evaluation.evaluatePredictions([cls, reg], { c: [2, 2, 2], r: [1, 2, 3, 5] }, data)).toThrow(
      /task 'c' has 3 predicted values but 4 target values/,
    );
    expect(() => mtl.evaluation.evaluatePredictions([cls, reg], { c: [2, 2, 2, 3], r: [1, 2, 3, 5] }, data)).toThrow(
      /row 3 is 3, not a class index in \[0, 2\]/,
    );
    expect(() => mtl.evaluation.evaluatePredictions([cls], { c: [0, 0, 0, 0], z: [1] }, data)).toThrow(/task 'z', which is not one of c/);
    expect(() => mtl.evaluation.evaluatePredictions([cls, reg], { c: [0, 0, 0, 0] }, data)).toThrow(/no predictions for task 'r'/);
  });
});

describe("evaluate and tasks with metrics of their own", () => {
  it("reports boundingBox's IoU metrics (scored by the task itself)", async () => {
    const mtl = await import("../../lib");
    const task = mtl.tasks.boundingBox("box");
    const model = mtl.hardSharing({ inputSize: 2, trunk: [3], tasks: [task], seed: 1 });
    const data = mtl.fromArrays({
      x: [
        [0, 1],
        [1, 0],
        [0.5, 0.5],
      ],
      targets: {
        box: [
          [0, 0, 1, 1],
          [0.2, 0.2, 0.6, 0.9],
          [0, 0.5, 0.5, 1],
        ],
      },
      tasks: [task],
    });
    const result = mtl.evaluation.evaluate(model, data, [task], { batchSize: 2 });
    const direct = task.metrics(
      task.decode(new mtl.Trainer({ model, tasks: [task], progress: false }).predictRaw(data)[0], 3),
      data.targets.box.values,
    );
    expect(result.tasks.box.metrics.meanIoU).toBeCloseTo(direct.meanIoU, 10);
    expect(Object.keys(result.tasks.box.metrics)).toEqual(expect.arrayContaining(["mse", "mae", "r2", "meanIoU", "iou50"]));
    model.dispose();
  });
});
