/**
 * Training throughput per backend, beside the backend's own matmul speed and PyTorch (1 thread).
 *
 * Models (hard sharing, ReLU trunk, a classification head + a 1-output regression head, loss = CE + MSE,
 * Adam lr 1e-3, one `Trainer.trainStep` per step on a fixed batch, so batch assembly is not timed):
 *   seed  input 20,  trunk [64],       4 classes, batch 64   (the guide's example)
 *   mlp   input 784, trunk [512, 512], 10 classes, batch 256
 * Matmul reference: plain tf.matMul [256,784]×[784,512] and [256,512]×[512,512] on the same backend.
 *
 * FLOPs: a dense layer in→out costs 2·in·out per sample forward; training counts 3× that
 * (forward, ∂L/∂x, ∂L/∂W), the usual convention, for every layer, although nobody computes ∂L/∂x
 * of the first layer (neither mtlkit nor PyTorch do). Bias, activation, loss and optimizer work is
 * not counted. Training GFLOP/s = 3 · forward FLOPs/sample · samples/s. The share of the matmul
 * reference is also given for the matmul FLOPs actually executed (3× minus the first layer's ∂x).
 *
 * Backends: tensorflow (when @tensorflow/tfjs-node(-gpu) loads), wasm, cpu, and, when mtlkit's
 * optional native addon is built, wasm+native and cpu+native (OpenBLAS matmul and fused Adam through
 * mtl.backends.enableNativeKernels, MTLKIT_BENCH_NATIVE_THREADS threads, default 1).
 *
 * Each round measures, on one backend: the matmuls, then each model in mtlkit and in PyTorch
 * (alternating which goes first), then the matmuls again, so each model's share of the matmul speed
 * uses the mean of the matmul measurements just before and just after it; PyTorch runs in one persistent child process
 * (test/bench/torch_throughput.py) that times its own steps, so no start-up or pipe time is counted.
 * Ratios (training / matmul, mtlkit / PyTorch) are taken per round, then the median over rounds.
 *
 *   npm run build && npm run bench -- [--rounds=7] [--backends=wasm,cpu] [--quick] [--no-torch]
 *                                     [--clock=wall|cpu] [--target-ms=400] [--json=out.json]
 * --clock=cpu times with the process's CPU time (Node: process.cpuUsage; Python: time.process_time)
 * instead of wall time: on a shared, loaded machine it measures the work, not the scheduler.
 * Environment: MTLKIT_BENCH_ROUNDS, MTLKIT_BENCH_BACKENDS, MTLKIT_BENCH_QUICK=1, MTLKIT_BENCH_TORCH=0,
 * MTLKIT_BENCH_PYTHON (default /usr/bin/python3), MTLKIT_BENCH_TORCH_THREADS (default 1).
 */
import { ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface, Interface } from "node:readline";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as mtl from "../../lib";
import { Mlp } from "../../lib/layers/block";
import { loadNative } from "../../lib/native/addon";

/** The criterion of issue 2: wasm training on the mlp reaches this share of wasm's matmul GFLOP/s. */
const TARGET_SHARE = 0.6;

interface ModelSpec {
  name: "seed" | "mlp" | "generic" | "mmoe" | "cnn";
  /** The row's key (--models): the model's name, or "generic-pcgrad" / "generic-mgda". */
  id: string;
  /** What the table calls it. */
  label: string;
  /** Gradient balancing on the generic model: mtlkit's aggregator at the "param" level. */
  method?: "pcgrad" | "mgda";
  /**
   * The PyTorch runs measured beside it (torch_throughput.py's methods); the first is the one the
   * "mtlkit / PyTorch" column divides by. Default ["ew"]: the same model, Σ L_i, one backward pass.
   */
  torch?: TorchMethod[];
  input: number;
  hidden: number[];
  classes: number;
  batch: number;
  /** Forward FLOPs per sample where the dense-layer count below does not apply (convolutions, experts). */
  flops?: number;
}

type TorchMethod = "ew" | "libmtl-ew" | "libmtl-pcgrad" | "libmtl-mgda" | "plain-pcgrad" | "plain-mgda";

