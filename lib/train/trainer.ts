/**
 * The trainer: mini-batch training of a multi-task model on
 *   L_total = Σ_i w_i L_i(θ_s, θ_i) + Σ_r R_r(θ),
 * with seeded shuffling, validation each epoch, a history, callbacks and progress.
 * Each step runs inside tf.tidy, so the number of live tensors stays flat across steps.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { backendInfo } from "../backend";
import { batchTensors, MultiTaskData } from "../data/dataset";
import { check, checkKnownOptions, MtlError } from "../errors";
import { checkSeed, Rng, RngState } from "../random";
import { Regularizer } from "../regularizers";
import { Task } from "../tasks/task";
import { Callbacks } from "./callbacks";
import { evaluate } from "../eval/evaluate";
import { CheckpointManifest, loadCheckpoint, saveCheckpoint } from "./checkpoint";
import { Stateful } from "./stateful";
import { EpochRecord, History, RunInfo, StepRecord } from "./history";
import { adam } from "./optimizers";
import { createProgress, ProgressState } from "./progress";
import { checkSignal, InterruptWatch } from "./interrupt";
import { StepInput } from "./steps/types";
import { weightedStep } from "./steps/weighted";
import { fusedMlpStep } from "../native/mlpStep";
import { aggregatedStep } from "./steps/aggregated";
import { Aggregator, Level } from "../aggregators/types";
import { Weighting } from "../weighting/types";
import { equal } from "../weighting/equal";
import { staticWeights } from "../weighting/static";
import { isWeighting } from "../weighting/isWeighting";
import { checkBatch, checkDataWidth, checkModelData, checkModelTasks, checkModelUsable, NonFinitePolicy, nonFinitePolicy } from "./validate";
import { withDisplay } from "../display/attach";
import { evaluationBundle } from "../display/evaluation";

export interface TrainerOptions {
  model: MultiTaskModel;
  /** The tasks in the model's order. */
  tasks: Task[];
  /** Any tfjs optimizer; default `mtl.optimizers.adam()` (lr 1e-3). */
  optimizer?: tf.Optimizer;
  /** Static task weights w_i, as an array in task order or by task name (default all 1). */
  weights?: number[] | Record<string, number>;
  /** A loss-weighting method, e.g. `mtl.weighting.uncertainty()` (default equal; not with `weights`). */
  weighting?: Weighting;
  regularizers?: Regularizer[];
  epochs?: number;
  batchSize?: number;
  /** Seed of the batch shuffling. */
  seed?: number;
  shuffle?: boolean;
  callbacks?: Callbacks;
  /** Show progress in the terminal or notebook (default true). */
  progress?: boolean;
  /** On a non-finite loss: stop with an error naming task and step (default), or skip the step. */
  onNonFinite?: "stop" | "skip";
  /** Clip the whole update to this global L2 norm (after the non-finite check). */
  clipNorm?: number;
  /** Clip each task's weighted gradient to this L2 norm before the tasks' gradients are summed. */
  clipTaskNorm?: number;
  /** Automatic checkpoints during fit: into `dir`, every N steps and/or minutes, keeping the last `keep` (default 3). */
  checkpoint?: AutoCheckpointOptions;
  /** A gradient aggregator, e.g. `mtl.aggregators.pcgrad()` (not with `weights` or `weighting`). */
  aggregator?: Aggregator;
  /** Where the aggregator takes the per-task gradients: "param" (θ_s) or "rep" (z); default its first supported level. */
  level?: Level;
}

export interface AutoCheckpointOptions {
  dir: string;
  everySteps?: number;
  everyMinutes?: number;
  keep?: number;
}

interface EpochCursor {
  rows: number;
  order: number[];
  next: number;
  sums: number[];
  counted: number;
}

/** The trainer's own state, beside weights and optimizer slots, as checkpoints store it. */
export interface TrainerState {
  step: number;
  epoch: number;
  rng: RngState;
  history: { steps: StepRecord[]; epochs: EpochRecord[]; run?: RunInfo };
  components: Record<string, unknown>;
  cursor?: EpochCursor;
}

