/**
 * Training with per-task label masks (docs/missing-labels.md):
 * - a task's loss is the mean over its labelled rows (a masked run equals a run on per-task
 *   datasets holding just those rows);
 * - a batch with none of a task's labels contributes nothing for it (its head does not move under
 *   SGD, its loss is NaN and its weight 0 in the record), and a batch with no label at all is not applied;
 * - every weighting and every aggregator trains through absent tasks, with the documented holds;
 * - the fused native step declines masked batches and gives the generic step's result;
 * - checkpoints resume exactly; no tensor leaks; nothing reads synchronously;
 * - bad input (no labelled row for a task) is refused before training, naming the task.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { fusedMlpStep } from "../../lib/train/steps/fusedMlp";
import { dtpWeight } from "../../lib/weighting/dtp";
import { dwaWeights } from "../../lib/weighting/dwa";
import { glsWeights } from "../../lib/weighting/gls";
import { stchWeights } from "../../lib/weighting/stch";
import { eachBackend, setBackend } from "../helpers/backends";
import { trapSyncReads } from "../helpers/syncReads";

const N = 32;

/**
 * 32 rows, a 3-class task c and a regression r. `rMask(i)` says whether row i has r's label;
 * `cMask` likewise for c (default: always).
 */
function problem(rMask: (i: number) => boolean, cMask: (i: number) => boolean = () => true, binaryR = false) {
  const rng = new mtl.Rng(11);
  const x = Array.from({ length: N }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const c = x.map((row) => (row[0] + row[1] > 0.4 ? 2 : row[0] > 0 ? 1 : 0));
  const r = x.map((row) => (binaryR ? Number(row[2] > 0) : row[2] - 0.5 * row[1]));
  const tasks = [mtl.tasks.classification("c", { classes: 3 }), binaryR ? mtl.tasks.binary("r") : mtl.tasks.regression("r")];
  const masks = { c: x.map((_, i) => cMask(i)), r: x.map((_, i) => rMask(i)) };
  return { tasks, data: mtl.fromArrays({ x, targets: { c, r }, masks, tasks }), x, c, r };
}

const model = (tasks: mtl.Task[], seed = 4) => mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed });
const values = (m: mtl.MultiTaskModel) => m.namedVariables().map(([name, v]) => [name, Array.from(v.dataSync())] as const);
/** `values` with awaited reads, for the blocks that also run on webgpu. */
const valuesOf = (m: mtl.MultiTaskModel) =>
  Promise.all(m.namedVariables().map(async ([name, v]) => [name, Array.from(await v.data())] as const));
/** r is labelled on rows 16..31 only, and sparsely: with batches of 16 in order, step 0 has no r label. */
const laterHalf = (i: number) => i >= 16 && i % 3 !== 0;

const onCpu = () =>
  beforeAll(async () => {
    await setBackend("cpu");
  });