/**
 * seed, mlp: hard sharing, classification + regression, mtlkit's fused native step where available.
 * generic: hard sharing 256-512-512 with 4 MSE heads, the trunk given as a function block, so the
 *   trainer takes its generic (tfjs ops) path, as for any model that is not mtlkit's plain MLP.
 *   Equal weights (Σ L_i); PyTorch: the same, and LibMTL's EW written in plain PyTorch.
 * generic-pcgrad, generic-mgda: the same model trained with mtlkit's PCGrad (default: a seeded
 *   shuffle per task) and MGDA (default normalization "none", exact min-norm solver) on the shared
 *   parameters ("param" level), against LibMTL's PCGrad and MGDA (mgda_gn "none", its default)
 *   written in plain PyTorch from its published method, and the same maths in PyTorch with no LibMTL
 *   bookkeeping ("plain"); see torch_throughput.py.
 * mmoe: 4 experts 256→128, 2 softmax gates and towers (128→64→1), 2 MSE tasks.
 * cnn: conv3×3 16 - maxpool 2 - conv3×3 32 - maxpool 2 - dense 128 on 28×28×1, a 10-class and a
 *   regression head.
 */
const MODELS: ModelSpec[] = [
  { name: "seed", id: "seed", label: "seed 20-64 (4-class + regression)", input: 20, hidden: [64], classes: 4, batch: 64 },
  { name: "mlp", id: "mlp", label: "mlp 784-512-512 (10-class + regression)", input: 784, hidden: [512, 512], classes: 10, batch: 256 },
  {
    name: "generic",
    id: "generic",
    label: "generic path 256-512-512 (4 MSE heads)",
    input: 256,
    hidden: [512, 512],
    classes: 0,
    batch: 256,
    torch: ["ew", "libmtl-ew"],
  },
  {
    name: "generic",
    id: "generic-pcgrad",
    label: "generic path, PCGrad (param level)",
    method: "pcgrad",
    input: 256,
    hidden: [512, 512],
    classes: 0,
    batch: 256,
    torch: ["libmtl-pcgrad", "plain-pcgrad"],
  },
  {
    name: "generic",
    id: "generic-mgda",
    label: "generic path, MGDA (param level, normalization none)",
    method: "mgda",
    input: 256,
    hidden: [512, 512],
    classes: 0,
    batch: 256,
    torch: ["libmtl-mgda", "plain-mgda"],
  },
  {
    name: "mmoe",
    id: "mmoe",
    label: "MMoE 4 experts 256→128, 2 towers 64",
    input: 256,
    hidden: [],
    classes: 0,
    batch: 256,
    flops: 4 * 2 * 256 * 128 + 2 * (2 * 256 * 4 + 2 * 4 * 128 + 2 * 128 * 64 + 2 * 64),
  },
  {
    name: "cnn",
    id: "cnn",
    label: "CNN conv16-pool-conv32-pool-dense128 28×28 (10-class + regression)",
    input: 784,
    hidden: [],
    classes: 10,
    batch: 64,
    flops: 2 * 28 * 28 * 9 * 16 + 2 * 14 * 14 * 9 * 16 * 32 + 2 * 32 * 7 * 7 * 128 + 2 * 128 * 11,
  },
];

const MATMULS: Array<[number, number, number]> = [
  [256, 784, 512],
  [256, 512, 512],
];

interface Options {
  rounds: number;
  clock: "wall" | "cpu";
  backends: string[];
  quick: boolean;
  torch: boolean;
  targetMs: number;
  json?: string;
  python: string;
  /** The rows to run (ids of MODELS). */
  models: ModelSpec[];
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m)
      throw new Error(
        `train-throughput: unknown argument '${arg}' (flags: --rounds=N --backends=a,b --models=a,b --quick --no-torch --clock=wall|cpu --target-ms=N --json=PATH)`,
      );
    flags.set(m[1], m[2] ?? "true");
  }
  const known = ["rounds", "backends", "models", "quick", "no-torch", "clock", "target-ms", "json"];
  const backendNames = ["tensorflow", "wasm", "cpu", "wasm+native", "cpu+native"];
  for (const k of flags.keys())
    if (!known.includes(k)) throw new Error(`train-throughput: unknown flag --${k} (known: ${known.map((f) => "--" + f).join(" ")})`);
  const env = process.env;
  const quick = flags.has("quick") || env.MTLKIT_BENCH_QUICK === "1";
  const rounds = Number(flags.get("rounds") ?? env.MTLKIT_BENCH_ROUNDS ?? (quick ? 3 : 7));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`train-throughput: --rounds must be a positive integer, got ${rounds}`);
  const targetMs = Number(flags.get("target-ms") ?? (quick ? 150 : 400));
  if (!(targetMs > 0)) throw new Error(`train-throughput: --target-ms must be positive, got ${targetMs}`);
  const listed = flags.get("backends") ?? env.MTLKIT_BENCH_BACKENDS;
  const backends = listed
    ? listed
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : defaultBackends();
  for (const b of backends)
    if (!backendNames.includes(b)) throw new Error(`train-throughput: unknown backend '${b}' (${backendNames.join(", ")})`);
  const ids = (flags.get("models") ?? env.MTLKIT_BENCH_MODELS)
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids ?? [])
    if (!MODELS.some((m) => m.id === id))
      throw new Error(`train-throughput: unknown model '${id}' (${MODELS.map((m) => m.id).join(", ")})`);
  const models = ids ? MODELS.filter((m) => ids.includes(m.id)) : MODELS;
  const clock = flags.get("clock") ?? env.MTLKIT_BENCH_CLOCK ?? "wall";
  if (clock !== "wall" && clock !== "cpu") throw new Error(`train-throughput: --clock must be wall or cpu, got ${clock}`);
  return {
    rounds,
    clock,
    backends,
    quick,
    torch: !flags.has("no-torch") && env.MTLKIT_BENCH_TORCH !== "0",
    targetMs,
    json: flags.get("json"),
    python: env.MTLKIT_BENCH_PYTHON ?? "/usr/bin/python3",
    models,
  };
}