const OPTIONS = ["model", "tasks", "optimizer", "weights", "weighting", "regularizers", "epochs", "batchSize", "seed", "shuffle", "callbacks", "progress", "onNonFinite", "clipNorm", "clipTaskNorm", "checkpoint", "aggregator", "level"];

export interface FitOptions {
  validation?: MultiTaskData;
  /** Overrides the trainer's epochs for this call. */
  epochs?: number;
  /**
   * Stops training at the next step boundary when aborted (as a Jupyter interrupt does), with
   * TrainingInterrupted; the finished steps stay in the model, optimizer and history.
   */
  signal?: AbortSignal;
}

export interface TaskEvaluation {
  loss: number;
  metrics: Record<string, number>;
}

export class Trainer {
  readonly model: MultiTaskModel;
  readonly tasks: Task[];
  readonly optimizer: tf.Optimizer;
  readonly weights: number[];
  /** The loss-weighting method of every step (static when `weights` was given, else equal by default). */
  readonly weighting: Weighting;
  readonly regularizers: Regularizer[];
  /** The gradient aggregator and its level, when one is used instead of a weighting. */
  readonly aggregator?: Aggregator;
  readonly level?: Level;
  readonly epochs: number;
  readonly batchSize: number;
  readonly history: History;
  /** Parts whose state checkpoints carry, by name (a loss-weighting method, an aggregator…). */
  readonly components: Record<string, Stateful> = {};
  private readonly rng: Rng;
  private readonly options: TrainerOptions;
  private readonly variables: tf.Variable[];
  private globalStep = 0;
  private epoch = 0;
  private stopRequested = false;
  /** Resolved once from the option: what a non-finite loss or gradient does to a step. */
  private readonly onNonFinite: NonFinitePolicy;
  /** Set while a fit runs: a second concurrent fit on the same trainer would interleave its steps. */
  private fitting = false;

