/**
 * The GPU check: does a training step on each available backend agree with the cpu backend, how
 * fast does each train the 784-512-512 hard-sharing model and a small CNN at batch 256, 1024 and
 * 4096, and how many GFLOP/s does tfjs-webgpu's matmul reach at 4096×4096? Runs anywhere (wasm and
 * cpu everywhere, webgpu on any adapter, a software one included); on a GPU machine it picks up
 * WebGPU (Dawn) or native TensorFlow when they load. See test/gpu/README.md for running it on a
 * machine without Node.
 *
 * Correctness: the same model (same seed, so the same initial weights), the same batch, one SGD
 * step (lr 0.05) on backend X and on cpu:
 *   loss rel. error   = |L_X − L_cpu| / |L_cpu|              (total loss before the step)
 *   update rel. error = ‖Δθ_X − Δθ_cpu‖₂ / ‖Δθ_cpu‖₂          (Δθ = θ_after − θ_before, all variables)
 * float32 with different summation orders: pass below 1e-4 (loss) and 1e-3 (update).
 *
 * Throughput: `Trainer.trainStep` on a fixed batch (Adam, CE + MSE), warm-up steps first, then
 * steps until `--target-ms` have passed; each step reads its losses back, so the GPU has finished.
 * wasm runs with mtlkit's native kernels (OpenBLAS) when the addon loads: the CPU baseline.
 * Where the Trainer cannot run (it read synchronously, which WebGPU in Node refuses, until its
 * asynchronous step), that backend and wasm also take a plain-tfjs step with awaited reads.
 *
 *   node dist/test/gpu/check.js [--backends=webgpu,tensorflow,wasm,cpu] [--batches=256,1024,4096]
 *        [--models=mlp,cnn] [--target-ms=1500] [--matmul=4096] [--quick] [--json=PATH]
 * Default backends: every one that loads except plain-JS cpu (the correctness reference; slow).
 * --quick: batches 16 and 64, a 512×512 matmul, short timings (to check the script itself).
 */
import * as fs from "node:fs";
import * as tf from "@tensorflow/tfjs";
import { BackendName, useBestBackend, BACKEND_NAMES } from "../../lib/backend";
import { MtlError } from "../../lib/errors";
import { formatDoctor } from "../../kernel/doctor";
import { doctor } from "../../lib/doctor";
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
  /** Side of the square matmul timed on webgpu (0: none). */
  matmul: number;
  /** Throughput rows not started by then (seconds from the start) are skipped, so the run ends in time. */
  budgetS: number;
}

function parse(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`gpu check: unknown argument '${a}'`);
    flags.set(m[1], m[2] ?? "true");
  }
  const known = ["backends", "batches", "models", "target-ms", "json", "quick", "matmul", "budget-s"];
  for (const k of flags.keys()) if (!known.includes(k)) throw new Error(`gpu check: unknown flag --${k} (known: ${known.join(", ")})`);
  const quick = flags.has("quick");
  const list = (s: string | undefined) =>
    s
      ? s
          .split(",")
          .map((x) => x.trim())
          .filter(Boolean)
      : undefined;
  const backends = list(flags.get("backends")) as BackendName[] | undefined;
  for (const b of backends ?? [])
    if (!BACKEND_NAMES.includes(b)) throw new Error(`gpu check: unknown backend '${b}' (${BACKEND_NAMES.join(", ")})`);
  const batches = (list(flags.get("batches")) ?? (quick ? ["16", "64"] : ["256", "1024", "4096"])).map(Number);
  for (const b of batches) if (!Number.isInteger(b) || b < 1) throw new Error(`gpu check: bad batch size ${b}`);
  const models = (list(flags.get("models")) ?? ["mlp", "cnn"]) as ModelName[];
  for (const m of models) if (m !== "mlp" && m !== "cnn") throw new Error(`gpu check: unknown model '${m}' (mlp, cnn)`);
  const matmul = Number(flags.get("matmul") ?? (quick ? 512 : 4096));
  if (!Number.isInteger(matmul) || matmul < 0) throw new Error(`gpu check: bad matmul size ${flags.get("matmul")}`);
  const budgetS = Number(flags.get("budget-s") ?? 330);
  return {
    backends,
    batches,
    models,
    targetMs: Number(flags.get("target-ms") ?? (quick ? 300 : 1500)),
    json: flags.get("json"),
    quick,
    matmul,
    budgetS,
  };
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
  const x = tf.tensor2d(
    Float32Array.from({ length: size * 784 }, () => rng.uniform()),
    [size, 784],
  );
  const labels = tf.tensor1d(
    Int32Array.from({ length: size }, () => Math.floor(rng.uniform() * CLASSES)),
    "int32",
  );
  const values = tf.tensor2d(
    Float32Array.from({ length: size }, () => rng.normal()),
    [size, 1],
  );
  return { x, targets: [labels, values] };
}

interface StepResult {
  loss: number;
  update: Float64Array;
}

