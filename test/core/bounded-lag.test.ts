/**
 * The bounded lag (Trainer option `lag`): with steps in flight whose scalars are read later, the
 * update is gated on the device, and a run gives the same losses, records, parameters, optimizer
 * state and errors as the same run at lag 0. On wasm and cpu the lag is forced (1 and 2); on webgpu,
 * where an adapter is present, the default (1) is compared with lag 0.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { FusedAdamOptimizer } from "../../lib/native/adam";
import { eachBackend, setBackend } from "../helpers/backends";
import { trapSyncReads } from "../helpers/syncReads";

/** Classification c and regression r, 48 rows; `nanRow`'s features are so large that its losses overflow to infinity. */
function problem(nanRow?: number) {
  const tasks = [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];
  const x: number[][] = [];
  const c: number[] = [];
  const r: number[] = [];
  const rng = new mtl.Rng(5);
  for (let i = 0; i < 48; i++) {
    const row = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    x.push(i === nanRow ? row.map((v) => v * 1e38) : row);
    c.push(row[0] + row[1] > 0.5 ? 2 : row[0] > 0 ? 1 : 0);
    r.push(row[2] - 0.5 * row[3]);
  }
  return { tasks, data: mtl.fromArrays({ x, targets: { c, r }, tasks }) };
}

type Optimizer = "adam" | "momentum" | "tfjs-adam";

function optimizerOf(kind: Optimizer): tf.Optimizer {
  if (kind === "momentum") return tf.train.momentum(0.05, 0.9);
  if (kind === "tfjs-adam") return tf.train.adam(0.01);
  return mtl.optimizers.adam({ learningRate: 0.01 });
}

interface Run {
  trainer: mtl.Trainer;
  model: mtl.MultiTaskModel;
  error?: unknown;
}

async function fitWith(options: Partial<mtl.TrainerOptions> & { optimizerKind?: Optimizer; nanRow?: number }, fit: mtl.FitOptions = {}) {
  const { tasks, data } = problem(options.nanRow);
  const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
  const { optimizerKind, nanRow: _, ...rest } = options;
  const trainer = new mtl.Trainer({
    model,
    tasks,
    batchSize: 16,
    epochs: 3,
    seed: 1,
    progress: false,
    optimizer: optimizerOf(optimizerKind ?? "adam"),
    ...rest,
  });
  const run: Run = { trainer, model };
  try {
    await trainer.fit(data, fit);
  } catch (e) {
    run.error = e;
  }
  return run;
}

/** Everything a run leaves: records, parameters and the optimizer's saved state, as plain numbers. */
async function stateOf(run: Run) {
  const params = await Promise.all(run.model.namedVariables().map(async ([name, v]) => [name, Array.from(await v.data())]));
  const weights = await run.trainer.optimizer.getWeights();
  const slots = await Promise.all(weights.map(async (w) => Array.from(await w.tensor.data())));
  // getWeights makes a new tensor for the step count; the slots are the optimizer's own.
  tf.dispose(weights.filter((w) => w.name === "iter").map((w) => w.tensor));
  const internal = run.trainer.optimizer as unknown as { accBeta1?: tf.Tensor; accBeta2?: tf.Tensor };
  const betas = await Promise.all(
    [internal.accBeta1, internal.accBeta2].filter((t) => t !== undefined).map(async (t) => Array.from(await t!.data())),
  );
  const steps = run.trainer.history.steps.map((s) => ({ ...s }));
  return { params, slots, betas, steps, iterations: run.trainer.optimizer.iterations, step: run.trainer.step };
}

function dispose(...runs: Run[]): void {
  for (const run of runs) {
    run.model.dispose();
    run.trainer.optimizer.dispose();
  }
}