  constructor(options: TrainerOptions) {
    const where = "Trainer";
    checkKnownOptions(where, options, OPTIONS);
    check(options !== null && typeof options === "object", where, () => "expected an options object { model, tasks, ... }.");
    checkModelTasks(where, options.model, options.tasks);
    const names = options.tasks.map((t) => t.name);
    this.options = options;
    this.model = options.model;
    this.tasks = options.tasks;
    this.weights = resolveWeights(names, options.weights);
    check(options.weights === undefined || options.weighting === undefined, where,
      () => "options 'weights' and 'weighting' cannot be used together; for fixed weights pass weighting: mtl.weighting.static([...]).");
    check(options.weighting === undefined || isWeighting(options.weighting), where,
      () => "option 'weighting' must be a method from mtl.weighting (e.g. mtl.weighting.dwa()).");
    this.weighting = options.weighting ?? (options.weights !== undefined ? staticWeights(this.weights) : equal());
    this.weighting.bind({ tasks: options.tasks, model: options.model });
    this.components.weighting = this.weighting;
    if (options.aggregator !== undefined) {
      const agg = options.aggregator;
      check(agg && typeof agg.aggregate === "function" && Array.isArray(agg.levels), where, () => "option 'aggregator' must be a method from mtl.aggregators (e.g. mtl.aggregators.pcgrad()).");
      check(options.weights === undefined && options.weighting === undefined, where,
        () => `option 'aggregator' (${agg.name}) cannot be combined with '${options.weights !== undefined ? "weights" : "weighting"}': the aggregator forms the update from the per-task gradients.`);
      const level = options.level ?? agg.levels[0];
      check(level === "param" || level === "rep", where, () => `option 'level' must be "param" or "rep", got ${JSON.stringify(options.level)}.`);
      check(agg.levels.includes(level), where, () => `${agg.name} is not defined at level "${level}"; it supports ${agg.levels.map((l) => `"${l}"`).join(" and ")}.`);
      this.aggregator = agg;
      this.level = level;
      if (agg.state && agg.loadState) this.components.aggregator = { state: () => agg.state!(), loadState: (s) => agg.loadState!(s as Record<string, unknown>) };
    } else {
      check(options.level === undefined, where, () => "option 'level' only applies with an 'aggregator'.");
    }
    this.regularizers = options.regularizers ?? [];
    check(Array.isArray(this.regularizers) && this.regularizers.every((r) => r && typeof r.penalty === "function"), where,
      () => "option 'regularizers' must be a list of mtl.regularizers values.");
    for (const r of this.regularizers) r.validate?.(this.model);
    this.epochs = options.epochs ?? 10;
    check(Number.isInteger(this.epochs) && this.epochs > 0, where, () => `option 'epochs' must be a positive integer, got ${options.epochs}.`);
    this.batchSize = options.batchSize ?? 32;
    check(Number.isInteger(this.batchSize) && this.batchSize > 0, where, () => `option 'batchSize' must be a positive integer, got ${options.batchSize}.`);
    for (const name of ["clipNorm", "clipTaskNorm"] as const) {
      const c = options[name];
      check(c === undefined || (typeof c === "number" && Number.isFinite(c) && c > 0), where, () => `option '${name}' must be a positive number, got ${c}.`);
    }
    this.onNonFinite = nonFinitePolicy(where, options.onNonFinite);
    this.optimizer = options.optimizer ?? adam();
    check(this.optimizer instanceof tf.Optimizer, where, () => "option 'optimizer' must be a tf.Optimizer (e.g. mtl.optimizers.adam()).");
    if (options.checkpoint !== undefined) {
      const c = options.checkpoint;
      checkKnownOptions("Trainer option 'checkpoint'", c, ["dir", "everySteps", "everyMinutes", "keep"]);
      check(typeof c.dir === "string" && c.dir.length > 0, where, () => "option 'checkpoint.dir' must be a folder path.");
      check(c.everySteps !== undefined || c.everyMinutes !== undefined, where, () => "option 'checkpoint' needs 'everySteps' or 'everyMinutes'.");
      check(c.everySteps === undefined || (Number.isInteger(c.everySteps) && c.everySteps > 0), where, () => `option 'checkpoint.everySteps' must be a positive integer, got ${c.everySteps}.`);
      check(c.everyMinutes === undefined || (Number.isFinite(c.everyMinutes) && c.everyMinutes > 0), where, () => `option 'checkpoint.everyMinutes' must be a positive number, got ${c.everyMinutes}.`);
      check(c.keep === undefined || (Number.isInteger(c.keep) && c.keep > 0), where, () => `option 'checkpoint.keep' must be a positive integer, got ${c.keep}.`);
    }
    this.rng = new Rng(checkSeed(where, options.seed));
    this.variables = this.model.namedVariables().map(([, v]) => v);
    const info = backendInfo();
    this.history = new History(names, { backend: info.backend, device: info.device, startedAt: new Date().toISOString() });
  }

  /** Stops training after the current step. */
  stop(): void {
    this.stopRequested = true;
  }

  get step(): number {
    return this.globalStep;
  }

  get rngState(): RngState {
    return this.rng.getState();
  }

  /** The epoch the next step belongs to. */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** The trainer's state for a checkpoint (weights and optimizer slots are saved separately). */
  snapshot(): TrainerState {
    const components: Record<string, unknown> = {};
    for (const [name, c] of Object.entries(this.components)) components[name] = c.state();
    return {
      step: this.globalStep,
      epoch: this.epoch,
      rng: this.rng.getState(),
      history: { steps: this.history.steps, epochs: this.history.epochs, run: this.history.run },
      components,
      cursor: this.cursor,
    };
  }

  /** Restores what `snapshot` returned. */
  restore(state: TrainerState): void {
    this.globalStep = state.step;
    this.epoch = state.epoch;
    this.rng.setState(state.rng);
    this.cursor = state.cursor ? { ...state.cursor, order: [...state.cursor.order], sums: [...state.cursor.sums] } : undefined;
    this.history.steps.splice(0, this.history.steps.length, ...state.history.steps);
    this.history.epochs.splice(0, this.history.epochs.length, ...state.history.epochs);
    for (const [name, c] of Object.entries(this.components)) {
      if (!(name in state.components)) throw new MtlError("Trainer.restore", `the checkpoint has no state for '${name}'.`);
      c.loadState(state.components[name]);
    }
  }