eachBackend(
  () =>
    describe("masked losses", () => {
      it("a task's loss is the mean over its labelled rows: a masked run equals per-task datasets of those rows", async () => {
        const mask = (i: number) => i % 5 !== 2 && i % 7 !== 0;
        const { tasks, data } = problem(mask);
        const labelled = Array.from({ length: N }, (_, i) => i).filter(mask);
        const run = async (train: mtl.TrainingData) => {
          const m = model(tasks);
          const trainer = new mtl.Trainer({
            model: m,
            tasks,
            optimizer: mtl.optimizers.sgd(0.2),
            batchSize: 64,
            epochs: 6,
            seed: 1,
            progress: false,
          });
          await trainer.fit(train);
          return { params: await valuesOf(m), losses: trainer.history.steps.map((s) => s.losses) };
        };
        const masked = await run(data);
        const perTask = await run({ c: data, r: mtl.subset(data, labelled) });
        masked.params.forEach(([, v], i) => v.forEach((p, j) => expect(p).toBeCloseTo(perTask.params[i][1][j], 5)));
        masked.losses.forEach((l, s) => l.forEach((v, t) => expect(v).toBeCloseTo(perTask.losses[s][t], 5)));
      });

      it("a batch without a task's label contributes nothing for it; a batch without any label is not applied", async () => {
        const { tasks, data } = problem(laterHalf);
        const m = model(tasks);
        const trainer = new mtl.Trainer({
          model: m,
          tasks,
          optimizer: mtl.optimizers.sgd(0.1),
          batchSize: 16,
          shuffle: false,
          seed: 1,
          progress: false,
        });
        const head = () => Promise.all(m.taskVariables(1).map(async ([, v]) => Array.from(await v.data())));
        const before = await head();
        await trainer.fit(data, { steps: 1 });
        const [first] = trainer.history.steps;
        expect(first.applied).toBe(true);
        expect(first.losses[1]).toBeNaN();
        expect(first.weights[1]).toBe(0);
        expect(first.total).toBeCloseTo(first.losses[0], 6);
        expect(await head()).toEqual(before); // r's head had no gradient
        await trainer.fit(data, { steps: 1 });
        expect(await head()).not.toEqual(before);
        expect(Number.isFinite(trainer.history.steps[1].losses[1])).toBe(true);
        // The epoch's mean training loss of r is over the steps that had its labels.
        expect(trainer.history.epochs[0].trainLoss.r).toBeCloseTo(trainer.history.steps[1].losses[1], 6);

        // No task labelled in the first batch: the step is recorded, not applied, and changes nothing.
        const none = problem(laterHalf, (i) => i >= 16);
        const m2 = model(none.tasks);
        const t2 = new mtl.Trainer({
          model: m2,
          tasks: none.tasks,
          optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
          batchSize: 16,
          shuffle: false,
          progress: false,
        });
        const all = await valuesOf(m2);
        await t2.fit(none.data, { steps: 1 });
        expect(t2.history.steps[0].applied).toBe(false);
        expect(t2.history.steps[0].losses.every(Number.isNaN)).toBe(true);
        expect(await valuesOf(m2)).toEqual(all);
        m.dispose();
        m2.dispose();
      });

      it("refuses, before training, a task with no labelled row, a wrong-length mask and a per-task dataset without its labels", async () => {
        const { tasks, data } = problem(() => false);
        const m = model(tasks);
        const trainer = new mtl.Trainer({ model: m, tasks, progress: false });
        const before = await valuesOf(m);
        await expect(trainer.fit(data)).rejects.toThrow(
          /regression\('r'\): the training data has no row labelled for this task \(all 32 rows are masked\)/,
        );
        await expect(trainer.fit({ c: data, r: data })).rejects.toThrow(/regression\('r'\): the dataset of task 'r' has no row labelled/);
        const ok = problem(laterHalf).data;
        await expect(trainer.fit({ ...ok, masks: { ...ok.masks, r: new Uint8Array(31) } })).rejects.toThrow(
          /the label mask of task 'r' has 31 entries but the dataset has 32 rows/,
        );
        expect(await valuesOf(m)).toEqual(before);
        expect(trainer.history.steps).toHaveLength(0);
        m.dispose();
      });
    }),
  { webgpu: true },
);

