/** Every weighting method in the trainer, on wasm and cpu: trains, records its weights, keeps the tensor count flat, resumes from its state. */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { weightedStep } from "../../lib/train/steps/weighted";
import { eachBackend } from "../helpers/backends";
import { numberOf } from "../helpers/reads";
import { dtpWeight } from "../../lib/weighting/dtp";

const W = mtl.weighting;

function toyData(rows = 96, seed = 1) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal(), rng.normal()]);
  const cls = x.map((r) => (r[0] + r[1] > 0 ? 1 : 0) + (r[2] > 0.5 ? 1 : 0));
  const bin = x.map((r) => (r[3] - r[1] > 0 ? 1 : 0));
  const reg = x.map((r) => 3 * (r[0] - r[3]) + 1);
  const tasks = [mtl.tasks.classification("cls", { classes: 3 }), mtl.tasks.binary("bin"), mtl.tasks.regression("reg")];
  return { tasks, data: mtl.fromArrays({ x, targets: { cls, bin, reg }, tasks }) };
}

/** Every method, with options that reach its adaptive phase within a few epochs. */
const METHODS: Record<string, () => mtl.weighting.Weighting> = {
  equal: () => W.equal(),
  static: () => W.static([1, 0.5, 2]),
  uncertainty: () => W.uncertainty(),
  uncertaintyOwnRate: () => W.uncertainty({ learningRate: 0.025 }),
  dwa: () => W.dwa(),
  gradNorm: () => W.gradNorm(),
  gradNormRep: () => W.gradNorm({ target: "representation", alpha: 0.5 }),
  rlw: () => W.rlw({ seed: 3 }),
  gls: () => W.gls(),
  dtp: () => W.dtp({ kpi: "manual", gamma: 2 }),
  famo: () => W.famo(),
  imtlL: () => W.imtlL(),
  imtlLOwnRate: () => W.imtlL({ learningRate: 0.025 }),
  stch: () => W.stch({ warmupEpochs: 1 }),
};

/** DTP with manual KPIs gets them at each epoch end (accuracy, accuracy, R² clipped to [0, 1]). */
function kpiCallbacks(method: mtl.weighting.Weighting, trainer: () => mtl.Trainer, data: mtl.MultiTaskData): mtl.Callbacks {
  if (method.name !== "dtp") return {};
  return {
    onEpochEnd: async () => {
      const ev = await trainer().evaluateAsync(data);
      (method as ReturnType<typeof W.dtp>).observe([
        ev.cls.metrics.accuracy,
        ev.bin.metrics.accuracy,
        Math.min(1, Math.max(0, ev.reg.metrics.r2)),
      ]);
    },
  };
}

function makeTrainer(
  name: string,
  options: {
    seed?: number;
    optimizer?: tf.Optimizer;
    method?: mtl.weighting.Weighting;
    model?: mtl.MultiTaskModel;
    shuffle?: boolean;
  } = {},
) {
  const { tasks, data } = toyData(64, options.seed ?? 1);
  const model = options.model ?? mtl.hardSharing({ inputSize: 4, trunk: [12, 12], tasks, seed: 5 });
  const method = options.method ?? METHODS[name]();
  let trainer!: mtl.Trainer;
  trainer = new mtl.Trainer({
    model,
    tasks,
    weighting: method,
    batchSize: 16,
    progress: false,
    shuffle: options.shuffle,
    optimizer: options.optimizer ?? mtl.optimizers.adam({ learningRate: 0.01 }),
    callbacks: kpiCallbacks(method, () => trainer, data),
  });
  return { trainer, model, method, data, tasks };
}