  /** Saves a checkpoint (weights, optimizer slots, component state, RNG, step, history) into `dir`. */
  async save(dir: string, options: { keep?: number } = {}): Promise<string> {
    return saveCheckpoint(this, dir, options.keep ?? this.options.checkpoint?.keep ?? 3);
  }

  /** Loads the newest valid checkpoint of `dir` into this trainer. */
  async load(dir: string): Promise<CheckpointManifest> {
    return loadCheckpoint(this, dir);
  }

  /**
   * A trainer built from `options` (the same model, tasks and methods as the run that saved) with
   * the newest valid checkpoint of `dir` loaded: training continues exactly where it stopped.
   */
  static async resume(dir: string, options: TrainerOptions): Promise<Trainer> {
    const trainer = new Trainer(options);
    await trainer.load(dir);
    return trainer;
  }

  /**
   * One optimisation step on a batch (x, targets in task order). Returns the step's record.
   * The caller keeps ownership of x and the targets.
   */
  trainStep(x: tf.Tensor2D, targets: tf.Tensor[]): StepRecord {
    // The cached variable list makes this check free per step; the full one names the variable.
    if (this.variables.some((v) => v.isDisposed)) checkModelUsable("Trainer.trainStep", this.model);
    checkBatch("Trainer.trainStep", this.model, this.tasks, x, targets);
    const input: StepInput = {
      model: this.model,
      tasks: this.tasks,
      optimizer: this.optimizer,
      regularizers: this.regularizers,
      variables: this.variables,
      x,
      targets,
      step: this.globalStep,
      epoch: this.epoch,
      onNonFinite: this.onNonFinite,
      clipNorm: this.options.clipNorm,
      clipTaskNorm: this.options.clipTaskNorm,
    };
    const out = this.aggregator
      ? aggregatedStep(input, this.aggregator, this.level!)
      : (fusedMlpStep(input, this.weighting) ?? weightedStep(input, this.weighting));
    const regularizers: Record<string, number> = {};
    this.regularizers.forEach((r, i) => (regularizers[r.name] = out.regularizers[i]));
    let total = 0;
    out.losses.forEach((l, i) => (total += out.weights[i] * l));
    for (const v of out.regularizers) total += v;
    const record: StepRecord = {
      epoch: this.epoch,
      step: this.globalStep,
      losses: out.losses,
      weights: out.weights,
      regularizers,
      total,
      applied: out.applied,
      gradNorm: out.gradNorm,
    };
    this.history.steps.push(record);
    this.globalStep++;
    return record;
  }

  /** Trains for the configured epochs (or `options.epochs`) and returns the history. */
  async fit(train: MultiTaskData, options: FitOptions = {}): Promise<History> {
    check(!this.fitting, "Trainer.fit", () => "this trainer is already running a fit; await it (or call stop()) before starting another, or build a second Trainer.");
    this.fitting = true;
    try {
      return await this.fitOnce(train, options);
    } finally {
      this.fitting = false;
    }
  }

