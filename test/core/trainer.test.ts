import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";

function toyData(rows = 96, seed = 1) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal(), rng.normal()]);
  const cls = x.map((r) => (r[0] + r[1] > 0 ? 1 : 0) + (r[2] > 0.5 ? 1 : 0));
  const reg = x.map((r) => r[0] - r[3]);
  const tasks = [mtl.tasks.classification("cls", { classes: 3 }), mtl.tasks.regression("reg")];
  return { tasks, data: mtl.fromArrays({ x, targets: { cls, reg }, tasks }) };
}

eachBackend(
  () => {
    describe("Trainer", () => {
      it("keeps the tensor count flat over 100 steps", async () => {
        const { tasks, data } = toyData(64);
        const model = mtl.hardSharing({ inputSize: 4, trunk: [16, 16], tasks, seed: 1 });
        const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, progress: false, regularizers: [mtl.regularizers.l2(1e-4)] });
        await trainer.fit(data, { epochs: 2 }); // warm up: optimizer slots are created on the first step
        const before = tf.memory().numTensors;
        await trainer.fit(data, { epochs: 25 }); // 4 steps per epoch: 100 steps
        expect(trainer.history.steps.length).toBe(108);
        expect(tf.memory().numTensors).toBe(before);
        model.dispose();
      });

      it("learns both tasks, validates each epoch and records history", async () => {
        const { tasks, data } = toyData(400, 2);
        const { train, validation, test } = mtl.split(data, { seed: 3 });
        const model = mtl.hardSharing({ inputSize: 4, trunk: [32], tasks, seed: 4 });
        const trainer = new mtl.Trainer({
          model,
          tasks,
          epochs: 30,
          batchSize: 32,
          optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
          weights: { reg: 2 },
          progress: false,
        });
        const history = await trainer.fit(train, { validation });
        expect(history.epochs).toHaveLength(30);
        expect(history.epochs[29].validationMetrics!.cls.accuracy).toBeGreaterThan(0.8);
        expect(history.lossCurve("reg")[0]).toBeGreaterThan(history.lossCurve("reg").at(-1)! * 3);
        expect(history.weightCurve("reg").every((w) => w === 2)).toBe(true);
        const result = await trainer.evaluateAsync(test);
        expect(result.reg.metrics.r2).toBeGreaterThan(0.8);
        expect(history.run?.backend).toBe(tf.getBackend());
        const frame = history.toDataFrame();
        expect(frame.columns).toEqual(expect.arrayContaining(["step", "loss.cls", "loss.reg", "weight.cls", "total"]));
        expect(frame.shape[0]).toBe(history.steps.length);
        expect(history.epochsDataFrame().columns).toContain("val.cls.accuracy");
        model.dispose();
      });

      it("is reproducible from its seeds", async () => {
        const run = async () => {
          const { tasks, data } = toyData(64, 5);
          const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 9 });
          const trainer = new mtl.Trainer({ model, tasks, epochs: 2, batchSize: 16, seed: 11, progress: false });
          const h = await trainer.fit(data);
          model.dispose();
          return h.steps.map((s) => s.total);
        };
        expect(await run()).toEqual(await run());
      });

      it("stops on a non-finite loss naming the task and step, or skips it when asked", async () => {
        const { tasks } = toyData(8);
        const x = [
          [1, 2, 3, 4],
          [1, 1, 1, 1],
        ];
        const data = mtl.fromArrays({ x, targets: { cls: [0, 1], reg: [1, 1e38] }, tasks });
        const model = mtl.hardSharing({ inputSize: 4, trunk: [4], tasks, seed: 1 });
        const big = mtl.optimizers.sgd(1e30);
        const trainer = new mtl.Trainer({ model, tasks, batchSize: 2, progress: false, optimizer: big, weights: [1, 1e10] });
        await expect(trainer.fit(data, { epochs: 3 })).rejects.toThrow(/task 'reg' is (Infinity|NaN) at step \d/);
        const skipper = new mtl.Trainer({
          model,
          tasks,
          batchSize: 2,
          progress: false,
          optimizer: big,
          weights: [1, 1e10],
          onNonFinite: "skip",
        });
        await skipper.fit(data, { epochs: 1 });
        expect(skipper.history.steps[0].applied).toBe(false);
        model.dispose();
      });

      it("stops when a callback returns false", async () => {
        const { tasks, data } = toyData(64);
        const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks });
        const seen: number[] = [];
        const trainer = new mtl.Trainer({
          model,
          tasks,
          batchSize: 16,
          progress: false,
          callbacks: {
            onStepEnd: (r) => {
              seen.push(r.step);
              return r.step < 5;
            },
          },
        });
        await trainer.fit(data, { epochs: 10 });
        expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
        model.dispose();
      });

      it("trains a tfjs LayersModel trunk and a function head", async () => {
        const { tasks, data } = toyData(64);
        const trunk = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: "relu" })] });
        const w = tf.variable(tf.randomNormal([8, 1], 0, 0.1, "float32", 1));
        const model = mtl.hardSharing({
          inputSize: 4,
          trunk,
          tasks,
          heads: { reg: { apply: (h: tf.Tensor2D) => tf.matMul(h, w) as tf.Tensor2D, variables: [w], outputSize: 1 } },
        });
        expect(model.sharedVariables().length).toBe(2);
        const before = (await w.data()).slice();
        const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, progress: false });
        await trainer.fit(data, { epochs: 1 });
        expect(await w.data()).not.toEqual(before);
        model.dispose();
      });
    });
  },
  { webgpu: true },
);

