/**
 * The fused native step refuses and stops on exactly what the generic step refuses and stops on
 * (issue 19): the same data and weights, trained once with the native kernels and fused step on and
 * once on tfjs's own kernels, give the same error class, task and step under onNonFinite "stop",
 * and the same step records (applied flags, losses, weights) and parameters under "skip".
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { fusedMlpStep } from "../../lib/train/steps/fusedMlp";
import { eachBackend } from "../helpers/backends";

interface Scenario {
  tasks: () => mtl.Task[];
  data: (tasks: mtl.Task[]) => mtl.MultiTaskData;
  inputSize: number;
  trunk: number[];
  /** Sets weights before training (for a gradient that overflows while the losses stay finite). */
  setup?: (model: mtl.HardSharingModel) => void;
}

/** 12 rows, batch 4, no shuffle: a regression target of 1e30 at row 9 lands in step 2. */
const hugeTarget: Scenario = {
  tasks: () => [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")],
  data: (tasks) => {
    const rng = new mtl.Rng(5);
    const x = Array.from({ length: 12 }, () => Array.from({ length: 4 }, () => rng.normal()));
    return mtl.fromArrays({ x, targets: { c: x.map((_, i) => i % 3), r: x.map((row, i) => (i === 9 ? 1e30 : row[0])) }, tasks });
  },
  inputSize: 4,
  trunk: [6],
};

/**
 * Logits [1e19, 0] against class 1 give a finite loss of 1e19, but the trunk's kernel gradient is
 * x (1e20) times ∂L/∂h (1e19): beyond float32, on both paths, from the first step.
 */
const overflowingGradient: Scenario = {
  tasks: () => [mtl.tasks.classification("c", { classes: 2 })],
  data: (tasks) => mtl.fromArrays({ x: Array.from({ length: 8 }, () => [1e20, 1e20]), targets: { c: new Array(8).fill(1) }, tasks }),
  inputSize: 2,
  trunk: [2],
  setup: (model) => {
    const vars = Object.fromEntries(model.namedVariables());
    vars["trunk.0.kernel"].assign(
      tf.tensor2d([
        [1e-20, 0],
        [0, 1e-20],
      ]),
    );
    vars["trunk.0.bias"].assign(tf.zeros([2]));
    vars["head.c.0.kernel"].assign(
      tf.tensor2d([
        [1e19, 0],
        [0, 0],
      ]),
    );
    vars["head.c.0.bias"].assign(tf.zeros([2]));
  },
};

function train(scenario: Scenario, fused: boolean, onNonFinite: "stop" | "skip") {
  if (fused) enableNativeKernels();
  else disableNativeKernels();
  const tasks = scenario.tasks();
  const data = scenario.data(tasks);
  const model = mtl.hardSharing({ inputSize: scenario.inputSize, trunk: scenario.trunk, tasks, seed: 2 });
  scenario.setup?.(model);
  const trainer = new mtl.Trainer({ model, tasks, batchSize: 4, epochs: 1, shuffle: false, progress: false, onNonFinite });
  return { model, trainer, data, tasks };
}

async function outcome(scenario: Scenario, fused: boolean, onNonFinite: "stop" | "skip") {
  const { model, trainer, data } = train(scenario, fused, onNonFinite);
  let error: unknown;
  try {
    await trainer.fit(data);
  } catch (e) {
    error = e;
  }
  const records = trainer.history.steps.map((r) => ({ applied: r.applied, losses: r.losses, weights: r.weights }));
  const params = model.namedVariables().map(([, v]) => Array.from(v.dataSync()));
  trainer.optimizer.dispose();
  model.dispose();
  return { error, records, params, steps: trainer.step };
}

function expectSameNumbers(a: number[], b: number[], tolerance: number) {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    if (!Number.isFinite(v) || !Number.isFinite(b[i]))
      expect(v).toBe(b[i]); // NaN, ±Infinity alike
    else expect(Math.abs(v - b[i])).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(v)));
  });
}