  private async fitOnce(train: MultiTaskData, options: FitOptions): Promise<History> {
    checkKnownOptions("Trainer.fit", options, ["validation", "epochs", "signal"]);
    checkSignal("Trainer.fit", options.signal);
    checkModelData("Trainer.fit", this.model, this.tasks, train, "the training data", "Trainer.fit (training data)");
    if (options.validation !== undefined) {
      checkModelData("Trainer.fit", this.model, this.tasks, options.validation, "the validation set (option 'validation')", "Trainer.fit (option 'validation')");
    }
    const epochs = options.epochs ?? this.epochs;
    check(Number.isInteger(epochs) && epochs > 0, "Trainer.fit", () => `option 'epochs' must be a positive integer, got ${options.epochs}.`);
    const callbacks = this.options.callbacks ?? {};
    const progress = createProgress(this.options.progress ?? true);
    const stepsPerEpoch = Math.ceil(train.rows / this.batchSize);
    const start = Date.now();
    this.stopRequested = false;
    const interrupts = new InterruptWatch("Trainer.fit", options.signal);
    callbacks.onTrainBegin?.(this.history);
    let lastYield = Date.now();
    const firstEpoch = this.epoch;
    try {
      for (let e = 0; e < epochs && !this.stopRequested; e++) {
        const epochStart = Date.now();
        // A run stopped or checkpointed mid-epoch continues that epoch's batches in order.
        if (!this.cursor || this.cursor.rows !== train.rows) this.cursor = this.newEpochCursor(train.rows);
        const cursor = this.cursor;
        if (cursor.next === 0) callbacks.onEpochBegin?.(this.epoch);
        for (let b = cursor.next; b < stepsPerEpoch && !this.stopRequested; b++) {
          interrupts.throwIfInterrupted(this.globalStep); // a step boundary: stop here when interrupted
          const indices = Int32Array.from(cursor.order.slice(b * this.batchSize, Math.min((b + 1) * this.batchSize, train.rows)));
          const batch = batchTensors(train, this.tasks, indices);
          let record: StepRecord;
          try {
            record = this.trainStep(batch.x, batch.targets);
          } finally {
            batch.x.dispose();
            tf.dispose(batch.targets);
          }
          if (record.applied) {
            record.losses.forEach((l, i) => (cursor.sums[i] += l));
            cursor.counted++;
          }
          cursor.next = b + 1;
          if (callbacks.onStepEnd?.(record) === false) this.stopRequested = true;
          await this.autoCheckpoint();
          progress.update(this.progressState(e + firstEpoch, firstEpoch + epochs, stepsPerEpoch, record, start, (e + (b + 1) / stepsPerEpoch) / epochs), false);
          // Yield to the event loop now and then so a notebook can interrupt a long run.
          if (Date.now() - lastYield > 200) {
            await new Promise((resolve) => setImmediate(resolve));
            lastYield = Date.now();
          }
        }
        if (cursor.next < stepsPerEpoch) break; // stopped mid-epoch: the cursor waits for the next fit
        this.cursor = undefined;
        const { sums, counted } = cursor;
        const trainLoss: Record<string, number> = {};
        this.tasks.forEach((t, i) => (trainLoss[t.name] = counted > 0 ? sums[i] / counted : NaN));
        this.weighting.endEpoch?.(this.tasks.map((t) => trainLoss[t.name]));
        const record: EpochRecord = { epoch: this.epoch, trainLoss, seconds: (Date.now() - epochStart) / 1000 };
        if (options.validation) {
          const evaluation = this.evaluate(options.validation);
          record.validationLoss = {};
          record.validationMetrics = {};
          for (const [t, ev] of Object.entries(evaluation)) {
            record.validationLoss[t] = ev.loss;
            record.validationMetrics[t] = ev.metrics;
          }
        }
        this.history.epochs.push(record);
        const last = this.history.steps[this.history.steps.length - 1];
        const state = this.progressState(this.epoch, firstEpoch + epochs, stepsPerEpoch, last, start, (e + 1) / epochs);
        if (record.validationLoss) state.validation = record.validationLoss;
        progress.update(state, true);
        this.epoch++;
        if (callbacks.onEpochEnd?.(record, this.history) === false) this.stopRequested = true;
      }
    } finally {
      progress.close();
    }
    callbacks.onTrainEnd?.(this.history);
    return this.history;
  }

  private lastCheckpointTime = Date.now();
  /** Position inside the current epoch: its batch order, the next batch, and its running loss sums. */
  private cursor?: EpochCursor;

  private newEpochCursor(rows: number): EpochCursor {
    const order = this.options.shuffle === false ? Array.from({ length: rows }, (_, i) => i) : Array.from(this.rng.permutation(rows));
    return { rows, order, next: 0, sums: this.tasks.map(() => 0), counted: 0 };
  }

