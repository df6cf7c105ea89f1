/**
 * Interrupts that mean it: an AbortSignal or a kernel interrupt (the global generation counter the
 * mtlkit kernel bumps) stops Trainer.fit (one dataset or one per task) at the next step boundary,
 * with every finished step in the history and the trainer ready to train on or checkpoint.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import * as mtl from "../../lib";

const GENERATION = Symbol.for("mtlkit.interrupt");

function toyData(rows = 64, seed = 1) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.binary("b")];
  return { tasks, data: mtl.fromArrays({ x, targets: { a: x.map((r) => r[0] - r[2]), b: x.map((r) => (r[1] > 0 ? 1 : 0)) }, tasks }) };
}

function newTrainer(onStepEnd?: (r: mtl.StepRecord) => void) {
  const { tasks, data } = toyData();
  const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed: 2 });
  const trainer = new mtl.Trainer({
    model,
    tasks,
    batchSize: 8,
    epochs: 1000,
    progress: false,
    callbacks: onStepEnd ? { onStepEnd } : undefined,
  });
  return { trainer, model, data };
}

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[GENERATION];
});

describe("Trainer.fit with an AbortSignal", () => {
  it("stops at the next step boundary; the history ends at the last finished step; fit again and checkpoints work", async () => {
    const controller = new AbortController();
    const { trainer, model, data } = newTrainer((r) => {
      if (r.step === 12) controller.abort(); // mid-epoch (8 steps per epoch)
    });
    const before = tf.memory().numTensors;
    const err = await trainer.fit(data, { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(mtl.TrainingInterrupted);
    expect(err).toBeInstanceOf(mtl.MtlError);
    const stopped = err as mtl.TrainingInterrupted;
    expect(stopped.name).toBe("TrainingInterrupted");
    expect(stopped.reason).toBe("abort signal");
    expect(stopped.message).toMatch(/Error in Trainer\.fit: training stopped by its abort signal after step 13;/);
    // Steps 0..12 finished: all are recorded, none more, and the counters agree.
    expect(stopped.step).toBe(13);
    expect(trainer.step).toBe(13);
    expect(trainer.history.steps.map((s) => s.step)).toEqual(Array.from({ length: 13 }, (_, i) => i));
    expect(trainer.history.epochs).toHaveLength(1);
    expect(tf.memory().numTensors).toBe(before + 2 * model.namedVariables().length); // Adam's slots, made at the first step

    // The trainer goes on where it stopped (mid-epoch 1) with a fresh fit, and saves and loads.
    await trainer.fit(data, { epochs: 1 });
    expect(trainer.history.steps.map((s) => s.step)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(trainer.history.epochs).toHaveLength(2);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-interrupt-"));
    try {
      await trainer.save(dir);
      const again = newTrainer();
      await again.trainer.load(dir);
      expect(again.trainer.step).toBe(16);
      expect(again.trainer.history.steps).toHaveLength(16);
      again.model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    model.dispose();
  });

  it("stops when aborted from outside while it awaits (a timer), and then trains no more", async () => {
    const { trainer, model, data } = newTrainer();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const err = await trainer.fit(data, { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(mtl.TrainingInterrupted);
    const n = trainer.history.steps.length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(8000); // 1000 epochs of 8 steps would be 8000
    expect((err as mtl.TrainingInterrupted).step).toBe(n);
    expect(trainer.history.steps.at(-1)!.step).toBe(n - 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(trainer.history.steps.length).toBe(n);
    model.dispose();
  });

  it("does not start when the signal is already aborted, and refuses a signal that is not one", async () => {
    const { trainer, model, data } = newTrainer();
    await expect(trainer.fit(data, { signal: AbortSignal.abort() })).rejects.toThrow(/after step 0/);
    expect(trainer.history.steps).toHaveLength(0);
    await expect(trainer.fit(data, { signal: "stop" as never })).rejects.toThrow(/Trainer\.fit: option 'signal' must be an AbortSignal/);
    model.dispose();
  });
});

describe("Trainer.fit and a kernel interrupt", () => {
  it("stops when the interrupt generation changes during the fit, not for one counted before it began", async () => {
    const g = globalThis as Record<symbol, { generation: number }>;
    g[GENERATION] = { generation: 4 }; // interrupts before this fit: ignored
    const { trainer, model, data } = newTrainer((r) => {
      if (r.step === 5) g[GENERATION].generation++; // what the kernel's interrupt() does
    });
    const err = await trainer.fit(data).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(mtl.TrainingInterrupted);
    expect((err as mtl.TrainingInterrupted).reason).toBe("kernel interrupt");
    expect(trainer.history.steps).toHaveLength(6);
    await trainer.fit(data, { epochs: 1 }); // a new fit records the new generation and runs
    expect(trainer.history.steps).toHaveLength(8);
    model.dispose();
  });
});

describe("Trainer.fit with one dataset per task and a task sampler", () => {
  it("stops at a step boundary on an aborted signal and can go on", async () => {
    const { tasks, data } = toyData(32);
    const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed: 3 });
    const datasets = { a: data, b: data };
    const trainer = new mtl.Trainer({
      model,
      tasks,
      sampler: mtl.data.roundRobin(mtl.data.datasetSizes(datasets)),
      batchSize: 8,
      progress: false,
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 250);
    const err = await trainer.fit(datasets, { steps: 1_000_000, signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(mtl.TrainingInterrupted);
    expect((err as mtl.TrainingInterrupted).message).toMatch(/Trainer\.fit/);
    const n = trainer.history.steps.length;
    expect(trainer.step).toBe(n);
    await trainer.fit(datasets, { steps: 3 });
    expect(trainer.history.steps).toHaveLength(n + 3);
    model.dispose();
  });
});
