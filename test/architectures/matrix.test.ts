/** Every architecture × every task kind: shapes, parameter counts, and training with each kind of balancing. */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";
import { everyKind } from "./helpers";
import { isTiedModel } from "../../lib/architectures/tied";

// Five inputs; tasks cls (3 logits), bin (1), tags (3), reg (1): a plain output layer on width w
// costs 8w + 8 parameters over the four tasks.
const heads = (w: number) => 8 * w + 8;
const ARCHITECTURES: Array<{ name: string; build: (tasks: mtl.Task[]) => mtl.MultiTaskModel; shared: number; total: number }> = [
  {
    name: "softSharing",
    build: (tasks) => mtl.softSharing({ inputSize: 5, tasks, towers: [4], seed: 1 }),
    shared: 24 + 4 * 24, // center + four towers of 5·4 + 4
    total: 24 + 4 * 24 + heads(4),
  },
  {
    name: "crossStitch",
    build: (tasks) => mtl.crossStitch({ inputSize: 5, tasks, towers: [4], seed: 2 }),
    shared: 4 * 24 + 16, // towers + one 4 × 4 α
    total: 4 * 24 + 16 + heads(4),
  },
  {
    name: "mmoe",
    build: (tasks) => mtl.mmoe({ inputSize: 5, tasks, experts: 3, expertLayers: [4], seed: 3 }),
    shared: 3 * 24,
    total: 3 * 24 + 4 * 6 * 3 + heads(4), // experts, gates (with bias), towers
  },
  {
    name: "cgc",
    build: (tasks) => mtl.cgc({ inputSize: 5, tasks, sharedExperts: 1, taskExperts: 1, expertLayers: [4], seed: 4 }),
    shared: 24,
    total: 24 + 4 * 24 + 4 * 5 * 2 + heads(4),
  },
  {
    name: "ple",
    build: (tasks) => mtl.ple({ inputSize: 5, tasks, levels: 2, sharedExperts: 1, taskExperts: 1, expertLayers: [4], seed: 5 }),
    // level 0: 5 experts (24 each), task gates 4 × 5·2, shared gate 5·5; level 1: 5 experts (20 each), task gates 4 × 4·2.
    shared: 5 * 24 + 25 + 20,
    total: 5 * 24 + 40 + 25 + 5 * 20 + 32 + heads(4),
  },
];

const TRAINING: Array<{ name: string; options: (model: mtl.MultiTaskModel) => Partial<mtl.TrainerOptions> }> = [
  { name: "static weights", options: (m) => ({ weights: [1, 1, 1, 1], regularizers: regs(m) }) },
  { name: "uncertainty weighting", options: (m) => ({ weighting: mtl.weighting.uncertainty(), regularizers: regs(m) }) },
  { name: "PCGrad (param)", options: (m) => ({ aggregator: mtl.aggregators.pcgrad({ seed: 1 }), level: "param", regularizers: regs(m) }) },
  { name: "MGDA-UB (rep)", options: (m) => ({ aggregator: mtl.aggregators.mgdaUB(), level: "rep", regularizers: regs(m) }) },
];

function regs(model: mtl.MultiTaskModel): mtl.regularizers.Regularizer[] {
  const r = [mtl.regularizers.l2(1e-4, { on: "shared" })];
  return isTiedModel(model) ? [...r, mtl.regularizers.softSharing(1e-2)] : r;
}

eachBackend(
  () => {
    describe.each(ARCHITECTURES)("$name", (arch) => {
      it("gives one output per task of the task's width, and counts its parameters", () => {
        const { tasks } = everyKind(8);
        const model = arch.build(tasks);
        const x = tf.randomNormal([7, 5], 0, 1, "float32", 1) as tf.Tensor2D;
        const out = model.forward(x, false);
        expect(out.map((o) => o.shape)).toEqual([
          [7, 3],
          [7, 1],
          [7, 3],
          [7, 1],
        ]);
        const z = model.encode(x, false);
        expect(z.shape[0]).toBe(7);
        const counts = model.parameterCounts();
        expect(counts.shared).toBe(arch.shared);
        expect(counts.total).toBe(arch.total);
        expect(counts.total).toBe(model.namedVariables().reduce((s, [, v]) => s + v.size, 0));
        expect(model.flopsPerExample()).toBeGreaterThan(2 * counts.total * 0.5);
        tf.dispose([x, z, ...out]);
        model.dispose();
      });

      it.each(TRAINING)("trains every task kind with $name, tensor count flat", async (training) => {
        const { tasks, data } = everyKind(48);
        const model = arch.build(tasks);
        const trainer = new mtl.Trainer({
          model,
          tasks,
          batchSize: 16,
          seed: 2,
          progress: false,
          optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
          ...training.options(model),
        });
        await trainer.fit(data, { epochs: 1 });
        const before = tf.memory().numTensors;
        const history = await trainer.fit(data, { epochs: 3 });
        expect(tf.memory().numTensors).toBe(before);
        const steps = history.steps;
        expect(steps.every((s) => s.applied && s.losses.every(Number.isFinite))).toBe(true);
        expect(Object.keys(steps[0].regularizers)).toEqual(regs(model).map((r) => r.name));
        const first = steps[0].losses.reduce((a, b) => a + b, 0);
        const last = steps.at(-1)!.losses.reduce((a, b) => a + b, 0);
        expect(last).toBeLessThan(first);
        const evaluation = await trainer.evaluateAsync(data);
        expect(Object.keys(evaluation)).toEqual(["cls", "bin", "tags", "reg"]);
        model.dispose();
      });
    });
  },
  { webgpu: true },
);
