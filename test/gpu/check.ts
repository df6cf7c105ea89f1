/**
 * The GPU check: does a training step on each available backend agree with the cpu backend, and how
 * fast does each train the 784-512-512 hard-sharing model and a small CNN at several batch sizes?
 * Runs anywhere (here on wasm and cpu); on a GPU machine it picks up WebGPU (Dawn) or native
 * TensorFlow when they load. See test/gpu/README.md for running it on a machine without Node.
 *
 * Correctness: the same model (same seed, so the same initial weights), the same batch, one SGD
 * step (lr 0.05) on backend X and on cpu:
 *   loss rel. error   = |L_X − L_cpu| / |L_cpu|              (total loss before the step)
 *   update rel. error = ‖Δθ_X − Δθ_cpu‖₂ / ‖Δθ_cpu‖₂          (Δθ = θ_after − θ_before, all variables)
 * float32 with different summation orders: pass below 1e-4 (loss) and 1e-3 (update).
 *
 * Throughput: `Trainer.trainStep` on a fixed batch (Adam, CE + MSE), warm-up steps first, then
 * steps until `--target-ms` have passed; each step reads its losses back, so the GPU has finished.
 *
 *   node dist/test/gpu/check.js [--backends=webgpu,tensorflow,wasm,cpu] [--batches=64,256,1024]
 *        [--models=mlp,cnn] [--target-ms=1500] [--quick] [--json=PATH]
 * Default backends: every one that loads except plain-JS cpu (the correctness reference; slow).
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { BackendName, useBestBackend, BACKEND_NAMES } from "../../lib/backend";
import { doctor, formatDoctor } from "../../lib/doctor";
import { hardSharing, HardSharingModel } from "../../lib/architectures/hardSharing";
import { cnnEncoder } from "../../lib/layers/cnnEncoder";
import * as tasks from "../../lib/tasks";
import { Trainer } from "../../lib/train/trainer";
import { adam, sgd } from "../../lib/train/optimizers";
import { Rng } from "../../lib/random";

type ModelName = "mlp" | "cnn";

interface Options {
  backends?: BackendName[];
  batches: number[];
  models: ModelName[];
  targetMs: number;
  json?: string;
  quick: boolean;
  batchesGiven: boolean;
}

function parse(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`gpu check: unknown argument '${a}'`);
    flags.set(m[1], m[2] ?? "true");
  }
  const known = ["backends", "batches", "models", "target-ms", "json", "quick"];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`gpu check: unknown flag --${k} (known: ${known.join(", ")})`);
  const quick = flags.has("quick");
  const list = (s: string | undefined) => (s ? s.split(",").map((x) => x.trim()).filter(Boolean) : undefined);
  const backends = list(flags.get("backends")) as BackendName[] | undefined;
  for (const b of backends ?? []) if (!BACKEND_NAMES.includes(b)) throw new Error(`gpu check: unknown backend '${b}' (${BACKEND_NAMES.join(", ")})`);
  const batches = (list(flags.get("batches")) ?? (quick ? ["16", "64"] : ["64", "256", "1024"])).map(Number);
  for (const b of batches) if (!Number.isInteger(b) || b < 1) throw new Error(`gpu check: bad batch size ${b}`);
  const models = (list(flags.get("models")) ?? ["mlp", "cnn"]) as ModelName[];
  for (const m of models) if (m !== "mlp" && m !== "cnn") throw new Error(`gpu check: unknown model '${m}' (mlp, cnn)`);
  return { backends, batches, models, targetMs: Number(flags.get("target-ms") ?? (quick ? 300 : 1500)), json: flags.get("json"), quick, batchesGiven: flags.has("batches") };
}

const CLASSES = 10;

function buildModel(name: ModelName): { model: HardSharingModel; taskList: ReturnType<typeof makeTasks> } {
  const taskList = makeTasks();
  const trunk = name === "mlp" ? [512, 512] : cnnEncoder({ height: 28, width: 28, channels: 1, filters: [16, 32], dense: [128], seed: 5 });
  return { model: hardSharing({ inputSize: 784, trunk, tasks: taskList, seed: 1 }), taskList };
}

function makeTasks() {
  return [tasks.classification("digit", { classes: CLASSES }), tasks.regression("value")];
}

function batch(size: number, seed: number): { x: tf.Tensor2D; targets: tf.Tensor[] } {
  const rng = new Rng(seed);
  const x = tf.tensor2d(Float32Array.from({ length: size * 784 }, () => rng.uniform()), [size, 784]);
  const labels = tf.tensor1d(Int32Array.from({ length: size }, () => Math.floor(rng.uniform() * CLASSES)), "int32");
  const values = tf.tensor2d(Float32Array.from({ length: size }, () => rng.normal()), [size, 1]);
  return { x, targets: [labels, values] };
}

function flatWeights(model: HardSharingModel): Float64Array {
  const parts = [...model.sharedVariables(), ...model.heads.flatMap((h) => h.namedVariables())].map(([, v]) => v.dataSync());
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

interface StepResult {
  loss: number;
  update: Float64Array;
}

/** Which training path a backend takes: mtlkit's Trainer (synchronous reads) or plain tfjs with awaited reads. */
type Path = "trainer" | "tfjs-async";