  /** Saves when the `checkpoint` option's step or time interval has passed. */
  private async autoCheckpoint(): Promise<void> {
    const c = this.options.checkpoint;
    if (!c) return;
    const dueBySteps = c.everySteps !== undefined && this.globalStep % c.everySteps === 0;
    const dueByTime = c.everyMinutes !== undefined && Date.now() - this.lastCheckpointTime >= c.everyMinutes * 60_000;
    if (dueBySteps || dueByTime) {
      await this.save(c.dir, { keep: c.keep });
      this.lastCheckpointTime = Date.now();
    }
  }

  private progressState(epoch: number, epochs: number, stepsPerEpoch: number, record: StepRecord | undefined, start: number, fraction: number): ProgressState {
    const losses: Record<string, number> = {};
    this.tasks.forEach((t, i) => (losses[t.name] = record?.losses[i] ?? NaN));
    return { epoch, epochs, step: this.globalStep, stepsPerEpoch, losses, elapsedSeconds: (Date.now() - start) / 1000, fraction };
  }

  /** Raw outputs per task for every row of `data`, computed in batches without gradients. */
  predictRaw(data: MultiTaskData, batchSize = 1024): Float32Array[] {
    checkModelTasks("Trainer.predict", this.model, this.tasks);
    checkDataWidth("Trainer.predict", this.model, data, "the data");
    const parts: Float32Array[][] = this.tasks.map(() => []);
    for (let start = 0; start < data.rows; start += batchSize) {
      const end = Math.min(start + batchSize, data.rows);
      const outs = tf.tidy(() => {
        const x = tf.tensor2d(data.features.subarray(start * data.featureCount, end * data.featureCount), [end - start, data.featureCount]);
        return this.model.forward(x, false);
      });
      outs.forEach((o, i) => parts[i].push(o.dataSync() as Float32Array));
      tf.dispose(outs);
    }
    return parts.map((chunks, i) => concatFloat(chunks, data.rows * this.tasks[i].outputUnits));
  }

  /** Predictions in target space per task name (class indices, 0/1, values). */
  predict(data: MultiTaskData): Record<string, Float32Array | Int32Array> {
    const raw = this.predictRaw(data);
    const out: Record<string, Float32Array | Int32Array> = {};
    this.tasks.forEach((t, i) => (out[t.name] = t.decode(raw[i], data.rows)));
    return out;
  }

  /** Loss and every metric of every task on `data`. */
  evaluate(data: MultiTaskData, batchSize = 1024): Record<string, TaskEvaluation> {
    checkModelData("Trainer.evaluate", this.model, this.tasks, data, "the data");
    // Streamed over batches by mtl.evaluate (which also gives confusion matrices and a DataFrame).
    const evaluation = evaluate(this.model, data, this.tasks, { batchSize });
    const result: Record<string, TaskEvaluation> = {};
    for (const task of this.tasks) result[task.name] = { loss: evaluation.tasks[task.name].loss, metrics: evaluation.tasks[task.name].metrics };
    return withDisplay(result, () => evaluationBundle(evaluation));
  }
}

function resolveWeights(names: string[], weights: number[] | Record<string, number> | undefined): number[] {
  const where = "Trainer option 'weights'";
  if (weights === undefined) return names.map(() => 1);
  let list: number[];
  if (Array.isArray(weights)) {
    check(weights.length === names.length, where, () => `has ${weights.length} values for ${names.length} tasks (${names.join(", ")}).`);
    list = weights;
  } else {
    check(weights !== null && typeof weights === "object", where, () => "must be an array or an object keyed by task name.");
    for (const key of Object.keys(weights)) check(names.includes(key), where, () => `names task '${key}', which is not one of ${names.join(", ")}.`);
    list = names.map((n) => weights[n] ?? 1);
  }
  list.forEach((w, i) => {
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0) {
      throw new MtlError(where, `the weight of task '${names[i]}' must be a finite number ≥ 0, got ${w}.`);
    }
  });
  return [...list];
}

function concatFloat(chunks: Float32Array[], length: number): Float32Array {
  const out = new Float32Array(length);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