describe("weightings with a task absent from a batch", () => {
  onCpu();
  const methods: Array<[string, () => mtl.weighting.Weighting]> = [
    ["equal", () => mtl.weighting.equal()],
    ["uncertainty", () => mtl.weighting.uncertainty()],
    ["dwa", () => mtl.weighting.dwa()],
    ["gradNorm", () => mtl.weighting.gradNorm()],
    ["gradNorm (representation)", () => mtl.weighting.gradNorm({ target: "representation" })],
    ["rlw", () => mtl.weighting.rlw({ seed: 2 })],
    ["gls", () => mtl.weighting.gls()],
    ["dtp", () => mtl.weighting.dtp({ metrics: "accuracy" })],
    ["famo", () => mtl.weighting.famo()],
    ["imtlL", () => mtl.weighting.imtlL()],
    ["stch", () => mtl.weighting.stch({ warmupEpochs: 1 })],
  ];
  for (const [name, make] of methods) {
    it(`${name}: trains, records weight 0 and loss NaN for the absent task, and keeps every number finite`, async () => {
      const { tasks, data } = problem(laterHalf, () => true, name === "dtp");
      const m = model(tasks);
      const weighting = make();
      const trainer = new mtl.Trainer({
        model: m,
        tasks,
        weighting,
        optimizer: mtl.optimizers.sgd(0.05),
        batchSize: 16,
        shuffle: false,
        epochs: 4,
        seed: 1,
        progress: false,
      });
      await trainer.fit(data);
      const steps = trainer.history.steps;
      expect(steps).toHaveLength(8);
      for (const s of steps) {
        expect(s.applied).toBe(true);
        expect(Number.isFinite(s.losses[0]) && Number.isFinite(s.weights[0])).toBe(true);
        if (s.step % 2 === 0) expect([s.losses[1], s.weights[1]]).toEqual([NaN, 0]);
        else expect(Number.isFinite(s.losses[1]) && Number.isFinite(s.weights[1])).toBe(true);
      }
      expect(values(m).every(([, v]) => v.every(Number.isFinite))).toBe(true);
      // The state survives JSON (a checkpoint), absent entries included.
      const state = JSON.parse(JSON.stringify(await (weighting.stateAsync?.() ?? weighting.state())));
      weighting.loadState(state);
      m.dispose();
      weighting.dispose?.();
    });
  }

  it("uncertainty and IMTL-L: the absent task's learnable scale gets no gradient (unchanged under SGD)", async () => {
    for (const weighting of [mtl.weighting.uncertainty(), mtl.weighting.imtlL()]) {
      const { tasks, data } = problem(laterHalf);
      const m = model(tasks);
      const trainer = new mtl.Trainer({
        model: m,
        tasks,
        weighting,
        optimizer: mtl.optimizers.sgd(0.1),
        batchSize: 16,
        shuffle: false,
        progress: false,
      });
      const read = () =>
        weighting.name === "uncertainty"
          ? (weighting as ReturnType<typeof mtl.weighting.uncertainty>).logVariances()
          : (weighting as ReturnType<typeof mtl.weighting.imtlL>).scales();
      await trainer.fit(data, { steps: 1 }); // r absent
      expect(read()[1]).toBe(0);
      expect(read()[0]).not.toBe(0);
      await trainer.fit(data, { steps: 1 }); // r present
      expect(read()[1]).not.toBe(0);
      m.dispose();
      weighting.dispose?.();
    }
  });

  it("GradNorm: the absent task keeps its weight and has no L_i(0) until it is first present; the present ones keep their total", async () => {
    const { tasks, data } = problem(laterHalf);
    const m = model(tasks);
    const weighting = mtl.weighting.gradNorm({ learningRate: 0.2 });
    const states: Array<{ weights: number[]; initialLosses: Array<number | null> | null }> = [];
    const trainer = new mtl.Trainer({
      model: m,
      tasks,
      weighting,
      optimizer: mtl.optimizers.sgd(0.05),
      batchSize: 16,
      shuffle: false,
      epochs: 3,
      progress: false,
      callbacks: { onStepEnd: () => void states.push(weighting.state() as never) },
    });
    await trainer.fit(data);
    expect(states[0].initialLosses).toEqual([trainer.history.steps[0].losses[0], null]);
    expect(states[1].initialLosses).toEqual([trainer.history.steps[0].losses[0], trainer.history.steps[1].losses[1]]);
    for (let s = 2; s < states.length; s += 2) {
      expect(states[s].weights[1]).toBe(states[s - 1].weights[1]); // absent at step s: held
      expect(states[s].weights[0]).toBeCloseTo(states[s - 1].weights[0], 12); // alone, nothing to balance
    }
    for (const st of states) expect(st.weights[0] + st.weights[1]).toBeCloseTo(2, 10);
    expect(states.some((st, s) => s > 0 && st.weights[0] !== states[s - 1].weights[0])).toBe(true);
    m.dispose();
  });

  it("DWA holds a task's epoch mean when no step of the epoch had its labels; DTP holds its KPI; GLS, FAMO and STCH weigh the present tasks", async () => {
    const bind = <W extends mtl.weighting.Weighting>(w: W, k = 2) => {
      const ts = Array.from({ length: k }, (_, i) => mtl.tasks.binary(`t${i}`));
      w.bind({ tasks: ts, model: mtl.hardSharing({ inputSize: 2, trunk: [2], tasks: ts }) });
      return w;
    };
    const ctx = (losses: number[], present: boolean[], metrics?: Array<Record<string, number>>): mtl.weighting.WeighContext => ({
      step: 0,
      epoch: 0,
      losses,
      present,
      lossTensor: tf.tensor1d(losses.map((l) => (Number.isFinite(l) ? l : 0))),
      gradientNorms: async () => losses.map(() => 1),
      batchMetrics: async () => metrics ?? [],
    });
    const dwa = bind(mtl.weighting.dwa({ temperature: 1 }));
    dwa.endEpoch!([1, NaN]); // first epoch with a gap: nothing to hold, not counted
    expect(dwa.state().epochLosses).toEqual([]);
    dwa.endEpoch!([1, 2]);
    dwa.endEpoch!([0.5, NaN]);
    expect(dwa.state().epochLosses).toEqual([
      [1, 2],
      [0.5, 2],
    ]);
    expect(await dwa.weigh(ctx([1, 1], [true, true]))).toEqual(dwaWeights([1, 2], [0.5, 2], 1));

    const dtp = bind(mtl.weighting.dtp({ alpha: 0.5, metrics: "accuracy" }));
    await dtp.weigh(ctx([1, NaN], [true, false], [{ accuracy: 0.5 }, {}]));
    expect(dtp.kpis()).toEqual([0.5, NaN]);
    const w = await dtp.weigh(ctx([1, 1], [true, true], [{ accuracy: 0.7 }, { accuracy: 0.9 }]));
    expect(dtp.kpis()).toEqual([0.6, 0.9]);
    expect(w).toEqual([dtpWeight(0.6, 1), dtpWeight(0.9, 1)]);
    expect(JSON.parse(JSON.stringify(bind(mtl.weighting.dtp()).state()))).toEqual({ method: "dtp", kpis: null });

    expect(await bind(mtl.weighting.gls(), 3).weigh(ctx([2, NaN, 8], [true, false, true]))).toEqual([
      ...(() => {
        const g = glsWeights([2, 8]);
        return [g[0], 0, g[1]];
      })(),
    ]);
    const famo = bind(mtl.weighting.famo(), 3);
    const fw = await famo.weigh(ctx([1, NaN, 3], [true, false, true]));
    expect(fw[1]).toBe(0);
    expect(fw[0] + fw[2]).toBeCloseTo(1, 12);
    await famo.afterStep!({ losses: [1, NaN, 3], lossesAfter: async () => [0.5, NaN, 2.9] });
    expect(famo.logits()[1]).toBe(0); // held
    expect(famo.logits()[0]).not.toBe(0);
    const stch = bind(mtl.weighting.stch({ nadir: [1, 1, 1] }), 3);
    const sw = await stch.weigh(ctx([1, NaN, 2], [true, false, true]));
    expect(sw).toEqual([
      ...(() => {
        const s = stchWeights([1, 2], [1, 1], 1);
        return [s[0], 0, s[1]];
      })(),
    ]);
  });
});