/** L = CE + MSE, the Trainer's objective with equal weights, written in plain tfjs. */
function plainLoss(model: HardSharingModel, x: tf.Tensor2D, targets: tf.Tensor[]): tf.Scalar {
  const [logits, value] = model.forward(x, true);
  const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(targets[0] as tf.Tensor1D, CLASSES), logits);
  return tf.add(ce, tf.losses.meanSquaredError(targets[1], value)) as tf.Scalar;
}

async function flatWeightsAsync(model: HardSharingModel): Promise<Float64Array> {
  const parts = await Promise.all(model.namedVariables().map(([, v]) => v.data()));
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p as Float32Array, o);
    o += p.length;
  }
  return out;
}

/** One SGD step in plain tfjs, reading back with await: the path WebGPU supports in Node. */
async function oneStepAsync(name: ModelName, size: number): Promise<StepResult> {
  const { model } = buildModel(name);
  const optimizer = tf.train.sgd(0.05);
  const { x, targets } = batch(size, 11);
  const before = await flatWeightsAsync(model);
  const cost = optimizer.minimize(() => plainLoss(model, x, targets), true, model.namedVariables().map(([, v]) => v))!;
  const loss = (await cost.data())[0];
  const after = await flatWeightsAsync(model);
  for (let i = 0; i < after.length; i++) after[i] -= before[i];
  cost.dispose();
  optimizer.dispose();
  model.dispose();
  tf.dispose([x, ...targets]);
  return { loss, update: after };
}

async function throughputAsync(name: ModelName, size: number, targetMs: number): Promise<{ steps: number; seconds: number; leaked: number }> {
  const { model } = buildModel(name);
  const optimizer = tf.train.adam(1e-3);
  const vars = model.namedVariables().map(([, v]) => v);
  const { x, targets } = batch(size, 3);
  const step = async () => {
    const cost = optimizer.minimize(() => plainLoss(model, x, targets), true, vars)!;
    await cost.data();
    cost.dispose();
  };
  for (let i = 0; i < 2; i++) await step();
  const tensors = tf.memory().numTensors;
  let steps = 0;
  const start = performance.now();
  while (steps < 3 || performance.now() - start < targetMs) {
    await step();
    steps++;
  }
  const seconds = (performance.now() - start) / 1000;
  const leaked = tf.memory().numTensors - tensors;
  optimizer.dispose();
  model.dispose();
  tf.dispose([x, ...targets]);
  return { steps, seconds, leaked };
}

/** One SGD step from the seeded initial weights on the current backend. */
async function oneStep(name: ModelName, size: number): Promise<StepResult> {
  const { model, taskList } = buildModel(name);
  const trainer = new Trainer({ model, tasks: taskList, optimizer: sgd(0.05), progress: false });
  const { x, targets } = batch(size, 11);
  const before = flatWeights(model);
  const record = await trainer.trainStep(x, targets);
  const after = flatWeights(model);
  for (let i = 0; i < after.length; i++) after[i] -= before[i];
  model.dispose();
  trainer.optimizer.dispose();
  tf.dispose([x, ...targets]);
  return { loss: record.total, update: after };
}