describe.runIf(loadNative().status.available)("fused native step refuses exactly what the generic step refuses", () => {
  afterAll(() => disableNativeKernels());

  eachBackend(() => {
    it("the fused step is the one running these models' clean steps", () => {
      const { model, trainer, data, tasks } = train(hugeTarget, true, "stop");
      const x = tf.tensor2d(data.features.subarray(0, 4 * 4), [4, 4]);
      const targets = tasks.map((t) => t.targetTensor({ values: data.targets[t.name].values.subarray(0, 4), width: 1 }, 4));
      const input = {
        model,
        tasks,
        optimizer: trainer.optimizer,
        regularizers: [],
        variables: model.namedVariables().map(([, v]) => v),
        batch: { xs: [x], targets, part: targets.map(() => 0) },
        step: 0,
        epoch: 0,
        onNonFinite: "stop" as const,
      };
      expect(fusedMlpStep(input, trainer.weighting!)?.applied).toBe(true);
      tf.dispose([x, ...targets]);
      trainer.optimizer.dispose();
      model.dispose();
    });

    it("called directly with a head narrower than its task, the fused step refuses before any native code runs", () => {
      enableNativeKernels();
      const built = [mtl.tasks.classification("c", { classes: 3 })];
      const wider = [mtl.tasks.classification("c", { classes: 5 })];
      const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks: built, seed: 1 });
      const trainer = new mtl.Trainer({ model, tasks: built, progress: false });
      const x = tf.ones([2, 2]) as tf.Tensor2D;
      const targets = [tf.tensor1d([4, 3], "int32")]; // class indices 3 and 4 lie outside the 3-wide head
      const input = {
        model,
        tasks: wider,
        optimizer: trainer.optimizer,
        regularizers: [],
        variables: model.namedVariables().map(([, v]) => v),
        batch: { xs: [x], targets, part: targets.map(() => 0) },
        step: 0,
        epoch: 0,
        onNonFinite: "stop" as const,
      };
      const before = model.namedVariables().map(([, v]) => Array.from(v.dataSync()));
      expect(() => fusedMlpStep(input, trainer.weighting!)).toThrow(/head for task 'c' outputs 3 units but classification\('c'\) needs 5/);
      expect(model.namedVariables().map(([, v]) => Array.from(v.dataSync()))).toEqual(before);
      tf.dispose([x, ...targets]);
      trainer.optimizer.dispose();
      model.dispose();
    });

    for (const [name, scenario, error, task, step] of [
      ["a regression target of 1e30 (a float32-infinite loss)", hugeTarget, mtl.NonFiniteLossError, "r", 2],
      ["a gradient beyond float32 with finite losses", overflowingGradient, mtl.NonFiniteGradientError, "c", 0],
    ] as const) {
      it(`${name}: "stop" gives the same error class, task and step on both paths`, async () => {
        const generic = await outcome(scenario, false, "stop");
        const fused = await outcome(scenario, true, "stop");
        for (const run of [generic, fused]) {
          expect(run.error).toBeInstanceOf(error);
          expect((run.error as { task: string }).task).toBe(task);
          expect((run.error as { step: number }).step).toBe(step);
          expect(run.steps).toBe(step);
        }
        expect((fused.error as Error).message).toBe((generic.error as Error).message);
        fused.params.forEach((p, i) => expectSameNumbers(p, generic.params[i], 1e-5));
      });

      it(`${name}: "skip" skips the same steps with the same records and parameters`, async () => {
        const generic = await outcome(scenario, false, "skip");
        const fused = await outcome(scenario, true, "skip");
        expect(generic.error).toBeUndefined();
        expect(fused.error).toBeUndefined();
        expect(fused.records.map((r) => r.applied)).toEqual(generic.records.map((r) => r.applied));
        expect(generic.records[step].applied).toBe(false);
        fused.records.forEach((r, s) => {
          expectSameNumbers(r.losses, generic.records[s].losses, 1e-5);
          expectSameNumbers(r.weights, generic.records[s].weights, 0);
        });
        fused.params.forEach((p, i) => expectSameNumbers(p, generic.params[i], 1e-5));
      });
    }
  });
});