describe("aggregators with a task absent from a batch", () => {
  onCpu();
  const A = mtl.aggregators;
  const all: Array<[string, () => mtl.aggregators.Aggregator, Array<"param" | "rep">]> = [
    ["mean", () => A.mean(), ["param", "rep"]],
    ["sum", () => A.sum(), ["param", "rep"]],
    ["pcgrad", () => A.pcgrad({ seed: 1 }), ["param", "rep"]],
    ["mgda", () => A.mgda(), ["param", "rep"]],
    ["mgda l2", () => A.mgda({ normalization: "loss+" }), ["param"]],
    ["mgdaUB", () => A.mgdaUB(), ["rep"]],
    ["cagrad", () => A.cagrad(), ["param", "rep"]],
    ["imtlg", () => A.imtlg(), ["param", "rep"]],
    ["gradvac", () => A.gradvac({ seed: 1 }), ["param", "rep"]],
    ["graddrop", () => A.graddrop({ seed: 1 }), ["rep"]],
    ["nashMtl", () => A.nashMtl(), ["param", "rep"]],
    ["alignedMtl", () => A.alignedMtl(), ["param", "rep"]],
    ["upgrad", () => A.upgrad(), ["param", "rep"]],
    ["dualproj", () => A.dualproj(), ["param", "rep"]],
    ["config", () => A.config(), ["param", "rep"]],
    ["moco", () => A.moco(), ["param"]],
    ["fairgrad", () => A.fairgrad(), ["param", "rep"]],
    ["dbmtl", () => A.dbmtl(), ["param"]],
  ];
  it("lists every aggregator the library exports", () => {
    const exported = Object.entries(A)
      .filter(
        ([, f]) =>
          typeof f === "function" &&
          !/Weights|Coefficients|gramianOf|combine|minNormPoint|dualConeWeights|monitored|geometryOf|summarizeGeometry/.test(f.name),
      )
      .map(([n]) => n);
    for (const name of exported)
      expect(
        all.some(([, make]) => make().name === (A as unknown as Record<string, () => mtl.aggregators.Aggregator>)[name]().name),
        name,
      ).toBe(true);
  });

  for (const [name, make, levels] of all) {
    for (const level of levels) {
      it(`${name} at level ${level}: trains through absent batches, weight 0 and loss NaN for the absent task, finite parameters`, async () => {
        const { tasks, data } = problem(laterHalf);
        const m = model(tasks);
        const aggregator = make();
        const trainer = new mtl.Trainer({
          model: m,
          tasks,
          aggregator,
          level,
          optimizer: mtl.optimizers.sgd(0.05),
          batchSize: 16,
          shuffle: false,
          epochs: 3,
          seed: 1,
          progress: false,
        });
        const head0 = m.taskVariables(1).map(([, v]) => Array.from(v.dataSync()));
        await trainer.fit(data, { steps: 1 });
        expect(m.taskVariables(1).map(([, v]) => Array.from(v.dataSync()))).toEqual(head0);
        await trainer.fit(data);
        for (const s of trainer.history.steps) {
          expect(s.applied).toBe(true);
          if (s.step % 2 === 0) expect([s.losses[1], s.weights[1]]).toEqual([NaN, 0]);
          else expect(Number.isFinite(s.losses[1])).toBe(true);
          expect(s.weights.every(Number.isFinite)).toBe(true);
        }
        expect(values(m).every(([, v]) => v.every(Number.isFinite))).toBe(true);
        const state = aggregator.stateAsync ? await aggregator.stateAsync() : aggregator.state?.();
        if (state) aggregator.loadState!(JSON.parse(JSON.stringify(state)));
        (aggregator as { dispose?: () => void }).dispose?.();
        m.dispose();
      });
    }
  }

  for (const [name, make] of [
    ["upgrad", () => A.upgrad()],
    ["gradvac (absent rows zero)", () => A.gradvac({ seed: 1 })],
  ] as const) {
    it(`monitored(${name}): trains as the inner method does; absent tasks are NaN in the log and left out of the summary`, async () => {
      const { tasks, data } = problem(laterHalf);
      const run = async (aggregator: mtl.aggregators.Aggregator) => {
        const m = model(tasks);
        const trainer = new mtl.Trainer({
          model: m,
          tasks,
          aggregator,
          level: "param",
          optimizer: mtl.optimizers.sgd(0.05),
          batchSize: 16,
          shuffle: false,
          epochs: 2,
          seed: 1,
          progress: false,
        });
        await trainer.fit(data);
        const out = { params: values(m), weights: trainer.history.steps.map((s) => s.weights) };
        m.dispose();
        return out;
      };
      const wrapped = A.monitored(make());
      expect(wrapped.absentTasks).toBe(make().absentTasks);
      const [plain, monitoredRun] = [await run(make()), await run(wrapped)];
      expect(monitoredRun).toEqual(plain);
      const absentSteps = wrapped.log.filter((g) => Number.isNaN(g.norms[1]));
      expect(absentSteps.length).toBeGreaterThan(0);
      for (const g of absentSteps) expect([g.cosines[0][1], g.cosines[1][0], Number.isFinite(g.norms[0])]).toEqual([NaN, NaN, true]);
      const pair = wrapped.summary().pairs[0];
      expect(pair.steps).toBe(wrapped.log.length - absentSteps.length);
      expect(Number.isFinite(pair.meanCosine)).toBe(true);
    });
  }

  it("MGDA and PCGrad: with one task present, the update is that task's gradient (not MGDA's zero from a zero row)", async () => {
    const { tasks, data } = problem(laterHalf);
    const reference = model(tasks);
    const weighted = new mtl.Trainer({
      model: reference,
      tasks,
      optimizer: mtl.optimizers.sgd(0.1),
      batchSize: 16,
      shuffle: false,
      progress: false,
    });
    const start = values(reference);
    await weighted.fit(data, { steps: 1 });
    expect(values(reference)).not.toEqual(start);
    for (const aggregator of [mtl.aggregators.mgda(), mtl.aggregators.pcgrad({ seed: 3 })]) {
      for (const level of ["param", "rep"] as const) {
        const m = model(tasks);
        const trainer = new mtl.Trainer({
          model: m,
          tasks,
          aggregator,
          level,
          optimizer: mtl.optimizers.sgd(0.1),
          batchSize: 16,
          shuffle: false,
          progress: false,
        });
        await trainer.fit(data, { steps: 1 });
        values(m).forEach(([, v], i) =>
          v.forEach((p, j) => expect(p, `${aggregator.name} ${level}`).toBeCloseTo(values(reference)[i][1][j], 6)),
        );
        expect(trainer.history.steps[0].weights).toEqual([1, 0]);
        m.dispose();
      }
    }
    reference.dispose();
  });

  it("MoCo and DB-MTL hold the absent task's tracked gradient; GradVac holds its pairs' targets", async () => {
    const { tasks, data } = problem(laterHalf);
    for (const aggregator of [mtl.aggregators.moco(), mtl.aggregators.dbmtl()]) {
      const m = model(tasks);
      const trainer = new mtl.Trainer({
        model: m,
        tasks,
        aggregator,
        level: "param",
        optimizer: mtl.optimizers.sgd(0.05),
        batchSize: 16,
        shuffle: false,
        progress: false,
      });
      await trainer.fit(data, { steps: 2 });
      const key = aggregator.name === "MoCo" ? "y" : "buffer";
      const before = (await aggregator.stateAsync!())[key] as number[];
      await trainer.fit(data, { steps: 1 }); // r absent
      const after = (await aggregator.stateAsync!())[key] as number[];
      const d = after.length / 2;
      expect(after.slice(d)).toEqual(before.slice(d));
      expect(after.slice(0, d)).not.toEqual(before.slice(0, d));
      (aggregator as mtl.aggregators.StatefulAggregator).dispose();
      m.dispose();
    }
    const gradvac = mtl.aggregators.gradvac({ beta: 0.5, seed: 1 });
    const m = model(tasks);
    const trainer = new mtl.Trainer({
      model: m,
      tasks,
      aggregator: gradvac,
      level: "param",
      optimizer: mtl.optimizers.sgd(0.05),
      batchSize: 16,
      shuffle: false,
      progress: false,
    });
    await trainer.fit(data, { steps: 2 });
    const target = gradvac.state!().target;
    await trainer.fit(data, { steps: 1 });
    expect(gradvac.state!().target).toEqual(target);
    m.dispose();
  });
});

