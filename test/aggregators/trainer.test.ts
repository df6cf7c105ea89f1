import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { recordOnce, taskGradients } from "../../lib/train/jacobian";
import { eachBackend } from "../helpers/backends";
import { numbersOf } from "../helpers/reads";

const A = mtl.aggregators;

function toyData(rows = 96, seed = 1) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal(), rng.normal()]);
  const a = x.map((r) => r[0] - r[3] + 0.5 * r[1]);
  const b = x.map((r) => -r[0] + r[2] + 0.5 * r[1]); // partly conflicting with a
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
  return { tasks, data: mtl.fromArrays({ x, targets: { a, b }, tasks }) };
}

async function params(model: mtl.MultiTaskModel): Promise<number[]> {
  return (await Promise.all(model.namedVariables().map(([, v]) => v.data()))).flatMap((v) => Array.from(v));
}

eachBackend(
  () => {
    describe("aggregated training step", () => {
      it("per-task gradients from one forward equal separately computed gradients (param and rep)", async () => {
        const { tasks, data } = toyData(16);
        const model = mtl.hardSharing({ inputSize: 4, trunk: [8, 6], tasks, seed: 3 });
        const x = tf.tensor2d(data.features, [16, 4]);
        const targets = tasks.map((t) => t.targetTensor(data.targets[t.name], 16));
        const shared = model.sharedVariables().map(([, v]) => v);
        const taskVars = tasks.map((_, i) => model.taskVariables(i).map(([, v]) => v));
        const expected = await Promise.all(
          tasks.map((t, i) =>
            numbersOf(() => {
              const { grads } = tf.variableGrads(() => t.loss(model.forward(x, true)[i], targets[i]), [...shared, ...taskVars[i]]);
              return tf.concat(shared.map((v) => tf.reshape(grads[v.name], [-1])));
            }),
          ),
        );
        const expectedRep = await Promise.all(
          tasks.map((t, i) =>
            numbersOf(() => {
              const z = model.encode(x, true);
              const [g] = tf.grads((zz: tf.Tensor) => t.loss(model.decode(zz as tf.Tensor2D, x, true)[i], targets[i]))([z]);
              return g;
            }),
          ),
        );
        for (const level of ["param", "rep"] as const) {
          const before = tf.memory().numTensors;
          const jacobian = tf.tidy(() =>
            recordOnce(x, () => {
              const z = model.encode(x, true);
              const outs = model.decode(z, x, true);
              const losses = tasks.map((t, i) => t.loss(outs[i], targets[i]));
              return tf.keep(taskGradients(level, losses, shared, taskVars, z).jacobian);
            }),
          );
          const rows = (await jacobian.array()) as number[][];
          jacobian.dispose();
          expect(tf.memory().numTensors).toBe(before);
          const want = level === "param" ? expected : expectedRep;
          rows.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 5)));
        }
        tf.dispose([x, ...targets]);
        model.dispose();
      });

      it("sum at either level reproduces the loss-summing step exactly (SGD)", async () => {
        const { tasks, data } = toyData(64, 2);
        const run = async (aggregator?: mtl.aggregators.Aggregator, level?: "param" | "rep") => {
          const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 5 });
          const trainer = new mtl.Trainer({
            model,
            tasks,
            epochs: 2,
            batchSize: 16,
            optimizer: tf.train.sgd(0.05),
            progress: false,
            aggregator,
            level,
            shuffle: false,
          });
          await trainer.fit(data);
          const p = await params(model);
          model.dispose();
          return p;
        };
        const reference = await run();
        for (const level of ["param", "rep"] as const) {
          const p = await run(A.sum(), level);
          p.forEach((v, i) => expect(v).toBeCloseTo(reference[i], 5));
        }
      });

      it("clipTaskNorm with sum at the param level clips each task's whole gradient, like the weighted step", async () => {
        const { tasks, data } = toyData(64, 3);
        const run = async (aggregator?: mtl.aggregators.Aggregator) => {
          const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 5 });
          const trainer = new mtl.Trainer({
            model,
            tasks,
            epochs: 2,
            batchSize: 16,
            optimizer: tf.train.sgd(0.05),
            progress: false,
            aggregator,
            level: aggregator ? "param" : undefined,
            shuffle: false,
            clipTaskNorm: 0.1,
          });
          await trainer.fit(data);
          const p = await params(model);
          model.dispose();
          return p;
        };
        const reference = await run();
        const p = await run(A.sum());
        p.forEach((v, i) => expect(v).toBeCloseTo(reference[i], 5));
      });

      for (const [label, make, level] of [
        ["PCGrad (param)", () => A.pcgrad({ seed: 1 }), "param"],
        ["MGDA-UB (rep)", () => A.mgdaUB(), "rep"],
        ["UPGrad (rep)", () => A.upgrad(), "rep"],
        ["MoCo (param, stateful)", () => A.moco(), "param"],
      ] as const) {
        it(`${label} trains hard sharing and keeps the tensor count flat`, async () => {
          const { tasks, data } = toyData(128, 4);
          const model = mtl.hardSharing({ inputSize: 4, trunk: [16, 16], tasks, seed: 1 });
          const aggregator = make();
          const trainer = new mtl.Trainer({
            model,
            tasks,
            batchSize: 32,
            optimizer: mtl.optimizers.adam({ learningRate: 0.02 }),
            progress: false,
            aggregator,
            level,
            regularizers: [mtl.regularizers.l2(1e-5)],
          });
          await trainer.fit(data, { epochs: 1 });
          const before = tf.memory().numTensors;
          const history = await trainer.fit(data, { epochs: 14 });
          expect(tf.memory().numTensors).toBe(before);
          const first = history.steps[0].losses;
          const last = history.steps.at(-1)!.losses;
          expect(last[0]).toBeLessThan(first[0] * 0.5);
          expect(last[1]).toBeLessThan(first[1] * 0.5);
          expect(history.steps.at(-1)!.weights).toHaveLength(2);
          expect(history.steps.at(-1)!.weights.every(Number.isFinite)).toBe(true);
          if ("dispose" in aggregator) (aggregator as mtl.aggregators.StatefulAggregator).dispose();
          model.dispose();
        });
      }

      it("records the aggregator's effective weights", async () => {
        const { tasks, data } = toyData(32, 6);
        const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 2 });
        const trainer = new mtl.Trainer({ model, tasks, batchSize: 32, progress: false, aggregator: A.mgda() });
        await trainer.fit(data, { epochs: 1 });
        const w = trainer.history.steps[0].weights;
        expect(w[0] + w[1]).toBeCloseTo(1, 6);
        expect(Math.min(...w)).toBeGreaterThanOrEqual(0);
        model.dispose();
      });

      it("refuses combinations the method does not define, and weights/weighting with an aggregator", () => {
        const { tasks } = toyData(8);
        const model = mtl.hardSharing({ inputSize: 4, trunk: [4], tasks });
        expect(() => new mtl.Trainer({ model, tasks, aggregator: A.graddrop(), level: "param" })).toThrow(
          /GradDrop is not defined at level "param"/,
        );
        expect(() => new mtl.Trainer({ model, tasks, aggregator: A.moco(), level: "rep" })).toThrow(/MoCo is not defined at level "rep"/);
        expect(() => new mtl.Trainer({ model, tasks, aggregator: A.mgdaUB(), level: "param" })).toThrow(/MGDA-UB is not defined/);
        expect(() => new mtl.Trainer({ model, tasks, aggregator: A.pcgrad(), weights: [1, 2] })).toThrow(
          /cannot be combined with 'weights'/,
        );
        expect(() => new mtl.Trainer({ model, tasks, aggregator: A.pcgrad(), level: "layer" as never })).toThrow(/option 'level'/);
        expect(() => new mtl.Trainer({ model, tasks, level: "rep" })).toThrow(/only applies with an 'aggregator'/);
        expect(new mtl.Trainer({ model, tasks, aggregator: A.graddrop() }).level).toBe("rep");
        model.dispose();
      });

      it("stops on a non-finite loss naming the task, before the aggregator runs", async () => {
        const { tasks } = toyData(8);
        const model = mtl.hardSharing({ inputSize: 4, trunk: [4], tasks, seed: 1 });
        const agg = A.gradvac();
        const trainer = new mtl.Trainer({ model, tasks, aggregator: agg, progress: false });
        const x = tf.tensor2d([[1, 2, 3, 4]]);
        const targets = [tf.tensor2d([[0]]), tf.tensor2d([[NaN]])];
        await expect(trainer.trainStep(x, targets)).rejects.toThrow(/task 'b'/);
        expect(agg.state!().target).toBeNull();
        const skipping = new mtl.Trainer({ model, tasks, aggregator: A.pcgrad(), progress: false, onNonFinite: "skip" });
        expect((await skipping.trainStep(x, targets)).applied).toBe(false);
        tf.dispose([x, ...targets]);
        model.dispose();
      });
    });
  },
  { webgpu: true },
);
