/**
 * WebGPU-readiness without a GPU: the trainer runs on the cpu backend with every synchronous read
 * made to throw (test/helpers/syncReads.ts). Any dataSync/arraySync/bufferSync/readSync left on the
 * training path (a step of every update rule, multi-dataset training, validation, checkpoints)
 * fails these tests; the results must equal a run with reads allowed.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { setBackend } from "../helpers/backends";
import { trapSyncReads } from "../helpers/syncReads";

/** Classification c and regression r (or, `binary`, a 0/1 task r: DTP needs KPIs in [0, 1]). */
function problem(rows = 48, binary = false) {
  const tasks = [mtl.tasks.classification("c", { classes: 3 }), binary ? mtl.tasks.binary("r") : mtl.tasks.regression("r")];
  const x: number[][] = [];
  const c: number[] = [];
  const r: number[] = [];
  const rng = new mtl.Rng(5);
  for (let i = 0; i < rows; i++) {
    const row = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    x.push(row);
    c.push(row[0] + row[1] > 0.5 ? 2 : row[0] > 0 ? 1 : 0);
    r.push(binary ? Number(row[2] > 0) : row[2] - 0.5 * row[3]);
  }
  return { tasks, data: mtl.fromArrays({ x, targets: { c, r }, tasks }) };
}

type Options = Partial<mtl.TrainerOptions>;

/** Trains the same seeded problem with `options`, reads trapped or not; returns the history's losses and weights. */
async function train(options: Options, trapped: boolean, perTask = false, architecture: "hard" | "mmoe" = "hard") {
  const { tasks, data } = problem(48, options.weighting?.name === "dtp");
  const model =
    architecture === "hard"
      ? mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 })
      : mtl.mmoe({ inputSize: 4, tasks, experts: 2, expertLayers: [6], seed: 3 });
  const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, epochs: 2, seed: 1, progress: false, ...options });
  const train = perTask
    ? {
        c: data,
        r: mtl.subset(
          data,
          Int32Array.from({ length: 30 }, (_, i) => i),
        ),
      }
    : data;
  const restore = trapped ? trapSyncReads() : () => {};
  const before = tf.memory().numTensors;
  try {
    await trainer.fit(train, { validation: train });
  } finally {
    restore();
  }
  const after = tf.memory().numTensors;
  const steps = trainer.history.steps.map((s) => ({ losses: s.losses, weights: s.weights, applied: s.applied }));
  // Predictions with awaited reads, under the same trap, equal the synchronous ones.
  const restorePredict = trapped ? trapSyncReads() : () => {};
  let predicted: Record<string, Float32Array | Int32Array>;
  try {
    predicted = await trainer.predictAsync(data);
  } finally {
    restorePredict();
  }
  expect(predicted).toEqual(trainer.predict(data));
  const validation = trainer.history.epochs.map((e) => e.validationLoss);
  model.dispose();
  return { steps, validation, grew: after - before, trainer };
}