describe("one path for every path: checkpoints, leaks, asynchronous reads", () => {
  onCpu();
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "mtlkit-masks-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a run stopped and resumed from a checkpoint equals the uninterrupted run (GradNorm state with an unknown L_i(0))", async () => {
    const { tasks, data } = problem(laterHalf);
    const options = (m: mtl.MultiTaskModel): mtl.TrainerOptions => ({
      model: m,
      tasks,
      weighting: mtl.weighting.gradNorm(),
      optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
      batchSize: 8,
      epochs: 3,
      seed: 5,
      progress: false,
    });
    const straight = model(tasks);
    await new mtl.Trainer(options(straight)).fit(data, { steps: 12 });
    const first = model(tasks);
    const a = new mtl.Trainer(options(first));
    await a.fit(data, { steps: 5 });
    await a.save(dir);
    const second = model(tasks, 99);
    const b = await mtl.Trainer.resume(dir, options(second));
    await b.fit(data, { steps: 7 });
    expect(b.history.steps).toHaveLength(12);
    expect(values(second)).toEqual(values(straight));
    [straight, first, second].forEach((m) => m.dispose());
  });

  it("keeps the tensor count flat across masked steps of every rule and evaluation", async () => {
    const { tasks, data } = problem(laterHalf, (i) => i % 4 !== 1);
    for (const extra of [
      {},
      { weighting: mtl.weighting.uncertainty() },
      { weighting: mtl.weighting.gradNorm() },
      { aggregator: mtl.aggregators.mgda(), level: "rep" as const },
      { aggregator: mtl.aggregators.dbmtl(), level: "param" as const },
    ]) {
      const m = model(tasks);
      const trainer = new mtl.Trainer({ model: m, tasks, batchSize: 16, shuffle: false, progress: false, ...extra });
      await trainer.fit(data, { steps: 2 });
      trainer.evaluate(data);
      const before = tf.memory().numTensors;
      await trainer.fit(data, { steps: 4 });
      trainer.evaluate(data);
      await trainer.evaluateAsync(data);
      expect(tf.memory().numTensors, JSON.stringify(Object.keys(extra))).toBe(before);
      m.dispose();
    }
  });

  it("reads nothing synchronously on the masked training path (results equal a run with reads allowed)", async () => {
    const { tasks, data } = problem(laterHalf, (i) => i % 4 !== 1);
    for (const extra of [
      { weighting: mtl.weighting.uncertainty() },
      { weighting: mtl.weighting.gradNorm() },
      { aggregator: mtl.aggregators.upgrad(), level: "param" as const },
      { aggregator: mtl.aggregators.moco(), level: "param" as const },
    ]) {
      const run = async (trapped: boolean) => {
        const m = model(tasks);
        const fresh = {
          ...extra,
          ...(extra.weighting
            ? { weighting: extra.weighting.name === "uncertainty" ? mtl.weighting.uncertainty() : mtl.weighting.gradNorm() }
            : {}),
          ...(extra.aggregator
            ? { aggregator: extra.aggregator.name === "UPGrad" ? mtl.aggregators.upgrad() : mtl.aggregators.moco() }
            : {}),
        };
        const trainer = new mtl.Trainer({ model: m, tasks, batchSize: 16, epochs: 2, progress: false, ...fresh });
        const restore = trapped ? trapSyncReads() : () => {};
        try {
          await trainer.fit(data, { validation: data });
        } finally {
          restore();
        }
        const out = { steps: trainer.history.steps.map((s) => s.losses), params: values(m) };
        m.dispose();
        return out;
      };
      expect(await run(true)).toEqual(await run(false));
    }
  });
});