describe("bad input is refused before training", () => {
  const { tasks } = toyData(4);
  const x = [
    [0, 0, 0, 0],
    [1, 1, 1, 1],
  ];

  it("in fromArrays", () => {
    expect(() => mtl.fromArrays({ x, targets: { cls: [0], reg: [1, 2] }, tasks })).toThrow(/task 'cls' has 1 targets but 'x' has 2 rows/);
    expect(() => mtl.fromArrays({ x, targets: { cls: [0, 1] }, tasks })).toThrow(/regression\('reg'\).*no targets for this task/);
    expect(() => mtl.fromArrays({ x, targets: { cls: [0, 5], reg: [1, 2] }, tasks })).toThrow(/label 5 at row 1 .*class range \[0, 2\]/);
    expect(() => mtl.fromArrays({ x, targets: { cls: [0, 1], reg: [1, "a" as never] }, tasks })).toThrow(
      /task 'reg' at row 1 is "a", not a number/,
    );
    expect(() =>
      mtl.fromArrays({
        x: [
          [0, 0, 0, 0],
          [1, NaN, 1, 1],
        ],
        targets: { cls: [0, 1], reg: [1, 2] },
        tasks,
      }),
    ).toThrow(/feature 'x1' is NaN at row 1/);
    expect(() => mtl.fromArrays({ x: [[0, 0], [1]], targets: {}, tasks })).toThrow(/row 1 of 'x' has 1 features/);
  });

  it("in models and trainers", () => {
    const dup = [mtl.tasks.regression("a"), mtl.tasks.regression("a")];
    expect(() => mtl.hardSharing({ inputSize: 4, trunk: [4], tasks: dup })).toThrow(/task name 'a' is used twice/);
    const model = mtl.hardSharing({ inputSize: 4, trunk: [4], tasks });
    expect(() => new mtl.Trainer({ model, tasks, weights: [1, -1] })).toThrow(/weight of task 'reg' must be a finite number ≥ 0, got -1/);
    expect(() => new mtl.Trainer({ model, tasks, weights: [1, NaN] })).toThrow(/weight of task 'reg'.*NaN/);
    expect(() => new mtl.Trainer({ model, tasks, weights: [1] })).toThrow(/has 1 values for 2 tasks/);
    expect(() => new mtl.Trainer({ model, tasks, weights: { nope: 1 } })).toThrow(/names task 'nope'/);
    expect(() => new mtl.Trainer({ model, tasks, epocs: 3 } as never)).toThrow(/unknown option 'epocs'/);
    expect(() => new mtl.Trainer({ model, tasks: [tasks[1], tasks[0]] })).toThrow(/must be the model's tasks in its order/);
    expect(() => mtl.hardSharing({ inputSize: 4, trunk: [4], tasks, activation: "relux" as never })).toThrow(/unknown activation 'relux'/);
    model.dispose();
  });
});