eachBackend(
  () => {
    describe("weighting methods in the trainer", () => {
      for (const name of Object.keys(METHODS)) {
        it(`${name}: trains, records finite weights, keeps the tensor count flat`, async () => {
          const { trainer, model, method, data } = makeTrainer(name);
          await trainer.fit(data, { epochs: 3 }); // warm-up: optimizer slots, DWA/STCH phases
          const before = tf.memory().numTensors;
          await trainer.fit(data, { epochs: 3 });
          expect(tf.memory().numTensors).toBe(before);
          const steps = trainer.history.steps;
          expect(steps).toHaveLength(24);
          for (const s of steps) {
            expect(s.weights).toHaveLength(3);
            expect(s.weights.every((w) => Number.isFinite(w) && w >= 0)).toBe(true);
            expect(s.total).toBeCloseTo(
              s.weights.reduce((t, w, i) => t + w * s.losses[i], 0),
              4,
            );
          }
          const first = steps[0].losses.reduce((a, b) => a + b);
          const last = steps.at(-1)!.losses.reduce((a, b) => a + b);
          expect(last).toBeLessThan(first);
          const distinct = new Set(steps.map((s) => s.weights.join(","))).size;
          if (name === "equal" || name === "static") expect(distinct).toBe(1);
          else expect(distinct).toBeGreaterThan(1); // adaptive methods move their weights
          if (name === "static") expect(steps[0].weights).toEqual([1, 0.5, 2]);
          expect(trainer.weighting).toBe(method);
          method.dispose?.();
          model.dispose();
        });
      }

      it("a restored method continues with identical weights (state round trip through JSON)", async () => {
        for (const name of Object.keys(METHODS)) {
          // A: 6 epochs straight. B: 3 epochs, then its state saved; C: a fresh method restored from it on B's model.
          const a = makeTrainer(name, { optimizer: mtl.optimizers.sgd(0.02), shuffle: false });
          await a.trainer.fit(a.data, { epochs: 6 });
          const b = makeTrainer(name, { optimizer: mtl.optimizers.sgd(0.02), shuffle: false });
          await b.trainer.fit(b.data, { epochs: 3 });
          const saved = JSON.parse(JSON.stringify(b.method.stateAsync ? await b.method.stateAsync() : b.method.state()));
          const restored = METHODS[name]();
          const c = makeTrainer(name, { optimizer: mtl.optimizers.sgd(0.02), shuffle: false, model: b.model, method: restored });
          restored.loadState(saved);
          await c.trainer.fit(c.data, { epochs: 3 });
          const expected = a.trainer.history.steps.slice(12).map((s) => s.weights);
          const got = c.trainer.history.steps.map((s) => s.weights);
          expect(got.length, name).toBe(12);
          got.forEach((w, i) => w.forEach((v, j) => expect(v, `${name} step ${i} task ${j}`).toBeCloseTo(expected[i][j], 5)));
          for (const t of [a, b, c]) t.method.dispose?.();
          a.model.dispose();
          b.model.dispose();
        }
      });

      it("a checkpoint carries the method's state and its variables' optimizer slots (uncertainty, GradNorm, with Adam)", async () => {
        for (const name of ["uncertainty", "uncertaintyOwnRate", "gradNorm", "dwa"]) {
          const dir = mkdtempSync(join(tmpdir(), "mtlkit-weighting-"));
          try {
            const a = makeTrainer(name, { shuffle: false });
            await a.trainer.fit(a.data, { epochs: 4 });
            const b = makeTrainer(name, { shuffle: false });
            await b.trainer.fit(b.data, { epochs: 2 });
            await b.trainer.save(dir);
            const fresh = makeTrainer(name, { shuffle: false });
            await fresh.trainer.load(dir);
            await fresh.trainer.fit(fresh.data, { epochs: 2 });
            const expected = a.trainer.history.steps.slice(8);
            const got = fresh.trainer.history.steps.slice(8);
            expect(got.length, name).toBe(8);
            got.forEach((s, i) =>
              s.weights.forEach((w, j) => expect(w, `${name} step ${i + 8} task ${j}`).toBeCloseTo(expected[i].weights[j], 4)),
            );
            for (const t of [a, b, fresh]) {
              t.method.dispose?.();
              t.model.dispose();
            }
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        }
      });

      it("the step's gradient norms are ‖∇_W L_i‖ of the last shared kernel and ‖∇_z L_i‖ of the representation", async () => {
        const { tasks, data } = toyData(16);
        const model = mtl.hardSharing({ inputSize: 4, trunk: [6, 5], tasks, seed: 2 });
        const x = tf.tensor2d(data.features, [16, 4]);
        const targets = tasks.map((t) => t.targetTensor(data.targets[t.name], 16));
        const kernel = model
          .sharedVariables()
          .filter(([n]) => n.endsWith("kernel"))
          .at(-1)![1];
        const expectedW = await Promise.all(
          tasks.map((t, i) =>
            numberOf(() => tf.norm(tf.variableGrads(() => t.loss(model.forward(x, true)[i], targets[i]), [kernel]).grads[kernel.name])),
          ),
        );
        const z = model.encode(x, true);
        const expectedZ = await Promise.all(
          tasks.map((t, i) =>
            numberOf(() => tf.norm(tf.grad((zz: tf.Tensor) => t.loss(model.decode(zz as tf.Tensor2D, x, true)[i], targets[i]))(z))),
          ),
        );
        let seen: Record<string, number[]> = {};
        const probe: mtl.weighting.Weighting = {
          ...W.equal(),
          name: "probe",
          async weigh(ctx) {
            seen = {
              lastSharedLayer: await ctx.gradientNorms("lastSharedLayer"),
              representation: await ctx.gradientNorms("representation"),
            };
            return [1, 1, 1];
          },
        };
        probe.bind({ tasks, model });
        const sgd = tf.train.sgd(0);
        const before = tf.memory().numTensors;
        await weightedStep(
          {
            model,
            tasks,
            optimizer: sgd,
            regularizers: [],
            variables: model.namedVariables().map(([, v]) => v),
            batch: { xs: [x], targets, part: tasks.map(() => 0) },
            step: 0,
            epoch: 0,
            onNonFinite: "stop",
          },
          probe,
        );
        expect(tf.memory().numTensors).toBe(before);
        seen.lastSharedLayer.forEach((v, i) => expect(v).toBeCloseTo(expectedW[i], 4));
        seen.representation.forEach((v, i) => expect(v).toBeCloseTo(expectedZ[i], 4));
        tf.dispose([x, z, ...targets]);
        model.dispose();
      });

      it("GLS and uncertainty steps equal a step on the papers' objectives written out", async () => {
        const { tasks, data } = toyData(32, 4);
        const x = tf.tensor2d(data.features, [32, 4]);
        const targets = tasks.map((t) => t.targetTensor(data.targets[t.name], 32));
        const lossesOf = (m: mtl.MultiTaskModel) => tf.stack(tasks.map((t, i) => t.loss(m.forward(x, true)[i], targets[i])));
        const params = async (m: mtl.MultiTaskModel) =>
          (await Promise.all(m.namedVariables().map(([, v]) => v.data()))).flatMap((v) => Array.from(v));
        // GLS: minimise (Π L_i)^{1/k} directly.
        const m1 = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 7 });
        const m2 = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 7 });
        const t1 = new mtl.Trainer({ model: m1, tasks, weighting: W.gls(), optimizer: mtl.optimizers.sgd(0.1), progress: false });
        await t1.trainStep(x, targets);
        const opt = tf.train.sgd(0.1);
        tf.tidy(() => {
          opt.minimize(
            () => tf.exp(tf.mean(tf.log(lossesOf(m2)))) as tf.Scalar,
            false,
            m2.namedVariables().map(([, v]) => v),
          );
        });
        const p1 = await params(m1);
        (await params(m2)).forEach((v, i) => expect(p1[i]).toBeCloseTo(v, 5));
        // Uncertainty: Σ ½e^{−s}L (regression) / e^{−s}L (classification) + ½s with s in the graph.
        const m3 = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 8 });
        const m4 = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 8 });
        const u = W.uncertainty({ initialLogVariance: 0.3 });
        const t3 = new mtl.Trainer({ model: m3, tasks, weighting: u, optimizer: mtl.optimizers.sgd(0.1), progress: false });
        await t3.trainStep(x, targets);
        const s = tf.variable(tf.fill([3], 0.3));
        const c = tf.tensor1d([1, 1, 0.5]);
        const opt2 = tf.train.sgd(0.1);
        tf.tidy(() => {
          opt2.minimize(() => tf.sum(tf.add(tf.mul(tf.mul(c, tf.exp(tf.neg(s))), lossesOf(m4)), tf.mul(0.5, s))) as tf.Scalar, false, [
            ...m4.namedVariables().map(([, v]) => v),
            s,
          ]);
        });
        const p3 = await params(m3);
        (await params(m4)).forEach((v, i) => expect(p3[i]).toBeCloseTo(v, 5));
        const sv = Array.from(await s.data());
        const learned = (await u.stateAsync!()).logVariances as number[];
        learned.forEach((v, i) => expect(v).toBeCloseTo(sv[i], 5));
        tf.dispose([x, s, c, ...targets]);
        u.dispose!();
        for (const m of [m1, m2, m3, m4]) m.dispose();
      });

      it("DTP takes the batch accuracy as KPI for classification tasks", async () => {
        const { data } = toyData(64);
        const tasks = [mtl.tasks.classification("cls", { classes: 3 }), mtl.tasks.binary("bin")];
        const two: mtl.MultiTaskData = { ...data, targets: { cls: data.targets.cls, bin: data.targets.bin } };
        const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 1 });
        const method = W.dtp({ alpha: 1, gamma: 1 });
        const trainer = new mtl.Trainer({ model, tasks, weighting: method, batchSize: 64, progress: false, shuffle: false });
        const record = await trainer.trainStep(
          tf.tensor2d(data.features, [64, 4]),
          tasks.map((t) => t.targetTensor(two.targets[t.name], 64)),
        );
        // The KPI is the batch accuracy before the update: recompute it from a model at the initial weights.
        const fresh = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 1 });
        const ev = await new mtl.Trainer({ model: fresh, tasks, progress: false }).evaluateAsync(two);
        const kpis = method.kpis()!;
        expect(kpis).toEqual([ev.cls.metrics.accuracy, ev.bin.metrics.accuracy]);
        fresh.dispose();
        kpis.forEach((k, i) => expect(record.weights[i]).toBeCloseTo(dtpWeight(k, 1), 10));
        model.dispose();
      });
    });
  },
  { webgpu: true },
);