eachBackend(
  (backend) => {
    // webgpu: the backend's default lag (1) against lag 0; wasm and cpu: lag forced to 1 and 2.
    const lags = backend === "webgpu" ? [undefined] : [1, 2];
    const exact = backend !== "webgpu";
    const same = (a: unknown, b: unknown) => (exact ? expect(a).toEqual(b) : expectClose(a, b));

    it("the default lag follows the backend: 1 where reads are asynchronous, else 0", () => {
      const { tasks } = problem();
      const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
      const trainer = new mtl.Trainer({ model, tasks, progress: false });
      expect(trainer.lag).toBe(backend === "webgpu" ? 1 : 0);
      expect(new mtl.Trainer({ model, tasks, progress: false, lag: 3 }).lag).toBe(3);
      model.dispose();
    });

    for (const lag of lags) {
      describe(`lag ${lag ?? "default"}`, () => {
        for (const optimizerKind of ["adam", "momentum", "tfjs-adam"] as const) {
          it(`${optimizerKind}: the same records, parameters and optimizer state as lag 0, no tensor left`, async () => {
            const base = await fitWith({ optimizerKind, lag: 0 });
            const before = tf.memory().numTensors;
            const lagged = await fitWith({ optimizerKind, lag });
            const grew = tf.memory().numTensors - before;
            expect(base.error).toBeUndefined();
            expect(lagged.error).toBeUndefined();
            same(await stateOf(lagged), await stateOf(base));
            // A second fit on the lagged trainer: slots exist, so the count of live tensors is flat.
            const flat = tf.memory().numTensors;
            await lagged.trainer.fit(problem().data, { epochs: 2 });
            expect(tf.memory().numTensors).toBe(flat);
            dispose(base, lagged);
            // What the lagged run made beyond lag 0: nothing (model, slots and history only).
            expect(grew).toBe(await tensorsOfARun(optimizerKind));
          });
        }

        it("clipNorm and a regularizer: the same run as lag 0", async () => {
          const options = { clipNorm: 0.5, regularizers: [mtl.regularizers.l2(1e-3)] };
          const base = await fitWith({ ...options, lag: 0 });
          const lagged = await fitWith({ ...options, lag });
          const [a, b] = [await stateOf(lagged), await stateOf(base)];
          // The clip scale c/‖g‖ is formed in float32 on the device, in float64 on the host at lag 0.
          expectClose(a, b, 1e-5);
          expect(a.steps.some((s) => (s.gradNorm ?? 0) > 0.5)).toBe(true);
          dispose(base, lagged);
        });

        it('a NaN loss under "stop": the same error and step, and the state after the step before, exactly', async () => {
          for (const optimizerKind of ["adam", "momentum"] as const) {
            const base = await fitWith({ optimizerKind, nanRow: 30, lag: 0 });
            const lagged = await fitWith({ optimizerKind, nanRow: 30, lag });
            expect(base.error).toBeInstanceOf(mtl.NonFiniteLossError);
            expect(lagged.error).toBeInstanceOf(mtl.NonFiniteLossError);
            expect((lagged.error as Error).message).toBe((base.error as Error).message);
            const n = (base.error as mtl.NonFiniteLossError).step;
            expect((lagged.error as mtl.NonFiniteLossError).step).toBe(n);
            expect(lagged.trainer.history.steps.length).toBe(n);
            same(await stateOf(lagged), await stateOf(base));
            // …which is the state of a clean run of n steps.
            const clean = await fitWith({ optimizerKind, lag: 0 }, { steps: n });
            const [a, b] = [await stateOf(lagged), await stateOf(clean)];
            same(
              { params: a.params, slots: a.slots, iterations: a.iterations },
              { params: b.params, slots: b.slots, iterations: b.iterations },
            );
            dispose(base, lagged, clean);
          }
        });

        it('a gradient beyond float32 with finite losses under "stop": the same NonFiniteGradientError, nothing applied', async () => {
          const run = async (lagHere: number | undefined) => {
            const tasks = [mtl.tasks.classification("c", { classes: 2 })];
            const data = mtl.fromArrays({ x: Array.from({ length: 8 }, () => [1e20, 1e20]), targets: { c: new Array(8).fill(1) }, tasks });
            const model = mtl.hardSharing({ inputSize: 2, trunk: [2], tasks, seed: 3 });
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
            const trainer = new mtl.Trainer({
              model,
              tasks,
              batchSize: 4,
              seed: 1,
              progress: false,
              optimizer: optimizerOf("adam"),
              lag: lagHere,
            });
            const result: Run = { trainer, model };
            try {
              await trainer.fit(data, { epochs: 1 });
            } catch (e) {
              result.error = e;
            }
            return result;
          };
          const base = await run(0);
          const lagged = await run(lag);
          expect(base.error).toBeInstanceOf(mtl.NonFiniteGradientError);
          expect(lagged.error).toBeInstanceOf(mtl.NonFiniteGradientError);
          expect((lagged.error as Error).message).toBe((base.error as Error).message);
          expect(lagged.trainer.history.steps.length).toBe(0);
          const [a, b] = [await stateOf(lagged), await stateOf(base)];
          same(
            { params: a.params, iterations: a.iterations, steps: a.steps },
            { params: b.params, iterations: b.iterations, steps: b.steps },
          );
          // Lag 0 never reached the optimizer; the gated step made Adam's moments, still at their initial zeros.
          expect(b.slots).toEqual([[0]]);
          expect(a.slots.slice(1).every((slot) => slot.every((v) => v === 0))).toBe(true);
          dispose(base, lagged);
        });

        it('a NaN loss under "skip": recorded as not applied, the next step applied as at lag 0', async () => {
          for (const optimizerKind of ["adam", "tfjs-adam"] as const) {
            const base = await fitWith({ optimizerKind, nanRow: 30, onNonFinite: "skip", lag: 0 });
            const lagged = await fitWith({ optimizerKind, nanRow: 30, onNonFinite: "skip", lag });
            expect(lagged.error).toBeUndefined();
            const a = await stateOf(lagged);
            expect(a.steps.filter((s) => !s.applied).length).toBe(3); // once per epoch
            expect(a.iterations).toBe(a.steps.length - 3);
            same(a, await stateOf(base));
            dispose(base, lagged);
          }
        });

        it("an automatic checkpoint mid-run, then resume: the same run as lag 0 without one", async () => {
          const dir = mkdtempSync(join(tmpdir(), "mtlkit-lag-"));
          dirs.push(dir);
          const first = await fitWith({ lag, checkpoint: { dir, everySteps: 4 } }, { epochs: 2 });
          expect(first.error).toBeUndefined();
          const { tasks, data } = problem();
          const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
          const resumed = await mtl.Trainer.resume(dir, {
            model,
            tasks,
            batchSize: 16,
            seed: 1,
            progress: false,
            optimizer: optimizerOf("adam"),
            lag,
          });
          expect(resumed.step).toBe(4); // the newest checkpoint: step 4, saved with nothing in flight
          await resumed.fit(data, { epochs: 2 });
          const straight = await fitWith({ lag: 0 }, { epochs: 3 });
          const run = { trainer: resumed, model };
          same(await stateOf(run), await stateOf(straight));
          dispose(first, run, straight);
        });

        it("the next step is dispatched before the previous step's scalars are read", async () => {
          const { tasks, data } = problem();
          const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
          const optimizer = optimizerOf("adam") as FusedAdamOptimizer;
          const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, seed: 1, progress: false, optimizer, lag });
          // At each gated update (a dispatch): how many steps were recorded (read) by then.
          const recordedAtDispatch: number[] = [];
          const gated = optimizer.applyGradientsGated.bind(optimizer);
          optimizer.applyGradientsGated = (...args) => {
            recordedAtDispatch.push(trainer.history.steps.length);
            gated(...args);
          };
          await trainer.fit(data, { epochs: 2 });
          const L = lag ?? 1;
          // 3 steps per epoch; each epoch starts with nothing in flight.
          const expected = [0, 1, 2, 3, 4, 5].map((d) => (d < 3 ? Math.max(0, d - L) : 3 + Math.max(0, d - 3 - L)));
          expect(recordedAtDispatch).toEqual(expected);
          expect(trainer.history.steps.map((s) => s.step)).toEqual([0, 1, 2, 3, 4, 5]);
          model.dispose();
          optimizer.dispose();
        });

        it("a fit with an onStepEnd callback runs at lag 0: the callback sees its step applied, nothing in flight", async () => {
          const { tasks, data } = problem();
          const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
          const optimizer = optimizerOf("adam") as FusedAdamOptimizer;
          let gatedCalls = 0;
          const gated = optimizer.applyGradientsGated.bind(optimizer);
          optimizer.applyGradientsGated = (...args) => {
            gatedCalls++;
            gated(...args);
          };
          const seen: number[] = [];
          const trainer = new mtl.Trainer({
            model,
            tasks,
            batchSize: 16,
            seed: 1,
            progress: false,
            optimizer,
            lag,
            callbacks: { onStepEnd: (r) => void seen.push(optimizer.iterations - r.step) },
          });
          await trainer.fit(data, { epochs: 2 });
          expect(gatedCalls).toBe(0);
          expect(seen).toEqual([1, 1, 1, 1, 1, 1]); // step r.step is the (r.step + 1)-th update, and the last one
          model.dispose();
          optimizer.dispose();
        });

        it("stop() and an abort signal mid-run: the steps in flight are finished and recorded", async () => {
          for (const how of ["stop", "abort"] as const) {
            const { tasks, data } = problem();
            const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
            const optimizer = optimizerOf("adam") as FusedAdamOptimizer;
            const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, seed: 1, progress: false, optimizer, lag });
            const controller = new AbortController();
            let dispatched = 0;
            const gated = optimizer.applyGradientsGated.bind(optimizer);
            optimizer.applyGradientsGated = (...args) => {
              gated(...args);
              if (++dispatched === 4) how === "stop" ? trainer.stop() : controller.abort();
            };
            let error: unknown;
            try {
              await trainer.fit(data, { epochs: 3, signal: controller.signal });
            } catch (e) {
              error = e;
            }
            if (how === "abort") expect(error).toBeInstanceOf(mtl.TrainingInterrupted);
            else expect(error).toBeUndefined();
            // Every dispatched step was read and recorded; the state is that of 4 steps at lag 0.
            expect(trainer.history.steps.length).toBe(4);
            const run = { trainer, model };
            const clean = await fitWith({ lag: 0 }, { steps: 4 });
            same(await stateOf(run), await stateOf(clean));
            dispose(run, clean);
          }
        });
      });
    }

    it("a weighting method that reads its losses, and an aggregator, run at lag 0 under a lag", async () => {
      for (const extra of [{ weighting: mtl.weighting.dwa() }, { aggregator: mtl.aggregators.pcgrad({ order: [0, 1] }) }]) {
        const base = await fitWith({ ...extra, lag: 0 });
        const lagged = await fitWith({
          ...(extra.weighting ? { weighting: mtl.weighting.dwa() } : { aggregator: mtl.aggregators.pcgrad({ order: [0, 1] }) }),
          lag: 2,
        });
        same(await stateOf(lagged), await stateOf(base));
        dispose(base, lagged);
      }
    });
  },
  { webgpu: true },
);