const native = loadNative().status.available;
if (process.env.MTLKIT_REQUIRE_NATIVE === "1" && !native)
  throw new Error("MTLKIT_REQUIRE_NATIVE=1 but the native addon is not available here.");

describe.runIf(native)("the fused native step under masks", () => {
  afterAll(() => disableNativeKernels());

  it("declines a batch with masked labels, so a masked run equals the generic path's", async () => {
    await setBackend("wasm");
    enableNativeKernels();
    // Batches 0 and 1 (rows 0..15) are fully labelled (the fused step runs), 2 and 3 are not.
    const { tasks, data } = problem((i) => i < 16 || i % 3 !== 0);
    const run = async (generic: boolean) => {
      const m = model(tasks);
      // A zero-strength regularizer changes nothing numerically but keeps every step on the generic path.
      const trainer = new mtl.Trainer({
        model: m,
        tasks,
        batchSize: 8,
        epochs: 3,
        shuffle: false,
        progress: false,
        regularizers: generic ? [mtl.regularizers.l2(0)] : [],
      });
      await trainer.fit(data);
      const out = values(m);
      m.dispose();
      return out;
    };
    const fused = await run(false);
    const generic = await run(true);
    fused.forEach(([, v], i) => v.forEach((p, j) => expect(Math.abs(p - generic[i][1][j])).toBeLessThan(1e-5)));
    // Directly: a batch that cuts a task's rows is declined.
    const m = model(tasks);
    const trainer = new mtl.Trainer({ model: m, tasks, progress: false });
    const x = tf.ones([2, 3]) as tf.Tensor2D;
    const targets = [tf.tensor1d([0, 1], "int32"), tf.zeros([1, 1])];
    const rows = [undefined, tf.tensor1d([1], "int32") as tf.Tensor1D];
    const input = {
      model: m,
      tasks,
      optimizer: trainer.optimizer,
      regularizers: [],
      variables: m.namedVariables().map(([, v]) => v),
      step: 0,
      epoch: 0,
      onNonFinite: "stop" as const,
    };
    expect(fusedMlpStep({ ...input, batch: { xs: [x], targets, part: [0, 0], rows } }, trainer.weighting!)).toBeUndefined();
    expect(
      fusedMlpStep({ ...input, batch: { xs: [x], targets: [targets[0], undefined], part: [0, -1] } }, trainer.weighting!),
    ).toBeUndefined();
    tf.dispose([x, ...targets, rows[1]!]);
    m.dispose();
    await setBackend("cpu");
  });
});
