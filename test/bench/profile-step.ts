/**
 * Where one training step's time goes, per tfjs kernel, for one of train-throughput's models.
 *
 *   npm run build && node dist/test/bench/profile-step.js [--model=generic|mmoe|cnn|mlp]
 *       [--backend=wasm+native|wasm|cpu|cpu+native] [--steps=30]
 *   node --cpu-prof --cpu-prof-dir=.prof dist/test/bench/profile-step.js --model=generic --no-kernels
 *
 * Prints: the step's CPU time (median of `--steps` steps, process.cpuUsage), then from `tf.profile`
 * over one step each kernel's calls and time (minimum over 5 profiled steps, kernelMs as tfjs
 * measures it), their sum, and the rest (tape, engine bookkeeping, dispose, JavaScript around the
 * kernels). `--no-kernels` skips tf.profile (for a clean --cpu-prof).
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as mtl from "../../lib";
import { Mlp } from "../../lib/layers/block";

function flag(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

function build(name: string): { model: mtl.MultiTaskModel; tasks: mtl.Task[]; input: number; batch: number; extra: tf.Variable[] } {
  const regressions = (n: number) => Array.from({ length: n }, (_, i) => mtl.tasks.regression(`value${i}`));
  const classAndValue = () => [mtl.tasks.classification("label", { classes: 10 }), mtl.tasks.regression("value")];
  if (name === "generic") {
    const mlp = new Mlp("trunk", 256, [512, 512], new mtl.Rng(1));
    const trunk = {
      apply: (x: tf.Tensor2D) => mlp.apply(x),
      variables: mlp.namedVariables().map(([, v]) => v),
      outputSize: mlp.outputSize,
    };
    const tasks = regressions(4);
    return { model: mtl.hardSharing({ inputSize: 256, trunk, tasks, seed: 1 }), tasks, input: 256, batch: 256, extra: trunk.variables };
  }
  if (name === "mmoe") {
    const tasks = regressions(2);
    return {
      model: mtl.mmoe({ inputSize: 256, tasks, experts: 4, expertLayers: [128], towers: [64], seed: 1 }),
      tasks,
      input: 256,
      batch: 256,
      extra: [],
    };
  }
  if (name === "cnn") {
    const tasks = classAndValue();
    const trunk = mtl.layers.cnnEncoder({ height: 28, width: 28, channels: 1, filters: [16, 32], kernelSize: 3, dense: [128], seed: 1 });
    return { model: mtl.hardSharing({ inputSize: 784, trunk, tasks, seed: 1 }), tasks, input: 784, batch: 64, extra: [] };
  }
  const tasks = classAndValue();
  return { model: mtl.hardSharing({ inputSize: 784, trunk: [512, 512], tasks, seed: 1 }), tasks, input: 784, batch: 256, extra: [] };
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function main(): Promise<void> {
  const modelName = flag("model", "generic");
  const backend = flag("backend", "wasm+native");
  const steps = Number(flag("steps", "30"));
  const [base, variant] = backend.split("+");
  await mtl.useBestBackend({ prefer: base as mtl.backends.BackendName });
  mtl.backends.disableNativeKernels();
  if (variant === "native") {
    const status = mtl.backends.enableNativeKernels({ threads: 1 });
    if (!status.enabled.includes(base as "wasm" | "cpu")) throw new Error(`native kernels unavailable: ${status.reason}`);
  }
  const { model, tasks, input, batch, extra } = build(modelName);
  const trainer = new mtl.Trainer({ model, tasks, optimizer: mtl.optimizers.adam({ learningRate: 1e-3 }), progress: false });
  const rng = new mtl.Rng(2);
  const x = tf.tensor2d(
    Float32Array.from({ length: batch * input }, () => rng.normal()),
    [batch, input],
  );
  const targets = tasks.map((t) =>
    t.name === "label"
      ? tf.tensor1d(
          Int32Array.from({ length: batch }, () => Math.floor(rng.uniform() * 10)),
          "int32",
        )
      : tf.tensor2d(
          Float32Array.from({ length: batch }, () => rng.normal()),
          [batch, 1],
        ),
  );
  for (let i = 0; i < 10; i++) await trainer.trainStep(x, targets);
  const times: number[] = [];
  const before = tf.memory().numTensors;
  for (let i = 0; i < steps; i++) {
    const t0 = cpuMs();
    await trainer.trainStep(x, targets);
    times.push(cpuMs() - t0);
    trainer.history.steps.length = 0;
  }
  times.sort((a, b) => a - b);
  const stepMs = times[Math.floor(times.length / 2)];
  console.log(`${modelName} on ${backend}: step ${stepMs.toFixed(2)} ms CPU (median of ${steps}; min ${times[0].toFixed(2)})`);
  console.log(`tensors before/after: ${before} / ${tf.memory().numTensors}`);
  if (process.argv.includes("--no-kernels")) return;
  // The same step issues the same kernels in the same order: take each call's minimum over the
  // profiled steps (wall-clock kernelMs is noisy on a shared machine). "forward" is the span of a
  // runKernelFunc (lib/ops/linear) around kernels listed on their own, so it is not summed.
  let mins: Array<{ name: string; ms: number }> = [];
  for (let r = 0; r < 10; r++) {
    const info = await tf.profile(async () => {
      await trainer.trainStep(x, targets);
    });
    const kernels = info.kernels.map((k) => ({ name: k.name, ms: Number(k.kernelTimeMs) || 0 }));
    if (r === 0 || kernels.length !== mins.length) mins = kernels;
    else mins = mins.map((m, i) => ({ name: m.name, ms: Math.min(m.ms, kernels[i].ms) }));
  }
  const perKernel = new Map<string, { calls: number; ms: number }>();
  for (const k of mins) {
    const e = perKernel.get(k.name) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += k.ms;
    perKernel.set(k.name, e);
  }
  const counted = mins.filter((k) => k.name !== "forward");
  const best = counted.reduce((s, k) => s + k.ms, 0);
  const rows = [...perKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  console.log(`kernels: ${counted.length} calls, ${best.toFixed(2)} ms (wall, each call's minimum over 10 profiled steps)`);
  console.log("kernel | calls | ms | share of kernel time");
  for (const [name, e] of rows)
    console.log(`${name} | ${e.calls} | ${e.ms.toFixed(3)} | ${name === "forward" ? "(span)" : ((100 * e.ms) / best).toFixed(1) + "%"}`);
  console.log(`rest of the step (bookkeeping, tape, JS): ≈ ${(stepMs - best).toFixed(2)} ms of ${stepMs.toFixed(2)} ms`);
  model.dispose();
  tf.dispose([x, ...targets, ...extra]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