/** Native TensorFlow when it loads, then wasm and cpu, then both with mtlkit's native kernels when built. */
function defaultBackends(): string[] {
  const native = mtl.backends.backendInfo().candidates.find((c) => c.name === "tensorflow");
  const addon = loadNative().status.available;
  return [...(native?.available ? ["tensorflow"] : []), "wasm", "cpu", ...(addon ? ["wasm+native", "cpu+native"] : [])];
}

// ---------------------------------------------------------------- clocks

let clock: "wall" | "cpu" = "wall";

/** Seconds on the chosen clock: wall time, or this process's CPU time (user + system). */
function now(): number {
  if (clock === "wall") return performance.now() / 1000;
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

// ---------------------------------------------------------------- statistics

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

interface Summary {
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
  values: number[];
}

function summarize(values: number[]): Summary {
  return {
    median: quantile(values, 0.5),
    min: Math.min(...values),
    max: Math.max(...values),
    q1: quantile(values, 0.25),
    q3: quantile(values, 0.75),
    values,
  };
}

function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 1000 ? x.toFixed(0) : a >= 100 ? x.toFixed(1) : a >= 10 ? x.toFixed(2) : x.toFixed(3);
}

function cell(s: Summary | undefined): string {
  return s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : "–";
}

// ---------------------------------------------------------------- PyTorch child

class TorchChild {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private readonly pending: Array<(line: string) => void> = [];
  private stderr = "";

  constructor(python: string) {
    // torch.set_num_threads bounds torch's own pool, not the BLAS under it: Debian's torch ran
    // OpenBLAS on 2 threads until these variables said otherwise.
    const threads = process.env.MTLKIT_BENCH_TORCH_THREADS ?? "1";
    const env = { ...process.env, OPENBLAS_NUM_THREADS: threads, OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads };
    this.child = spawn(python, [join(sourceDir(), "torch_throughput.py")], { stdio: ["pipe", "pipe", "pipe"], env });
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.lines = createInterface({ input: this.child.stdout });
    this.lines.on("line", (line) => this.pending.shift()?.(line));
    this.child.on("exit", (code) => {
      for (const resolve of this.pending.splice(0))
        resolve(JSON.stringify({ error: `python exited with ${code}: ${this.stderr.slice(-500)}` }));
    });
  }

  async ask<T>(msg: object): Promise<T> {
    const line = await new Promise<string>((resolve) => {
      this.pending.push(resolve);
      this.child.stdin.write(JSON.stringify(msg) + "\n");
    });
    const reply = JSON.parse(line) as T & { error?: string };
    if (reply.error) throw new Error(`torch_throughput.py: ${reply.error}`);
    return reply;
  }

  close(): void {
    this.child.stdin.end(JSON.stringify({ op: "quit" }) + "\n");
  }
}

/** test/bench/, whether this runs from the sources (ts-node, vitest) or from dist/test/bench. */
function sourceDir(): string {
  return __dirname.includes(join("dist", "test", "bench")) ? join(__dirname, "..", "..", "..", "test", "bench") : __dirname;
}