describe("option 'lag' (cpu)", () => {
  beforeAll(async () => {
    await setBackend("cpu");
  });

  it("is refused unless an integer ≥ 0, naming the option", () => {
    const { tasks } = problem();
    const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 3 });
    for (const bad of [-1, 1.5, "2", NaN, Infinity]) {
      expect(() => new mtl.Trainer({ model, tasks, lag: bad as number })).toThrow(mtl.MtlError);
      expect(() => new mtl.Trainer({ model, tasks, lag: bad as number })).toThrow(/option 'lag' must be an integer ≥ 0/);
    }
    model.dispose();
  });

  it("with sync reads trapped (cpu), a lagged run reads only with await", async () => {
    const restore = trapSyncReads();
    try {
      const run = await fitWith({ lag: 2, clipNorm: 0.5 });
      if (run.error) throw run.error;
      expect(run.trainer.history.steps.length).toBe(9);
      dispose(run);
    } finally {
      restore();
    }
  });
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The tensors a plain lag-0 run leaves alive (model, optimizer slots), for the flat-count check. */
async function tensorsOfARun(kind: Optimizer): Promise<number> {
  const before = tf.memory().numTensors;
  const run = await fitWith({ optimizerKind: kind, lag: 0 });
  const grew = tf.memory().numTensors - before;
  dispose(run);
  return grew;
}

function expectClose(a: unknown, b: unknown, tolerance = 1e-4): void {
  if (typeof a === "number" && typeof b === "number") {
    // A loss that overflows may come out Infinity on one run and NaN on the other when values are only close.
    if (!Number.isFinite(a) || !Number.isFinite(b)) expect(Number.isFinite(a)).toBe(Number.isFinite(b));
    else expect(Math.abs(a - b)).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(b)));
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length).toBe(b.length);
    a.forEach((v, i) => expectClose(v, b[i], tolerance));
    return;
  }
  if (a !== null && b !== null && typeof a === "object" && typeof b === "object") {
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(a)) expectClose((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tolerance);
    return;
  }
  expect(a).toEqual(b);
}