function relError(a: Float64Array, b: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

interface Agreement {
  backend: string;
  path: Path;
  model: ModelName;
  lossRelError: number;
  updateRelError: number;
  pass: boolean;
}

interface Throughput {
  backend: string;
  path: Path;
  device: string;
  model: ModelName;
  batch: number;
  steps: number;
  msPerStep: number;
  samplesPerSec: number;
  leakedTensors: number;
}

async function throughput(name: ModelName, size: number, targetMs: number): Promise<{ steps: number; seconds: number; leaked: number }> {
  const { model, taskList } = buildModel(name);
  const trainer = new Trainer({ model, tasks: taskList, optimizer: adam({ learningRate: 1e-3 }), progress: false });
  const { x, targets } = batch(size, 3);
  for (let i = 0; i < 2; i++) await trainer.trainStep(x, targets); // warm-up: shader compilation, buffers
  const tensors = tf.memory().numTensors;
  let steps = 0;
  const start = performance.now();
  while (steps < 3 || performance.now() - start < targetMs) {
    await trainer.trainStep(x, targets);
    steps++;
  }
  const seconds = (performance.now() - start) / 1000;
  const leaked = tf.memory().numTensors - tensors;
  trainer.history.steps.length = 0;
  model.dispose();
  trainer.optimizer.dispose();
  tf.dispose([x, ...targets]);
  return { steps, seconds, leaked };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const options = parse(process.argv.slice(2));
  const report = await doctor();
  console.log(formatDoctor(report));
  const available = report.backends.filter((b) => b.available && b.works !== false).map((b) => b.name);
  // Plain-JS cpu is the reference for correctness; timing it (seconds per CNN step) only when asked.
  const backends = options.backends ?? available.filter((b) => b !== "cpu");
  for (const b of backends) {
    if (!available.includes(b)) console.log(`\n(skipping ${b}: ${report.backends.find((c) => c.name === b)?.reason ?? "not available"})`);
  }
  const chosen = backends.filter((b) => available.includes(b));

  // Correctness against cpu.
  const agreements: Agreement[] = [];
  // Backends that cannot read synchronously (WebGPU in Node) train through plain tfjs with awaited
  // reads; wasm takes that path too, as their baseline.
  const pathsOf = (b: BackendName): Path[] => {
    if (report.backends.find((c) => c.name === b)?.syncReads === false) return ["tfjs-async"];
    const asyncOnly = chosen.some((c) => report.backends.find((x) => x.name === c)?.syncReads === false);
    return b === "wasm" && asyncOnly ? ["trainer", "tfjs-async"] : ["trainer"];
  };
  const step = (path: Path, m: ModelName, size: number) => (path === "trainer" ? oneStep(m, size) : oneStepAsync(m, size));
  // The CNN's reference step on plain-JS cpu takes seconds per example: a small batch.
  const corrBatch = (m: ModelName) => (m === "mlp" ? 64 : 8);
  // Backends' own kernels are compared: mtlkit's optional native CPU kernels stay off here.
  await useBestBackend({ prefer: "cpu", webgpu: false, native: false });
  const neededPaths = [...new Set(chosen.flatMap(pathsOf))];
  const reference = new Map<string, StepResult>();
  for (const path of neededPaths) for (const m of options.models) reference.set(`${path}/${m}`, await step(path, m, corrBatch(m)));
  for (const b of chosen.filter((x) => x !== "cpu")) {
    await useBestBackend({ prefer: b, native: false });
    for (const path of pathsOf(b)) {
      for (const m of options.models) {
        const r = await step(path, m, corrBatch(m));
        const ref = reference.get(`${path}/${m}`)!;
        const lossRelError = Math.abs(r.loss - ref.loss) / Math.abs(ref.loss);
        const updateRelError = relError(r.update, ref.update);
        agreements.push({ backend: b, path, model: m, lossRelError, updateRelError, pass: lossRelError < 1e-4 && updateRelError < 1e-3 });
      }
    }
  }
  console.log(`\nOne SGD step (batch 64 mlp, 8 cnn) against cpu:`);
  console.log(
    table(
      ["backend", "path", "model", "loss rel.err", "update rel.err", "verdict"],
      agreements.map((a) => [a.backend, a.path, a.model, a.lossRelError.toExponential(2), a.updateRelError.toExponential(2), a.pass ? "pass" : "FAIL"]),
    ),
  );

  // Throughput.
  const results: Throughput[] = [];
  for (const b of chosen) {
    const info = await useBestBackend({ prefer: b });
    const onGpu = report.backends.find((c) => c.name === b)?.gpu ?? false;
    // CPU backends take seconds per large CNN batch: their default sizes stop at 256.
    const sizes = onGpu || options.batchesGiven ? options.batches : options.batches.filter((x) => x <= 256);
    for (const path of pathsOf(b)) for (const m of options.models) {
      for (const size of sizes) {
        const t = path === "trainer" ? await throughput(m, size, options.targetMs) : await throughputAsync(m, size, options.targetMs);
        results.push({
          backend: b,
          path,
          device: info.device,
          model: m,
          batch: size,
          steps: t.steps,
          msPerStep: (1000 * t.seconds) / t.steps,
          samplesPerSec: (size * t.steps) / t.seconds,
          leakedTensors: t.leaked,
        });
        process.stderr.write(`  ${b} ${path} ${m} batch ${size}: ${Math.round((size * t.steps) / t.seconds)} samples/s\n`);
      }
    }
  }
  // Speed-ups are quoted against wasm (the CPU backend mtlkit uses when there is no GPU).
  const baseRate = (p: Path, m: string, size: number) => results.find((r) => r.backend === "wasm" && r.path === p && r.model === m && r.batch === size)?.samplesPerSec;
  console.log("\nTraining throughput (Adam, CE + MSE; trainer: one Trainer.trainStep per step; tfjs-async: optimizer.minimize + await loss):");
  console.log(
    table(
      ["backend", "path", "model", "batch", "ms/step", "samples/s", "× wasm", "leaks"],
      results.map((r) => {
        const base = baseRate(r.path, r.model, r.batch);
        return [r.backend, r.path, r.model, String(r.batch), r.msPerStep.toFixed(1), r.samplesPerSec.toFixed(0), base ? (r.samplesPerSec / base).toFixed(1) : "–", String(r.leakedTensors)];
      }),
    ),
  );
  const devices = [...new Set(results.map((r) => `${r.backend}: ${r.device}`))];
  console.log(`\ndevices: ${devices.join("; ")}`);
  if (options.json) {
    const tmp = `${options.json}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify({ doctor: report, agreements, results, options }, null, 2));
    fs.renameSync(tmp, options.json);
    console.log(`wrote ${options.json}`);
  }
  if (agreements.some((a) => !a.pass)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