/** Python with torch, or why not. */
function probeTorch(python: string): { ok: true } | { ok: false; why: string } {
  const r = spawnSync(python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8", timeout: 120_000 });
  if (r.error) return { ok: false, why: `${python} could not run (${r.error.message})` };
  if (r.status !== 0) return { ok: false, why: `${python} has no torch (${(r.stderr || "").trim().split("\n").pop()})` };
  return { ok: true };
}

// ---------------------------------------------------------------- mtlkit side

/** Matmul FLOPs per sample a training step executes: 3× forward less the first layer's ∂x. */
function executedFlops(spec: ModelSpec): number {
  if (spec.flops !== undefined) return 3 * spec.flops; // the input gradient of the first layer is small or absent
  return 3 * forwardFlops(spec) - 2 * spec.input * spec.hidden[0];
}

/** Forward FLOPs per sample of the dense layers (2·in·out each). */
function forwardFlops(spec: ModelSpec): number {
  if (spec.flops !== undefined) return spec.flops;
  let flops = 0;
  let width = spec.input;
  for (const units of spec.hidden) {
    flops += 2 * width * units;
    width = units;
  }
  return flops + 2 * width * (spec.name === "generic" ? 4 : spec.classes + 1);
}

interface MtlRun {
  spec: ModelSpec;
  trainer: mtl.Trainer;
  x: tf.Tensor2D;
  targets: tf.Tensor[];
  model: mtl.MultiTaskModel;
  /** Variables the model does not own (the generic case's function-block trunk). */
  extra: tf.Variable[];
}

function buildMtl(spec: ModelSpec): MtlRun {
  const { tasks, model, extra = [] } = buildModel(spec);
  const balancing =
    spec.method === "pcgrad"
      ? { aggregator: mtl.aggregators.pcgrad(), level: "param" as const }
      : spec.method === "mgda"
        ? { aggregator: mtl.aggregators.mgda(), level: "param" as const }
        : {};
  const trainer = new mtl.Trainer({
    model,
    tasks,
    optimizer: mtl.optimizers.adam({ learningRate: 1e-3 }),
    progress: false,
    ...balancing,
  });
  const rng = new mtl.Rng(2);
  const x = tf.tensor2d(
    Float32Array.from({ length: spec.batch * spec.input }, () => rng.normal()),
    [spec.batch, spec.input],
  );
  const targets = tasks.map((t) =>
    t.outputUnits > 1 && t.name === "label"
      ? tf.tensor1d(
          Int32Array.from({ length: spec.batch }, () => Math.floor(rng.uniform() * spec.classes)),
          "int32",
        )
      : tf.tensor2d(
          Float32Array.from({ length: spec.batch }, () => rng.normal()),
          [spec.batch, 1],
        ),
  );
  return { spec, trainer, x, targets, model, extra };
}

function buildModel(spec: ModelSpec): { tasks: mtl.Task[]; model: mtl.MultiTaskModel; extra?: tf.Variable[] } {
  const regressions = (n: number) => Array.from({ length: n }, (_, i) => mtl.tasks.regression(`value${i}`));
  const classAndValue = () => [mtl.tasks.classification("label", { classes: spec.classes }), mtl.tasks.regression("value")];
  if (spec.name === "generic") {
    const tasks = regressions(4);
    const mlp = new Mlp("trunk", spec.input, spec.hidden, new mtl.Rng(1));
    const trunk = {
      apply: (x: tf.Tensor2D) => mlp.apply(x),
      variables: mlp.namedVariables().map(([, v]) => v),
      outputSize: mlp.outputSize,
    };
    return { tasks, model: mtl.hardSharing({ inputSize: spec.input, trunk, tasks, seed: 1 }), extra: trunk.variables };
  }
  if (spec.name === "mmoe") {
    const tasks = regressions(2);
    return { tasks, model: mtl.mmoe({ inputSize: spec.input, tasks, experts: 4, expertLayers: [128], towers: [64], seed: 1 }) };
  }
  if (spec.name === "cnn") {
    const tasks = classAndValue();
    const trunk = mtl.layers.cnnEncoder({ height: 28, width: 28, channels: 1, filters: [16, 32], kernelSize: 3, dense: [128], seed: 1 });
    return { tasks, model: mtl.hardSharing({ inputSize: spec.input, trunk, tasks, seed: 1 }) };
  }
  const tasks = classAndValue();
  return { tasks, model: mtl.hardSharing({ inputSize: spec.input, trunk: spec.hidden, tasks, seed: 1 }) };
}

function disposeMtl(run: MtlRun): void {
  run.model.dispose();
  run.trainer.optimizer.dispose();
  tf.dispose([run.x, ...run.targets, ...run.extra]);
}

async function timeMtlSteps(run: MtlRun, steps: number): Promise<number> {
  const start = now();
  for (let i = 0; i < steps; i++) await run.trainer.trainStep(run.x, run.targets);
  const seconds = now() - start;
  run.trainer.history.steps.length = 0; // a benchmark keeps no history
  return seconds;
}

function timeMatMul(a: tf.Tensor2D, b: tf.Tensor2D, reps: number): number {
  const start = now();
  for (let i = 0; i < reps; i++) {
    const c = tf.matMul(a, b);
    if (i === reps - 1) c.dataSync(); // the product is really there
    c.dispose();
  }
  return now() - start;
}

/** How many repetitions make one measurement last about `targetMs`, from a trial of `trial` reps. */
function repsFor(seconds: number, trial: number, targetMs: number): number {
  return Math.max(1, Math.round((targetMs / 1000) * (trial / seconds)));
}

// ---------------------------------------------------------------- one backend

interface ModelResult {
  model: string;
  batch: number;
  forwardFlops: number;
  samplesPerSec: Summary;
  trainGflops: Summary;
  /** Training GFLOP/s / the matmul reference's, per round. */
  shareOfMatmul: Summary;
  /** The same for the matmul FLOPs really executed (no ∂x of the first layer). */
  executedShareOfMatmul: Summary;
  torchSamplesPerSec?: Summary;
  /** mtlkit samples/s ÷ PyTorch samples/s, per round. */
  ratioToTorch?: Summary;
  stepsPerRound: number;
  torchStepsPerRound?: number;
  /** The row's id and gradient-balancing method, if any. */
  id: string;
  method?: "pcgrad" | "mgda";
  /** Every PyTorch run beside it (the first is torchSamplesPerSec's). */
  torch: TorchResult[];
  /** mtlkit samples/s ÷ PyTorch's equal-weight generic step (the "ew" of the generic row), per round. */
  ratioToTorchEw?: Summary;
}

interface TorchResult {
  method: TorchMethod;
  samplesPerSec: Summary;
  /** mtlkit samples/s ÷ this run's, per round. */
  ratio: Summary;
  /** This run's samples/s ÷ PyTorch's equal-weight generic step, per round. */
  ratioToTorchEw?: Summary;
  stepsPerRound: number;
}

interface MatMulResult {
  shape: string;
  gflops: Summary;
  torchGflops?: Summary;
}

interface BackendResult {
  backend: string;
  device: string;
  matmuls: MatMulResult[];
  /** Both matmul shapes together: total FLOPs / total time, per measurement (each model is bracketed by two). */
  matmulReference: Summary;
  models: ModelResult[];
  leakedTensors: number;
}

async function benchBackend(backend: string, options: Options, torch?: TorchChild): Promise<BackendResult> {
  const [base, variant] = backend.split("+");
  await mtl.useBestBackend({ prefer: base as mtl.backends.BackendName });
  // "wasm" and "cpu" mean the backends' own kernels, whatever useBestBackend turned on by default;
  // "+native" turns mtlkit's native kernels on with a fixed thread count (1, as PyTorch here).
  mtl.backends.disableNativeKernels();
  let device = mtl.backends.backendInfo().device;
  if (variant === "native") {
    const threads = Number(process.env.MTLKIT_BENCH_NATIVE_THREADS ?? 1);
    const status = mtl.backends.enableNativeKernels({ threads });
    if (!status.enabled.includes(base as "wasm" | "cpu"))
      throw new Error(`train-throughput: ${backend}: the native kernels are not available (${status.reason})`);
    device = `${device} + native kernels (${status.reason})`;
  }
  try {
    return await benchOn(backend, device, options, torch);
  } finally {
    mtl.backends.disableNativeKernels();
  }
}

async function benchOn(backend: string, device: string, options: Options, torch?: TorchChild): Promise<BackendResult> {
  const log = (s: string) => process.stderr.write(s + "\n");
  log(`[${backend}] ${device}`);
  const tensorsBefore = tf.memory().numTensors;

  const operands = MATMULS.map(([m, k, n]) => {
    const rng = new mtl.Rng(m + k + n);
    const a = tf.tensor2d(
      Float32Array.from({ length: m * k }, () => rng.normal()),
      [m, k],
    );
    const b = tf.tensor2d(
      Float32Array.from({ length: k * n }, () => rng.normal()),
      [k, n],
    );
    return { m, k, n, a, b, flops: 2 * m * k * n };
  });
  const matmulReps = operands.map((o) => {
    timeMatMul(o.a, o.b, 1);
    return repsFor(timeMatMul(o.a, o.b, 2), 2, options.targetMs / 2);
  });
  const torchMatmulReps = torch
    ? await Promise.all(
        operands.map(async (o) => {
          const { seconds } = await torch.ask<{ seconds: number }>({ op: "matmul", m: o.m, k: o.k, n: o.n, reps: 3 });
          return repsFor(seconds, 3, options.targetMs / 2);
        }),
      )
    : [];

  const runs = options.models.map(buildMtl);
  const torchMethods = runs.map((run): TorchMethod[] => (torch ? (run.spec.torch ?? ["ew"]) : []));
  const torchId = (run: MtlRun, method: TorchMethod) => `${run.spec.id}/${method}`;
  const stepsPerRound: number[] = [];
  const torchSteps: number[][] = runs.map(() => []);
  for (const [j, run] of runs.entries()) {
    await timeMtlSteps(run, 2); // warm-up: kernels, optimizer slots
    stepsPerRound.push(repsFor(await timeMtlSteps(run, 2), 2, options.targetMs));
    for (const method of torchMethods[j]) {
      const id = torchId(run, method);
      await torch!.ask({ op: "build", ...run.spec, id, method, seed: 0 });
      await torch!.ask({ op: "train", id, name: run.spec.name, steps: 2 });
      const { seconds } = await torch!.ask<{ seconds: number }>({ op: "train", id, name: run.spec.name, steps: 2 });
      torchSteps[j].push(repsFor(seconds, 2, options.targetMs));
    }
  }
  const tensorsAfterWarmup = tf.memory().numTensors;

  const mm: number[][] = operands.map(() => []);
  const torchMm: number[][] = operands.map(() => []);
  const reference: number[] = [];
  const samples: number[][] = runs.map(() => []);
  /** [row][torch method][round] samples/s. */
  const torchSamples: number[][][] = runs.map((_, j) => torchMethods[j].map(() => []));
  const shares: number[][] = runs.map(() => []);
  const executedShares: number[][] = runs.map(() => []);

  /** Both matmul shapes, plain tf.matMul: total FLOPs / total seconds (with PyTorch's when asked). */
  const measureReference = async (withTorch: boolean, torchFirst: boolean): Promise<number> => {
    let refFlops = 0;
    let refSeconds = 0;
    for (let i = 0; i < operands.length; i++) {
      const o = operands[i];
      const measureTorch = async () => {
        if (!torch || !withTorch) return;
        const { seconds } = await torch.ask<{ seconds: number }>({ op: "matmul", m: o.m, k: o.k, n: o.n, reps: torchMatmulReps[i] });
        torchMm[i].push((o.flops * torchMatmulReps[i]) / seconds / 1e9);
      };
      if (torchFirst) await measureTorch();
      const seconds = timeMatMul(o.a, o.b, matmulReps[i]);
      if (!torchFirst) await measureTorch();
      mm[i].push((o.flops * matmulReps[i]) / seconds / 1e9);
      refFlops += o.flops * matmulReps[i];
      refSeconds += seconds;
    }
    const ref = refFlops / refSeconds / 1e9;
    reference.push(ref);
    return ref;
  };

  for (let round = 0; round < options.rounds; round++) {
    const torchFirst = round % 2 === 1;
    // The matmul reference brackets each model's measurement (before and after), so a change in
    // machine load between the two hits both sides of the share alike.
    let refBefore = await measureReference(true, torchFirst);
    for (let j = 0; j < runs.length; j++) {
      const run = runs[j];
      const measureTorch = async () => {
        for (const [m, method] of torchMethods[j].entries()) {
          const steps = torchSteps[j][m];
          const { seconds } = await torch!.ask<{ seconds: number }>({ op: "train", id: torchId(run, method), name: run.spec.name, steps });
          torchSamples[j][m].push((steps * run.spec.batch) / seconds);
        }
      };
      if (torchFirst) await measureTorch();
      const seconds = await timeMtlSteps(run, stepsPerRound[j]);
      if (!torchFirst) await measureTorch();
      const refAfter = await measureReference(false, torchFirst);
      const ref = (refBefore + refAfter) / 2;
      refBefore = refAfter;
      const rate = (stepsPerRound[j] * run.spec.batch) / seconds;
      samples[j].push(rate);
      shares[j].push((3 * forwardFlops(run.spec) * rate) / 1e9 / ref);
      executedShares[j].push((executedFlops(run.spec) * rate) / 1e9 / ref);
    }
    log(
      `[${backend}] round ${round + 1}/${options.rounds}: ` +
        runs
          .map((r, j) => `${r.spec.id} ${fmt(samples[j][round])} samples/s (${(100 * shares[j][round]).toFixed(0)}% of matmul)`)
          .join(", "),
    );
  }

  const leakedTensors = tf.memory().numTensors - tensorsAfterWarmup;
  runs.forEach(disposeMtl);
  for (const o of operands) tf.dispose([o.a, o.b]);
  const leftover = tf.memory().numTensors - tensorsBefore;
  if (leakedTensors !== 0 || leftover !== 0)
    log(`[${backend}] warning: ${leakedTensors} tensors leaked during the rounds, ${leftover} left after disposal`);

  // PyTorch's equal-weight step on the generic model, per round: what the balancing rows are against.
  const ewRow = runs.findIndex((r) => r.spec.id === "generic");
  const ewAt = ewRow >= 0 ? torchMethods[ewRow].indexOf("ew") : -1;
  const torchEw = ewAt >= 0 ? torchSamples[ewRow][ewAt] : undefined;
  const perRound = (a: number[], b: number[]) => summarize(a.map((x, r) => x / b[r]));

  return {
    backend,
    device,
    matmuls: operands.map((o, i) => ({
      shape: `[${o.m},${o.k}]×[${o.k},${o.n}]`,
      gflops: summarize(mm[i]),
      torchGflops: torch ? summarize(torchMm[i]) : undefined,
    })),
    matmulReference: summarize(reference),
    models: runs.map((run, j) => {
      const torchResults: TorchResult[] = torchMethods[j].map((method, m) => ({
        method,
        samplesPerSec: summarize(torchSamples[j][m]),
        ratio: perRound(samples[j], torchSamples[j][m]),
        ratioToTorchEw: run.spec.name === "generic" && torchEw ? perRound(torchSamples[j][m], torchEw) : undefined,
        stepsPerRound: torchSteps[j][m],
      }));
      return {
        model: run.spec.label,
        id: run.spec.id,
        method: run.spec.method,
        batch: run.spec.batch,
        forwardFlops: forwardFlops(run.spec),
        samplesPerSec: summarize(samples[j]),
        trainGflops: summarize(samples[j].map((r) => (3 * forwardFlops(run.spec) * r) / 1e9)),
        shareOfMatmul: summarize(shares[j]),
        executedShareOfMatmul: summarize(executedShares[j]),
        torchSamplesPerSec: torchResults[0]?.samplesPerSec,
        ratioToTorch: torchResults[0]?.ratio,
        stepsPerRound: stepsPerRound[j],
        torchStepsPerRound: torchResults[0]?.stepsPerRound,
        torch: torchResults,
        ratioToTorchEw: run.spec.name === "generic" && torchEw ? perRound(samples[j], torchEw) : undefined,
      };
    }),
    leakedTensors,
  };
}

// ---------------------------------------------------------------- report

function report(results: BackendResult[], options: Options, torchInfo: string): string {
  const out: string[] = [];
  out.push(
    `Training throughput, ${options.rounds} rounds${options.quick ? " (quick)" : ""}, ${options.clock === "cpu" ? "per CPU-second (process CPU time)" : "wall time"}; median (min–max) over rounds; ` +
      `ratios taken per round. ${torchInfo}. Node ${process.version}, tfjs ${tf.version.tfjs}.`,
  );
  out.push("");
  out.push(
    "| backend | model | batch | mtlkit samples/s | training GFLOP/s | share of matmul GFLOP/s | executed-FLOP share | PyTorch run | PyTorch samples/s | mtlkit / PyTorch |",
  );
  out.push("|---|---|---:|---:|---:|---:|---:|---|---:|---:|");
  for (const r of results) {
    for (const m of r.models) {
      out.push(
        `| ${r.backend} | ${m.model} | ${m.batch} | ${cell(m.samplesPerSec)} | ${cell(m.trainGflops)} | ${cell(m.shareOfMatmul)} | ${cell(m.executedShareOfMatmul)} | ${m.torch[0]?.method ?? "–"} | ${cell(m.torchSamplesPerSec)} | ${cell(m.ratioToTorch)} |`,
      );
    }
  }
  const balancing = results.flatMap((r) => r.models.filter((m) => m.id.startsWith("generic")).map((m) => ({ r, m })));
  if (balancing.some(({ m }) => m.torch.length > 0)) {
    out.push("");
    out.push(
      "Gradient balancing on the generic model (256-512-512, 4 MSE heads, batch 256): samples/s, ratios per round. " +
        "LibMTL: its EW, PCGrad and MGDA (mgda_gn none) in plain PyTorch; plain: the same maths without LibMTL's bookkeeping (EW: Σ L_i).",
    );
    out.push("");
    out.push(
      "| backend | method | mtlkit | LibMTL | plain PyTorch | mtlkit / LibMTL | mtlkit / plain | mtlkit / PyTorch EW | LibMTL / PyTorch EW |",
    );
    out.push("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for (const { r, m } of balancing) {
      const libmtl = m.torch.find((t) => t.method.startsWith("libmtl-"));
      const plain = m.torch.find((t) => !t.method.startsWith("libmtl-"));
      const name = m.method === "pcgrad" ? "PCGrad" : m.method === "mgda" ? "MGDA" : "EW";
      out.push(
        `| ${r.backend} | ${name} | ${cell(m.samplesPerSec)} | ${cell(libmtl?.samplesPerSec)} | ${cell(plain?.samplesPerSec)} | ${cell(libmtl?.ratio)} | ${cell(plain?.ratio)} | ${cell(m.ratioToTorchEw)} | ${cell(libmtl?.ratioToTorchEw)} |`,
      );
    }
  }
  out.push("");
  out.push("| backend | matmul | GFLOP/s | PyTorch GFLOP/s |");
  out.push("|---|---|---:|---:|");
  for (const r of results) {
    for (const m of r.matmuls) out.push(`| ${r.backend} | ${m.shape} | ${cell(m.gflops)} | ${cell(m.torchGflops)} |`);
    out.push(`| ${r.backend} | both (reference) | ${cell(r.matmulReference)} | |`);
  }
  out.push("");
  out.push(
    "Training GFLOP/s counts 3 × 2·in·out per dense layer and sample (forward, ∂x, ∂W), bias/activation/loss/optimizer not counted.",
  );
  out.push(
    "Executed-FLOP share: the same against the matmul FLOPs really run (3× forward less the first layer's ∂x, which neither mtlkit nor PyTorch forms).",
  );
  for (const r of results) out.push(`${r.backend}: ${r.device}.`);
  const wasm = results.find((r) => r.backend === "wasm");
  const mlp = wasm?.models.find((m) => m.model.startsWith("mlp"));
  if (wasm && mlp) {
    const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
    const share = mlp.shareOfMatmul;
    const executed = mlp.executedShareOfMatmul;
    out.push(
      `Criterion (issue 2): wasm training on the 784-512-512 model reaches ${pct(share.median)} ` +
        `(rounds ${pct(share.min)}–${pct(share.max)}; executed FLOPs: ${pct(executed.median)}, rounds ${pct(executed.min)}–${pct(executed.max)}) ` +
        `of wasm's matmul GFLOP/s in the same run: ${share.median >= TARGET_SHARE ? "PASS" : "FAIL"} (needs ≥ ${100 * TARGET_SHARE}%).`,
    );
  }
  return out.join("\n");
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  clock = options.clock;
  let torch: TorchChild | undefined;
  let torchInfo = "PyTorch: not run (--no-torch)";
  if (options.torch) {
    const probe = probeTorch(options.python);
    if (probe.ok) {
      torch = new TorchChild(options.python);
      const info = await torch.ask<{ torch: string; threads: number }>({ op: "info", clock: options.clock });
      torchInfo = `PyTorch ${info.torch}, ${info.threads} thread${info.threads === 1 ? "" : "s"}, interleaved with mtlkit`;
    } else {
      torchInfo = `PyTorch: not run (${probe.why})`;
    }
  }
  const results: BackendResult[] = [];
  try {
    for (const backend of options.backends) results.push(await benchBackend(backend, options, torch));
  } finally {
    torch?.close();
  }
  const text = report(results, options, torchInfo);
  console.log(text);
  if (options.json) writeAtomic(options.json, JSON.stringify({ options, torchInfo, results }, null, 2) + "\n");
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