/** Which training path a backend takes: mtlkit's Trainer, or plain tfjs with awaited reads (where the Trainer cannot run). */
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
  const cost = optimizer.minimize(
    () => plainLoss(model, x, targets),
    true,
    model.namedVariables().map(([, v]) => v),
  )!;
  const loss = (await cost.data())[0];
  const after = await flatWeightsAsync(model);
  for (let i = 0; i < after.length; i++) after[i] -= before[i];
  cost.dispose();
  optimizer.dispose();
  model.dispose();
  tf.dispose([x, ...targets]);
  return { loss, update: after };
}

/**
 * Warm-up (shader compilation, buffers): two steps, or one when a step takes longer than the
 * timing target (a CPU backend at batch 4096); returns how many timed steps to take at least.
 */
async function warmUp(step: () => Promise<void>, targetMs: number): Promise<number> {
  const start = performance.now();
  await step();
  if (performance.now() - start > targetMs) return 2;
  await step();
  return 3;
}

async function throughputAsync(
  name: ModelName,
  size: number,
  targetMs: number,
): Promise<{ steps: number; seconds: number; leaked: number }> {
  const { model } = buildModel(name);
  const optimizer = tf.train.adam(1e-3);
  const vars = model.namedVariables().map(([, v]) => v);
  const { x, targets } = batch(size, 3);
  const step = async () => {
    const cost = optimizer.minimize(() => plainLoss(model, x, targets), true, vars)!;
    await cost.data();
    cost.dispose();
  };
  const minSteps = await warmUp(step, targetMs);
  const tensors = tf.memory().numTensors;
  let steps = 0;
  const start = performance.now();
  while (steps < minSteps || performance.now() - start < targetMs) {
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

/**
 * One SGD step from the seeded initial weights on the current backend.
 */
async function oneStep(name: ModelName, size: number): Promise<StepResult> {
  const { model, taskList } = buildModel(name);
  const trainer = new Trainer({ model, tasks: taskList, optimizer: sgd(0.05), progress: false });
  const { x, targets } = batch(size, 11);
  try {
    const before = await flatWeightsAsync(model);
    const record = await trainer.trainStep(x, targets);
    const after = await flatWeightsAsync(model);
    for (let i = 0; i < after.length; i++) after[i] -= before[i];
    return { loss: record.total, update: after };
  } finally {
    model.dispose();
    trainer.optimizer.dispose();
    tf.dispose([x, ...targets]);
  }
}

/** Why mtlkit's Trainer cannot run on the current backend (a synchronous read on webgpu), or undefined when it can. */
async function trainerBlocked(): Promise<string | undefined> {
  try {
    await oneStep("mlp", 8);
    return undefined;
  } catch (e) {
    if (e instanceof MtlError && /reads? (tensors )?synchronously|read a tensor synchronously/.test(e.message)) return e.message;
    throw e;
  }
}

/** GFLOP/s of an n×n by n×n matmul (2n³ flops), timed over `targetMs` after a warm-up, each read back with await. */
async function matmulGflops(n: number, targetMs: number): Promise<{ gflops: number; runs: number; seconds: number }> {
  const a = tf.randomUniform([n, n], -1, 1, "float32", 1);
  const b = tf.randomUniform([n, n], -1, 1, "float32", 2);
  const once = async () => {
    const c = tf.matMul(a, b);
    // Read one element: the product is complete on the device, without copying n² values back.
    const corner = c.slice([0, 0], [1, 1]);
    await corner.data();
    tf.dispose([c, corner]);
  };
  await once();
  let runs = 0;
  const start = performance.now();
  while (runs < 3 || performance.now() - start < targetMs) {
    await once();
    runs++;
  }
  const seconds = (performance.now() - start) / 1000;
  tf.dispose([a, b]);
  return { gflops: (2 * n ** 3 * runs) / seconds / 1e9, runs, seconds };
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
  /**
   * The bounded lag `Trainer.fit` uses on this backend (its `lag` default: 1 where reads are
   * asynchronous, else 0); the timed loop itself calls trainStep, which reads every step (lag 0).
   */
  fitLag?: number;
}

async function throughput(
  name: ModelName,
  size: number,
  targetMs: number,
): Promise<{ steps: number; seconds: number; leaked: number; fitLag?: number }> {
  const { model, taskList } = buildModel(name);
  const trainer = new Trainer({ model, tasks: taskList, optimizer: adam({ learningRate: 1e-3 }), progress: false });
  const fitLag = trainer.lag;
  const { x, targets } = batch(size, 3);
  const minSteps = await warmUp(async () => void (await trainer.trainStep(x, targets)), targetMs);
  const tensors = tf.memory().numTensors;
  let steps = 0;
  const start = performance.now();
  while (steps < minSteps || performance.now() - start < targetMs) {
    await trainer.trainStep(x, targets);
    steps++;
  }
  const seconds = (performance.now() - start) / 1000;
  const leaked = tf.memory().numTensors - tensors;
  trainer.history.steps.length = 0;
  model.dispose();
  trainer.optimizer.dispose();
  tf.dispose([x, ...targets]);
  return { steps, seconds, leaked, fitLag };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(): Promise<void> {
  const started = performance.now();
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
  // Where the Trainer cannot run (it reads synchronously and WebGPU in Node refuses, until the
  // Trainer's step is asynchronous), that backend trains through plain tfjs with awaited reads, and
  // wasm takes that path too, as its baseline.
  const blocked = new Map<BackendName, string>();
  for (const b of chosen) {
    await useBestBackend({ prefer: b, native: false });
    const why = await trainerBlocked();
    if (why) {
      blocked.set(b, why);
      console.log(
        `\n(${b}: mtlkit's Trainer cannot run here yet, so ${b} and wasm also take a plain-tfjs step with awaited reads: ${why})`,
      );
    }
  }
  const pathsOf = (b: BackendName): Path[] => {
    if (blocked.has(b)) return ["tfjs-async"];
    return b === "wasm" && blocked.size > 0 ? ["trainer", "tfjs-async"] : ["trainer"];
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
  console.log(`\nOne SGD step (batch 64 mlp, 8 cnn) against cpu (backends' own kernels, native off):`);
  console.log(
    table(
      ["backend", "path", "model", "loss rel.err", "update rel.err", "verdict"],
      agreements.map((a) => [
        a.backend,
        a.path,
        a.model,
        a.lossRelError.toExponential(2),
        a.updateRelError.toExponential(2),
        a.pass ? "pass" : "FAIL",
      ]),
    ),
  );

  // Throughput.
  const results: Throughput[] = [];
  const skipped: string[] = [];
  const deadline = started + options.budgetS * 1000;
  for (const b of chosen) {
    const info = await useBestBackend({ prefer: b });
    for (const path of pathsOf(b))
      for (const m of options.models) {
        for (const size of options.batches) {
          if (performance.now() > deadline) {
            skipped.push(`${b} ${path} ${m} batch ${size}`);
            continue;
          }
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
            fitLag: "fitLag" in t ? (t.fitLag as number) : undefined,
          });
          process.stderr.write(`  ${b} ${path} ${m} batch ${size}: ${Math.round((size * t.steps) / t.seconds)} samples/s\n`);
        }
      }
  }
  // Speed-ups are quoted against wasm's best path (with native kernels where built: the CPU
  // baseline mtlkit uses when there is no GPU).
  const baseRate = (_p: Path, m: string, size: number) => {
    const rates = results.filter((r) => r.backend === "wasm" && r.model === m && r.batch === size).map((r) => r.samplesPerSec);
    return rates.length ? Math.max(...rates) : undefined;
  };
  console.log(
    "\nTraining throughput (Adam, CE + MSE; trainer: one Trainer.trainStep per step; tfjs-async: optimizer.minimize + await loss; wasm with native kernels where built):",
  );
  console.log(
    table(
      ["backend", "path", "model", "batch", "ms/step", "samples/s", "× best wasm", "leaks", "fit lag"],
      results.map((r) => {
        const base = baseRate(r.path, r.model, r.batch);
        return [
          r.backend,
          r.path,
          r.model,
          String(r.batch),
          r.msPerStep.toFixed(1),
          r.samplesPerSec.toFixed(0),
          base ? (r.samplesPerSec / base).toFixed(1) : "–",
          String(r.leakedTensors),
          r.fitLag === undefined ? "–" : String(r.fitLag),
        ];
      }),
    ),
  );
  if (skipped.length) console.log(`(not timed, past the ${options.budgetS} s budget: ${skipped.join("; ")})`);
  const devices = [...new Set(results.map((r) => `${r.backend}: ${r.device}`))];
  console.log(`\ndevices: ${devices.join("; ")}`);

  // tfjs-webgpu's matmul at n×n (the GPU's raw rate, next to what training reaches).
  let matmul: { backend: string; device: string; n: number; gflops: number; runs: number } | undefined;
  if (options.matmul > 0 && chosen.includes("webgpu")) {
    const info = await useBestBackend({ prefer: "webgpu" });
    const r = await matmulGflops(options.matmul, options.targetMs);
    matmul = { backend: "webgpu", device: info.device, n: options.matmul, gflops: r.gflops, runs: r.runs };
    console.log(
      `\nwebgpu matmul ${options.matmul}×${options.matmul} (float32): ${r.gflops.toFixed(1)} GFLOP/s over ${r.runs} runs (${info.device})`,
    );
  }
  if (options.json) {
    const tmp = `${options.json}.tmp-${process.pid}`;
    fs.writeFileSync(
      tmp,
      JSON.stringify({ doctor: report, agreements, results, matmul, trainerBlocked: Object.fromEntries(blocked), options }, null, 2),
    );
    fs.renameSync(tmp, options.json);
    console.log(`wrote ${options.json}`);
  }
  if (agreements.some((a) => !a.pass)) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
