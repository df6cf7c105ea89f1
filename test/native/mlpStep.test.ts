/**
 * The fused native training step equals the generic step (within float32 rounding) for every loss
 * it covers, with hidden head layers, static weights and clipping; and declines what it does not cover.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { fusedMlpStep } from "../../lib/train/steps/fusedMlp";
import { eachBackend } from "../helpers/backends";

function problem() {
  const tasks = [
    mtl.tasks.classification("c", { classes: 3 }),
    mtl.tasks.regression("r", { outputs: 2 }),
    mtl.tasks.binary("b"),
    mtl.tasks.multiLabel("m", { labels: 2 }),
  ];
  const rng = new mtl.Rng(4);
  const x = Array.from({ length: 24 }, () => Array.from({ length: 5 }, () => rng.normal()));
  const data = mtl.fromArrays({
    x,
    targets: {
      c: x.map((r) => (r[0] > 0 ? 1 : r[1] > 0 ? 2 : 0)),
      r: x.map((r) => [r[2] - r[3], r[4]]),
      b: x.map((r) => (r[1] + r[2] > 0 ? 1 : 0)),
      m: x.map((r) => [r[0] > 0 ? 1 : 0, r[3] > 0 ? 1 : 0]),
    },
    tasks,
  });
  return { tasks, data };
}

async function run(fused: boolean, options: Partial<mtl.TrainerOptions> = {}) {
  const { tasks, data } = problem();
  const model = mtl.hardSharing({ inputSize: 5, trunk: [16, 8], heads: { r: [6], c: [4] } as never, tasks, seed: 2 });
  // A zero-strength regularizer changes nothing numerically but keeps the step on the generic path.
  const regularizers = fused ? [] : [mtl.regularizers.l2(0)];
  const trainer = new mtl.Trainer({
    model,
    tasks,
    batchSize: 8,
    progress: false,
    weights: [1, 0.5, 2, 1],
    regularizers,
    seed: 1,
    ...options,
  });
  const x = tf.tensor2d(data.features, [data.rows, data.featureCount]);
  const targets = tasks.map((t) => t.targetTensor(data.targets[t.name], data.rows));
  const records: mtl.StepRecord[] = [];
  for (let i = 0; i < 6; i++) records.push(await trainer.trainStep(x, targets));
  const params = model.namedVariables().map(([, v]) => Array.from(v.dataSync()));
  tf.dispose([x, ...targets]);
  model.dispose();
  return { records, params };
}

describe.runIf(loadNative().status.available)("fused native MLP step", () => {
  afterAll(() => disableNativeKernels());

  eachBackend(() => {
    it("equals the generic step: losses, gradient norms and parameters after 6 Adam steps", async () => {
      enableNativeKernels();
      for (const options of [{}, { clipNorm: 0.05 }]) {
        const generic = await run(false, options);
        const fused = await run(true, options);
        fused.records.forEach((r, s) => {
          r.losses.forEach((l, i) => expect(Math.abs(l - generic.records[s].losses[i])).toBeLessThan(1e-5 * Math.max(1, Math.abs(l))));
          expect(Math.abs(r.gradNorm! - generic.records[s].gradNorm!) / generic.records[s].gradNorm!).toBeLessThan(1e-4);
        });
        fused.params.forEach((p, i) => p.forEach((v, j) => expect(Math.abs(v - generic.params[i][j])).toBeLessThan(1e-5)));
      }
    });

    it("leaves no stale packed weights: a plain-wasm prediction after fused steps uses the new parameters", async () => {
      // tfjs-wasm caches XNNPACK operators with packed copies of a matmul's weights by tensor id; the
      // fused step writes the variables in place, so it must drop them (lib/native/views.ts).
      const { tasks, data } = problem();
      const model = mtl.hardSharing({ inputSize: 5, trunk: [16, 8], tasks, seed: 2 });
      const x = tf.tensor2d(data.features, [data.rows, data.featureCount]);
      const targets = tasks.map((t) => t.targetTensor(data.targets[t.name], data.rows));
      disableNativeKernels();
      tf.dispose(model.forward(x, false)); // the backend's own matmuls: on wasm they cache the kernels packed
      enableNativeKernels();
      const trainer = new mtl.Trainer({ model, tasks, progress: false });
      for (let i = 0; i < 3; i++) {
        const { kernelNames } = await tf.profile(() => trainer.trainStep(x, targets) as unknown as Promise<tf.TensorContainer>);
        expect(kernelNames).not.toContain("BatchMatMul"); // the fused step: no tfjs matmul
      }
      disableNativeKernels();
      const after = tf.tidy(() => model.forward(x, false).map((t) => Array.from(t.dataSync())));
      // The same parameters in fresh tensors (no cache entry): what the model must now compute.
      const copy = mtl.hardSharing({ inputSize: 5, trunk: [16, 8], tasks, seed: 9 });
      copy.namedVariables().forEach(([, v], i) => tf.tidy(() => v.assign(tf.add(model.namedVariables()[i][1], 0))));
      const expected = tf.tidy(() => copy.forward(x, false).map((t) => Array.from(t.dataSync())));
      after.forEach((out, i) => out.forEach((v, j) => expect(Math.abs(v - expected[i][j])).toBeLessThan(1e-6)));
      tf.dispose([x, ...targets]);
      model.dispose();
      copy.dispose();
    });

    it("declines what it does not cover, so the generic step runs", async () => {
      enableNativeKernels();
      const { tasks } = problem();
      const model = mtl.hardSharing({ inputSize: 5, trunk: [4], tasks, seed: 2, activation: "tanh" });
      const trainer = new mtl.Trainer({ model, tasks, progress: false });
      const x = tf.zeros([2, 5]) as tf.Tensor2D;
      const targets = [tf.tensor1d([0, 1], "int32"), tf.zeros([2, 2]), tf.zeros([2, 1]), tf.zeros([2, 2])];
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
      expect(fusedMlpStep(input, trainer.weighting!)).toBeUndefined(); // tanh is not fused
      const relu = mtl.hardSharing({ inputSize: 5, trunk: [4], tasks, seed: 2 });
      const reluTrainer = new mtl.Trainer({ model: relu, tasks, progress: false });
      const reluInput = { ...input, model: relu, optimizer: reluTrainer.optimizer, variables: relu.namedVariables().map(([, v]) => v) };
      expect(fusedMlpStep(reluInput, reluTrainer.weighting!)?.applied).toBe(true);
      expect(fusedMlpStep({ ...reluInput, regularizers: [mtl.regularizers.l2(0)] }, reluTrainer.weighting!)).toBeUndefined();
      relu.dispose();
      expect((await trainer.trainStep(x, targets)).applied).toBe(true);
      tf.dispose([x, ...targets]);
      model.dispose();
    });

    it("keeps the tensor count flat and stops on a non-finite loss naming the task", async () => {
      enableNativeKernels();
      const { tasks } = problem();
      const model = mtl.hardSharing({ inputSize: 5, trunk: [4], tasks, seed: 2 });
      const trainer = new mtl.Trainer({ model, tasks, progress: false });
      const x = tf.ones([2, 5]) as tf.Tensor2D;
      const targets = [tf.tensor1d([0, 1], "int32"), tf.zeros([2, 2]), tf.zeros([2, 1]), tf.zeros([2, 2])];
      await trainer.trainStep(x, targets);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 5; i++) await trainer.trainStep(x, targets);
      expect(tf.memory().numTensors).toBe(before);
      const huge = [targets[0], tf.fill([2, 2], 3e38), targets[2], targets[3]];
      await expect(trainer.trainStep(x, huge)).rejects.toThrow(/task 'r' is Infinity at step 6/);
      tf.dispose([x, ...targets, huge[1]]);
      model.dispose();
    });
  });
});

describe.runIf(loadNative().status.available)("fused step and other optimizers", () => {
  afterAll(() => disableNativeKernels());

  it("leaves SGD to the generic step (tfjs's instanceof is duck-typed)", async () => {
    enableNativeKernels();
    const tasks = [mtl.tasks.regression("r")];
    const model = mtl.hardSharing({ inputSize: 2, trunk: [3], tasks, seed: 1 });
    const trainer = new mtl.Trainer({ model, tasks, optimizer: mtl.optimizers.sgd(0.1), progress: false });
    await trainer.fit(
      mtl.fromArrays({
        x: [
          [1, 2],
          [3, 4],
        ],
        targets: { r: [1, 2] },
        tasks,
      }),
      { epochs: 2 },
    );
    expect(trainer.history.steps.every((s) => s.applied && Number.isFinite(s.losses[0]))).toBe(true);
    model.dispose();
  });
});