describe("no synchronous read on the training path (cpu backend, sync reads trapped)", () => {
  beforeAll(async () => {
    await setBackend("cpu");
  });

  it("the trap works: a synchronous read throws, an awaited one does not", async () => {
    const t = tf.tensor1d([1, 2]);
    const restore = trapSyncReads();
    try {
      expect(() => t.dataSync()).toThrow(/synchronous read/);
      expect(() => t.arraySync()).toThrow(/synchronous read/);
      expect(Array.from(await t.data())).toEqual([1, 2]);
    } finally {
      restore();
      t.dispose();
    }
  });

  const cases: Array<[string, () => Options, boolean?, ("hard" | "mmoe")?]> = [
    ["static weights", () => ({ weights: [1, 0.5] })],
    [
      "static weights, regularizer, clipNorm and clipTaskNorm",
      () => ({ regularizers: [mtl.regularizers.l2(1e-3)], clipNorm: 1, clipTaskNorm: 0.5 }),
    ],
    ["uncertainty weighting", () => ({ weighting: mtl.weighting.uncertainty() })],
    ["GradNorm (gradient norms)", () => ({ weighting: mtl.weighting.gradNorm() })],
    ["DWA (epoch losses)", () => ({ weighting: mtl.weighting.dwa() })],
    ["FAMO (losses after the update)", () => ({ weighting: mtl.weighting.famo() })],
    ["DTP (batch metrics)", () => ({ weighting: mtl.weighting.dtp() })],
    ["UPGrad at param level", () => ({ aggregator: mtl.aggregators.upgrad(), level: "param" as const })],
    ["MGDA at rep level, MMoE", () => ({ aggregator: mtl.aggregators.mgda(), level: "rep" as const }), false, "mmoe"],
    ["GradDrop at rep level", () => ({ aggregator: mtl.aggregators.graddrop({ seed: 1 }), level: "rep" as const })],
    ["PCGrad, per-task datasets", () => ({ aggregator: mtl.aggregators.pcgrad({ order: [0, 1] }) }), true],
    ["task sampler, per-task datasets", () => ({ sampler: mtl.data.proportional({ c: 48, r: 30 }, { seed: 2 }) }), true],
    [
      "static weights with a bounded lag of 2 (steps in flight, update gated on the device)",
      () => ({ weights: [1, 0.5], lag: 2, clipNorm: 1 }),
    ],
    ["task sampler with a bounded lag of 1", () => ({ sampler: mtl.data.proportional({ c: 48, r: 30 }, { seed: 2 }), lag: 1 }), true],
  ];
  for (const [name, options, perTask, architecture] of cases) {
    it(`${name}: trains with every read awaited, exactly as with reads allowed, no tensor left`, async () => {
      const free = await train(options(), false, perTask, architecture);
      const trapped = await train(options(), true, perTask, architecture);
      expect(trapped.steps.length).toBeGreaterThan(0);
      expect(trapped.steps).toEqual(free.steps);
      expect(trapped.validation).toEqual(free.validation);
      expect(trapped.grew).toBe(free.grew);
    });
  }

  it("a relatedness monitor measures gradient cosines and TAG affinities during fit with awaited reads", async () => {
    const run = async (trapped: boolean) => {
      const { tasks, data } = problem();
      const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
      const monitor = mtl.evaluation.relatednessMonitor({ model, tasks, data, every: 2, batchSize: 16, learningRate: 0.1, seed: 1 });
      const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, seed: 1, progress: false, callbacks: monitor.callbacks });
      const restore = trapped ? trapSyncReads() : () => {};
      try {
        await trainer.fit(data, { epochs: 2 });
      } finally {
        restore();
      }
      model.dispose();
      return monitor.snapshots;
    };
    const trapped = await run(true);
    expect(trapped.map((s) => s.step)).toEqual([0, 2, 4, 6]);
    expect(trapped).toEqual(await run(false));
  });

  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it("an automatic checkpoint and a resume happen with reads trapped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mtlkit-async-"));
    dirs.push(dir);
    const { tasks, data } = problem();
    const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
    const options = {
      model,
      tasks,
      batchSize: 16,
      seed: 1,
      progress: false,
      weighting: mtl.weighting.uncertainty(),
      checkpoint: { dir, everySteps: 3 },
    };
    let resumedLosses: number[][] = [];
    const restore = trapSyncReads();
    try {
      const trainer = new mtl.Trainer(options);
      await trainer.fit(data, { epochs: 1 });
      const resumed = await mtl.Trainer.resume(dir, { ...options, weighting: mtl.weighting.uncertainty(), checkpoint: undefined });
      expect(resumed.step).toBe(trainer.step);
      // The checkpoint was taken at the epoch's last step: the first "epoch" of this fit only closes it.
      await resumed.fit(data, { epochs: 2 });
      expect(resumed.history.steps.length).toBe(2 * trainer.history.steps.length);
      resumedLosses = resumed.history.steps.map((s) => s.losses);
    } finally {
      restore();
      model.dispose();
    }
    // The same two epochs without a checkpoint or a trap give the same losses (exact resume).
    const straightModel = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
    const straight = new mtl.Trainer({ ...options, model: straightModel, weighting: mtl.weighting.uncertainty(), checkpoint: undefined });
    await straight.fit(data, { epochs: 2 });
    expect(resumedLosses).toEqual(straight.history.steps.map((s) => s.losses));
    straightModel.dispose();
  });

  afterAll(() => undefined);
});
