/**
 * The trainer: one loop for every kind of multi-task training. Two choices, made once when it is
 * built (./config.ts), define a run:
 * - the update rule: the weighted sum L_total = Σ_i w_i L_i + Σ_r R_r (static weights or a weighting
 *   method; the fused native MLP step is its automatic fast path), or per-task gradients combined
 *   by an aggregator at the "param" or "rep" level;
 * - the batch source: one dataset walked in seeded epochs, or one dataset per task, drawn by a task
 *   sampler (one task per step) or all at each step (./batches.ts).
 * Every rule works with every source that fits it, with regularizers, clipping, the non-finite
 * policy, callbacks, progress, interrupts and exact checkpoints. Each step is asynchronous: its
 * losses, weights and the non-finite check come back with awaited reads, never synchronous ones,
 * so it runs on a backend that reads only asynchronously (WebGPU); the number of live tensors stays
 * flat across steps.
 */
import * as tf from "@tensorflow/tfjs";
import { Aggregator, Level } from "../aggregators/types";
import { MultiTaskModel } from "../architectures/types";
import { backendInfo } from "../backend";
import { MultiTaskData, validateForTasks } from "../data/dataset";
import { TaskSampler } from "../data/samplers";
import { check, checkKnownOptions, checkPositiveInteger, MtlError } from "../errors";
import { Rng, RngState } from "../random";
import { Regularizer } from "../regularizers";
import { Task } from "../tasks/task";
import { Reads, readsAsync, readsSyncScoped } from "../util/reads";
import { Weighting } from "../weighting/types";
import { checkTrainingData, DatasetWalk, disposeBatch, isPerTask, newWalk, stepBatch, takeRows, TrainingData } from "./batches";
import { CheckpointManifest, loadCheckpoint, saveCheckpoint } from "./checkpoint";
import { resolveTrainerOptions, TrainerConfig, TrainerOptions } from "./config";
import { Evaluation, evaluationReads, withEvaluationsDisplay } from "./evaluate";
import { EpochRecord, History, RunInfo, StepRecord } from "./history";
import { checkSignal, InterruptWatch } from "./interrupt";
import { createProgress, ProgressState } from "./progress";
import { Stateful } from "./stateful";
import { aggregatedStep } from "./steps/aggregated";
import { fusedMlpStep } from "./steps/fusedMlp";
import { StepBatch, StepInput, StepOutput } from "./steps/types";
import { constantStep, DispatchedStep, dispatchConstantStep, isConstantStep, weightedStep } from "./steps/weighted";
import { canGate } from "./gate";
import { StepPipeline } from "./pipeline";
import { checkBatch, checkDataWidth, checkModelData, checkModelTasks, checkModelUsable } from "./validate";

export { TrainerOptions, AutoCheckpointOptions } from "./config";

/** Position inside the current epoch: steps done and the running loss sums per task. */
interface EpochCursor {
  /** The sizes of the datasets the epoch walks (a different dataset starts a new epoch). */
  rows: number[];
  next: number;
  sums: number[];
  counted: number[];
}

/** The trainer's own state, beside weights and optimizer slots, as checkpoints store it. */
export interface TrainerState {
  step: number;
  epoch: number;
  rng: RngState;
  history: { steps: StepRecord[]; epochs: EpochRecord[]; run?: RunInfo };
  components: Record<string, unknown>;
  /** Position inside the current epoch. @internal (restored as saved; not meant to be edited) */
  cursor?: EpochCursor;
  /** Where the walk of each dataset stands (one shared dataset: within the current epoch). @internal (restored as saved) */
  walks?: DatasetWalk[];
  /** Full passes over each task's own dataset (one dataset per task). */
  passes?: number[];
}

/** Options of {@link Trainer.fit}: validation data, the budget of this call, and an AbortSignal. */
export interface FitOptions {
  /** One dataset (every task's targets), or one dataset per task name, like the training data. */
  validation?: TrainingData;
  /** Overrides the trainer's epochs for this call. */
  epochs?: number;
  /** Stops after this many steps (mid-epoch if need be; the next fit continues there). Without `epochs`, the epoch count is not a limit. */
  steps?: number;
  /**
   * Stops training at the next step boundary when aborted (as a Jupyter interrupt does), with
   * TrainingInterrupted; the finished steps stay in the model, optimizer and history.
   */
  signal?: AbortSignal;
}

/** A task's loss and metrics, as {@link Trainer.evaluate} gives them. */
export interface TaskEvaluation {
  loss: number;
  metrics: Record<string, number>;
  /** The rows that carry the task's label (all rows unless the data masks some; docs/missing-labels.md). */
  labelled: number;
}

/**
 * The trainer: one loop for every kind of multi-task training — weighted losses or aggregated gradients, one
 * dataset or one per task — with validation, history, progress, interrupts and exact checkpoints.
 */
export class Trainer {
  /** The options, validated and resolved once. */
  private readonly config: TrainerConfig;
  readonly model: MultiTaskModel;
  readonly tasks: Task[];
  readonly optimizer: tf.Optimizer;
  /** The constant task weights of the weighted rule (all 1 with a weighting method or an aggregator). */
  readonly weights: number[];
  /** The loss-weighting method of the weighted rule. */
  readonly weighting?: Weighting;
  readonly regularizers: Regularizer[];
  /** The gradient aggregator and its level, when one is used instead of a weighting. */
  readonly aggregator?: Aggregator;
  readonly level?: Level;
  /** The task sampler, when each task has its own dataset and one task trains per step. */
  readonly sampler?: TaskSampler;
  readonly epochs: number;
  readonly batchSize: number;
  readonly history: History;
  /** Parts whose state checkpoints carry, by name (a loss-weighting method, an aggregator, a sampler…). */
  readonly components: Record<string, Stateful> = {};
  private readonly rng: Rng;
  private readonly variables: tf.Variable[];
  private globalStep = 0;
  private epoch = 0;
  private stopRequested = false;
  /** Set while a fit runs: a second concurrent fit on the same trainer would interleave its steps. */
  private fitting = false;
  private cursor?: EpochCursor;
  private walks?: DatasetWalk[];
  private passes: number[];
  private lastCheckpointTime = Date.now();
  /** Constant weights whose step runs in one go (no host read before the update): it can lag. */
  private readonly constantOneGo: boolean;

  constructor(options: TrainerOptions) {
    const config = resolveTrainerOptions(options);
    this.config = config;
    this.model = config.model;
    this.tasks = config.tasks;
    this.optimizer = config.optimizer;
    this.regularizers = config.regularizers;
    this.epochs = config.epochs;
    this.batchSize = config.batchSize;
    this.sampler = config.sampler;
    const rule = config.rule;
    if (rule.kind === "weighted") {
      this.weighting = rule.weighting;
      this.weights = rule.constant && rule.weighting.name === "static" ? [...rule.constant] : config.taskNames.map(() => 1);
      this.components.weighting = rule.weighting;
    } else {
      const agg = rule.aggregator;
      this.aggregator = agg;
      this.level = rule.level;
      this.weights = config.taskNames.map(() => 1);
      if (agg.state && agg.loadState) {
        this.components.aggregator = { state: () => agg.state!(), loadState: (s) => agg.loadState!(s as Record<string, unknown>) };
        if (agg.stateAsync) this.components.aggregator.stateAsync = () => agg.stateAsync!();
      }
    }
    const sampler = config.sampler;
    if (sampler) this.components.sampler = { state: () => sampler.getState(), loadState: (s) => sampler.setState(s as { rng?: RngState }) };
    this.constantOneGo = rule.kind === "weighted" && rule.constant !== undefined && isConstantStep(config, rule.weighting);
    this.rng = new Rng(config.seed);
    this.variables = this.model.namedVariables().map(([, v]) => v);
    this.passes = config.taskNames.map(() => 0);
    const info = backendInfo();
    this.history = new History(config.taskNames, { backend: info.backend, device: info.device, startedAt: new Date().toISOString() });
  }

  /** Stops training after the current step. */
  stop(): void {
    this.stopRequested = true;
  }

  get step(): number {
    return this.globalStep;
  }

  /**
   * The steps `fit` lets be in flight before their scalars are read (the `lag` option, or its
   * default for the backend running now: 1 where reads are asynchronous (webgpu), else 0).
   */
  get lag(): number {
    return this.config.lag ?? (tf.getBackend() === "webgpu" ? 1 : 0);
  }

  get rngState(): RngState {
    return this.rng.getState();
  }

  /** The epoch the next step belongs to. */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** Full passes over each task's own dataset, by task name (one dataset per task). */
  get epochsCompleted(): Record<string, number> {
    return Object.fromEntries(this.config.taskNames.map((t, i) => [t, this.passes[i]]));
  }

  /** The trainer's state for a checkpoint (weights and optimizer slots are saved separately). */
  snapshot(): TrainerState {
    const components: Record<string, unknown> = {};
    for (const [name, c] of Object.entries(this.components)) components[name] = c.state();
    return this.stateWith(components);
  }

  /** `snapshot` with awaited reads of the components whose state lives in tensors (checkpoints use this). */
  async snapshotAsync(): Promise<TrainerState> {
    const components: Record<string, unknown> = {};
    for (const [name, c] of Object.entries(this.components)) components[name] = c.stateAsync ? await c.stateAsync() : c.state();
    return this.stateWith(components);
  }

  private stateWith(components: Record<string, unknown>): TrainerState {
    return {
      step: this.globalStep,
      epoch: this.epoch,
      rng: this.rng.getState(),
      history: { steps: this.history.steps, epochs: this.history.epochs, run: this.history.run },
      components,
      cursor: this.cursor ? copyCursor(this.cursor) : undefined,
      walks: this.walks?.map(copyWalk),
      passes: [...this.passes],
    };
  }

  /** Restores what `snapshot` returned. */
  restore(state: TrainerState): void {
    this.globalStep = state.step;
    this.epoch = state.epoch;
    this.rng.setState(state.rng);
    this.cursor = state.cursor ? copyCursor(state.cursor) : undefined;
    this.walks = state.walks?.map(copyWalk);
    this.passes = state.passes ? [...state.passes] : this.config.taskNames.map(() => 0);
    this.history.steps.splice(0, this.history.steps.length, ...state.history.steps);
    this.history.epochs.splice(0, this.history.epochs.length, ...state.history.epochs);
    // The run continues: its history says where and when it started.
    if (state.history.run) this.history.run = { ...state.history.run };
    for (const [name, c] of Object.entries(this.components)) {
      if (!(name in state.components)) throw new MtlError("Trainer.restore", `the checkpoint has no state for '${name}'.`);
      c.loadState(state.components[name]);
    }
  }

  /** Saves a checkpoint (weights, optimizer slots, component state, RNG, step, history) into `dir`. */
  async save(dir: string, options: { keep?: number } = {}): Promise<string> {
    return saveCheckpoint(this, dir, options.keep ?? this.config.checkpoint?.keep ?? 3);
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
   * One optimisation step on a batch (x, targets in task order) that every task trains on; resolves
   * to the step's record. The caller keeps ownership of x and the targets.
   */
  trainStep(x: tf.Tensor2D, targets: tf.Tensor[]): Promise<StepRecord> {
    // Not an async function: on the fused native step (tens of µs) an extra async frame costs a few percent.
    try {
      checkBatch("Trainer.trainStep", this.model, this.tasks, x, targets);
      return this.runStep({ xs: [x], targets: [...targets], part: this.tasks.map(() => 0) });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The one step of every path: the update rule on a batch, recorded in the history. */
  private runStep(batch: StepBatch, rows?: number[]): Promise<StepRecord> {
    const config = this.config;
    const input = this.stepInput(batch, this.globalStep);
    const rule = config.rule;
    // Label masks: a batch in which no task has a labelled row trains nothing; it is not applied.
    if (batch.part.every((p) => p < 0)) {
      const k = this.tasks.length;
      return Promise.resolve(
        this.record(
          batch,
          { losses: new Array(k).fill(NaN), weights: new Array(k).fill(0), regularizers: this.regularizers.map(() => NaN), applied: false },
          rows,
        ),
      );
    }
    // The fused native step reads nothing back through tfjs: its record is ready at once.
    const fused = rule.kind === "weighted" && rule.constant ? fusedMlpStep(input, rule.weighting) : undefined;
    if (fused) return Promise.resolve(this.record(batch, fused, rows));
    const step =
      rule.kind === "aggregated"
        ? aggregatedStep(input, rule.aggregator, rule.level)
        : this.constantOneGo
          ? constantStep(input, rule.constant!)
          : weightedStep(input, rule.weighting, rule.constant);
    return step.then((out) => this.record(batch, out, rows));
  }

  /** What a step works on; `step` is its global index. */
  private stepInput(batch: StepBatch, step: number): StepInput {
    // The cached variable list makes this check free per step; the full one names the variable.
    if (this.variables.some((v) => v.isDisposed)) checkModelUsable("Trainer.trainStep", this.model);
    const config = this.config;
    return {
      model: this.model,
      tasks: this.tasks,
      optimizer: this.optimizer,
      regularizers: this.regularizers,
      variables: this.variables,
      batch,
      step,
      epoch: this.epoch,
      onNonFinite: config.onNonFinite,
      clipNorm: config.clipNorm,
      clipTaskNorm: config.clipTaskNorm,
    };
  }

  /** Whether this batch's step can be dispatched without a host read before its update (bounded lag). */
  private canLag(batch: StepBatch): boolean {
    return this.constantOneGo && !batch.part.every((p) => p < 0) && canGate(this.optimizer);
  }

  /** Whether a checkpoint will be due once `steps` steps are done (the pipeline drains before it). */
  private checkpointDueAt(steps: number): boolean {
    const c = this.config.checkpoint;
    if (!c) return false;
    return (
      (c.everySteps !== undefined && steps % c.everySteps === 0) ||
      (c.everyMinutes !== undefined && Date.now() - this.lastCheckpointTime >= c.everyMinutes * 60_000)
    );
  }

  private record(batch: StepBatch, out: StepOutput, rows?: number[]): StepRecord {
    const regularizers: Record<string, number> = {};
    this.regularizers.forEach((r, i) => (regularizers[r.name] = out.regularizers[i]));
    let total = 0;
    out.losses.forEach((l, i) => (total += batch.part[i] < 0 ? 0 : out.weights[i] * l));
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
    if (rows) {
      record.rows = rows;
      const trained = batch.part.flatMap((p, i) => (p >= 0 ? [this.tasks[i].name] : []));
      if (trained.length === 1) record.task = trained[0];
    }
    this.history.steps.push(record);
    this.globalStep++;
    return record;
  }

  /**
   * Trains for the configured epochs (or `options.epochs`, or `options.steps` steps) and returns the
   * history. `train` is one dataset with every task's targets, or one dataset per task name.
   */
  async fit(train: TrainingData, options: FitOptions = {}): Promise<History> {
    check(
      !this.fitting,
      "Trainer.fit",
      () => "this trainer is already running a fit; await it (or call stop()) before starting another, or build a second Trainer.",
    );
    this.fitting = true;
    try {
      return await this.fitOnce(train, options);
    } finally {
      this.fitting = false;
    }
  }

  private async fitOnce(train: TrainingData, options: FitOptions): Promise<History> {
    const where = "Trainer.fit";
    checkKnownOptions(where, options, ["validation", "epochs", "steps", "signal"]);
    checkSignal(where, options.signal);
    const { sampler, rule } = this.config;
    const datasets = checkTrainingData(
      where,
      this.model,
      this.tasks,
      train,
      "the training data",
      sampler,
      rule,
      "Trainer.fit (training data)",
    );
    const perTask = isPerTask(train);
    const validation = options.validation;
    if (validation !== undefined) {
      const what = "the validation set (option 'validation')";
      if (isPerTask(validation)) this.checkPerTaskData(where, validation, what);
      else checkModelData(where, this.model, this.tasks, validation, what, "Trainer.fit (option 'validation')");
    }
    if (options.steps !== undefined) checkPositiveInteger(where, "steps", options.steps);
    const epochs = options.epochs ?? (options.steps !== undefined ? Infinity : this.epochs);
    check(
      epochs === Infinity || (Number.isInteger(epochs) && epochs > 0),
      where,
      () => `option 'epochs' must be a positive integer, got ${options.epochs}.`,
    );
    const budget = options.steps ?? Infinity;
    const callbacks = this.config.callbacks;
    const progress = createProgress(this.config.progress);
    const B = this.batchSize;
    const batchesOf = datasets.map((d) => Math.ceil(d.rows / B));
    const stepsPerEpoch = !perTask ? batchesOf[0] : sampler ? batchesOf.reduce((a, b) => a + b, 0) : Math.max(...batchesOf);
    const sizes = datasets.map((d) => d.rows);
    const start = Date.now();
    this.stopRequested = false;
    const interrupts = new InterruptWatch(where, options.signal);
    await callbacks.onTrainBegin?.(this.history);
    let lastYield = Date.now();
    const firstEpoch = this.epoch;
    const firstStep = this.globalStep;
    const totalEpochs = epochs === Infinity ? Math.ceil(budget / stepsPerEpoch) : epochs;
    const fraction = (e: number, inEpoch: number) =>
      budget !== Infinity ? (this.globalStep - firstStep) / budget : (e + inEpoch / stepsPerEpoch) / epochs;
    // One dataset per task: each walks on across epochs (made on the first fit, or when the data changes).
    if (
      perTask &&
      (!this.walks ||
        !sameSizes(
          this.walks.map((w) => w.rows),
          sizes,
        ))
    ) {
      this.walks = sizes.map((n) => newWalk(this.rng, n, this.config.shuffle));
    }
    // Bounded lag (the `lag` option): steps in flight, read in order; none with an onStepEnd callback,
    // which sees the trainer after its step with nothing in flight.
    const lag = callbacks.onStepEnd ? 0 : this.lag;
    const pipeline = lag > 0 ? new StepPipeline(this.optimizer) : undefined;
    let finish!: (record: StepRecord, part: number[], b: number) => Promise<void>;
    /** Reads the oldest step in flight, records it and finishes it (callbacks, checkpoint, progress). */
    const settle = async () => {
      const { entry, out } = await pipeline!.settle();
      await finish(this.record(entry.batch, out, entry.rows), entry.batch.part, entry.index);
    };
    const drain = async () => {
      while (pipeline && pipeline.size > 0) await settle();
    };
    try {
      for (let e = 0; e < epochs && !this.stopRequested && this.globalStep - firstStep < budget; e++) {
        const epochStart = Date.now();
        // A run stopped or checkpointed mid-epoch continues that epoch's batches in order.
        if (!this.cursor || !sameSizes(this.cursor.rows, sizes)) {
          this.cursor = { rows: sizes, next: 0, sums: this.tasks.map(() => 0), counted: this.tasks.map(() => 0) };
          if (!perTask) this.walks = [newWalk(this.rng, sizes[0], this.config.shuffle)];
        }
        const cursor = this.cursor;
        if (cursor.next === 0) await callbacks.onEpochBegin?.(this.epoch);
        finish = async (record, part, b) => {
          if (record.applied) {
            part.forEach((p, i) => {
              if (p < 0) return;
              cursor.sums[i] += record.losses[i];
              cursor.counted[i]++;
            });
          }
          cursor.next = b + 1;
          const verdict = callbacks.onStepEnd?.(record);
          if ((verdict instanceof Promise ? await verdict : verdict) === false) this.stopRequested = true;
          if (!pipeline || pipeline.size === 0) await this.autoCheckpoint(); // only with nothing in flight
          progress.update(
            this.progressState(e + firstEpoch, firstEpoch + totalEpochs, stepsPerEpoch, record, start, fraction(e, b + 1)),
            false,
          );
          // Yield to the event loop now and then so a notebook can interrupt a long run.
          if (Date.now() - lastYield > 200) {
            await new Promise((resolve) => setImmediate(resolve));
            lastYield = Date.now();
          }
        };
        const inFlight = () => pipeline?.size ?? 0;
        try {
          for (let b = cursor.next; b < stepsPerEpoch && !this.stopRequested && this.globalStep + inFlight() - firstStep < budget; b++) {
            // Before an interrupt or a checkpoint, the steps in flight are finished and recorded.
            if (inFlight() > 0 && (interrupts.reason() !== null || this.checkpointDueAt(this.globalStep + inFlight()))) await drain();
            if (this.stopRequested) break;
            interrupts.throwIfInterrupted(this.globalStep); // a step boundary: stop here when interrupted
            const step = this.globalStep + inFlight();
            const picks = this.pickRows(perTask, step);
            const batch = stepBatch(datasets, this.tasks, perTask, picks);
            const rows = perTask ? picks.map((p) => p?.length ?? 0) : undefined;
            if (pipeline && this.canLag(batch)) {
              const rule = this.config.rule as { constant: number[] };
              let dispatched: DispatchedStep;
              try {
                dispatched = dispatchConstantStep(this.stepInput(batch, step), rule.constant, pipeline.chain());
              } catch (err) {
                disposeBatch(batch);
                throw err;
              }
              pipeline.push({ step: dispatched, batch, rows, index: b });
              while (pipeline.size > lag) await settle();
              continue;
            }
            if (pipeline) {
              try {
                await drain(); // this step reads on the host: nothing may be in flight before it
              } catch (err) {
                disposeBatch(batch);
                throw err;
              }
            }
            let record: StepRecord;
            try {
              record = await this.runStep(batch, rows);
            } finally {
              disposeBatch(batch);
            }
            await finish(record, batch.part, b);
          }
          await drain();
        } catch (err) {
          // An error outside a step's own read: the steps in flight are still finished and recorded.
          if (pipeline && pipeline.size > 0) await drain().catch(() => pipeline.abandon());
          throw err;
        }
        if (cursor.next < stepsPerEpoch) break; // stopped mid-epoch: the cursor waits for the next fit
        this.cursor = undefined;
        if (!perTask) this.walks = undefined;
        const trainLoss: Record<string, number> = {};
        this.tasks.forEach((t, i) => (trainLoss[t.name] = cursor.counted[i] > 0 ? cursor.sums[i] / cursor.counted[i] : NaN));
        this.weighting?.endEpoch?.(this.tasks.map((t) => trainLoss[t.name]));
        const record: EpochRecord = { epoch: this.epoch, trainLoss, seconds: (Date.now() - epochStart) / 1000 };
        if (validation) {
          const evaluation = await this.evaluateAsync(validation);
          record.validationLoss = {};
          record.validationMetrics = {};
          for (const [t, ev] of Object.entries(evaluation)) {
            record.validationLoss[t] = ev.loss;
            record.validationMetrics[t] = ev.metrics;
          }
        }
        this.history.epochs.push(record);
        const last = this.history.steps[this.history.steps.length - 1];
        const state = this.progressState(this.epoch, firstEpoch + totalEpochs, stepsPerEpoch, last, start, fraction(e + 1, 0));
        if (record.validationLoss) state.validation = record.validationLoss;
        progress.update(state, true);
        this.epoch++;
        if ((await callbacks.onEpochEnd?.(record, this.history)) === false) this.stopRequested = true;
      }
    } finally {
      progress.close();
    }
    await callbacks.onTrainEnd?.(this.history);
    return this.history;
  }

  /** The rows each task trains on at the next step (undefined: the task does not train). */
  private pickRows(perTask: boolean, step: number): Array<Int32Array | undefined> {
    const walks = this.walks!;
    if (!perTask) {
      // One dataset: the epoch's walk ends with the epoch (the next epoch draws a new order).
      return [
        takeRows(
          walks[0],
          this.batchSize,
          () => walks[0],
          () => {},
        ).indices,
      ];
    }
    const take = (i: number) => {
      const { indices, walk } = takeRows(
        walks[i],
        this.batchSize,
        () => newWalk(this.rng, walks[i].rows, this.config.shuffle),
        () => this.passes[i]++,
      );
      walks[i] = walk;
      return indices;
    };
    const sampler = this.config.sampler;
    if (sampler) {
      const chosen = sampler.next(step);
      return this.tasks.map((_, i) => (i === chosen ? take(i) : undefined));
    }
    return this.tasks.map((_, i) => take(i));
  }

  /** Saves when the `checkpoint` option's step or time interval has passed. */
  private async autoCheckpoint(): Promise<void> {
    const c = this.config.checkpoint;
    if (!c) return;
    const dueBySteps = c.everySteps !== undefined && this.globalStep % c.everySteps === 0;
    const dueByTime = c.everyMinutes !== undefined && Date.now() - this.lastCheckpointTime >= c.everyMinutes * 60_000;
    if (dueBySteps || dueByTime) {
      await this.save(c.dir, { keep: c.keep });
      this.lastCheckpointTime = Date.now();
    }
  }

  private progressState(
    epoch: number,
    epochs: number,
    stepsPerEpoch: number,
    record: StepRecord | undefined,
    start: number,
    fraction: number,
  ): ProgressState {
    const losses: Record<string, number> = {};
    this.tasks.forEach((t, i) => (losses[t.name] = record?.losses[i] ?? NaN));
    return { epoch, epochs, step: this.globalStep, stepsPerEpoch, losses, elapsedSeconds: (Date.now() - start) / 1000, fraction };
  }

  private checkPerTaskData(where: string, data: Record<string, MultiTaskData>, what: string): void {
    checkModelTasks(where, this.model, this.tasks);
    check(data !== null && typeof data === "object", where, () => `${what} must be a dataset, or one dataset per task name.`);
    for (const [name, d] of Object.entries(data)) {
      check(
        this.tasks.some((t) => t.name === name),
        where,
        () => `${what} has a dataset for '${name}', which is not one of the tasks (${this.tasks.map((t) => t.name).join(", ")}).`,
      );
      checkDataWidth(where, this.model, d, `the validation dataset of task '${name}'`);
      validateForTasks(
        d,
        this.tasks.filter((t) => t.name === name),
        where,
      );
    }
  }

  /** Raw outputs per task for every row of `data`, computed in batches without gradients. */
  predictRaw(data: MultiTaskData, batchSize = 1024): Float32Array[] {
    return readsSyncScoped(this.predictionReads("Trainer.predict", data, batchSize));
  }

  /** predictRaw with awaited reads (WebGPU reads only asynchronously). */
  predictRawAsync(data: MultiTaskData, batchSize = 1024): Promise<Float32Array[]> {
    return readsAsync(this.predictionReads("Trainer.predictAsync", data, batchSize));
  }

  /** Predictions in target space per task name (class indices, 0/1, values). */
  predict(data: MultiTaskData): Record<string, Float32Array | Int32Array> {
    return this.decodeAll(data, this.predictRaw(data));
  }

  /** predict with awaited reads. */
  async predictAsync(data: MultiTaskData): Promise<Record<string, Float32Array | Int32Array>> {
    return this.decodeAll(data, await this.predictRawAsync(data));
  }

  private decodeAll(data: MultiTaskData, raw: Float32Array[]): Record<string, Float32Array | Int32Array> {
    const out: Record<string, Float32Array | Int32Array> = {};
    this.tasks.forEach((t, i) => (out[t.name] = t.decode(raw[i], data.rows)));
    return out;
  }

  private *predictionReads(where: string, data: MultiTaskData, batchSize: number): Reads<Float32Array[]> {
    checkModelTasks(where, this.model, this.tasks);
    checkDataWidth(where, this.model, data, "the data");
    const out = this.tasks.map((t) => new Float32Array(data.rows * t.outputUnits));
    for (let start = 0; start < data.rows; start += batchSize) {
      const end = Math.min(start + batchSize, data.rows);
      // One read per batch: every task's outputs, flattened one after the other.
      const flat = tf.tidy(() => {
        const x = tf.tensor2d(data.features.subarray(start * data.featureCount, end * data.featureCount), [end - start, data.featureCount]);
        return tf.concat(this.model.forward(x, false).map((o) => tf.reshape(o, [-1])));
      });
      const values = (yield flat) as Float32Array;
      let offset = 0;
      this.tasks.forEach((t, i) => {
        const width = (end - start) * t.outputUnits;
        out[i].set(values.subarray(offset, offset + width), start * t.outputUnits);
        offset += width;
      });
    }
    return out;
  }

  /**
   * Loss and every metric of every task on `data` (one dataset, or one per task name: each task on
   * its own). Reads synchronously; `evaluateAsync` is the same with awaited reads (WebGPU).
   */
  evaluate(data: TrainingData, batchSize = 1024): Record<string, TaskEvaluation> {
    return this.evaluation("Trainer.evaluate", data, batchSize, (work) => readsSyncScoped(work));
  }

  async evaluateAsync(data: TrainingData, batchSize = 1024): Promise<Record<string, TaskEvaluation>> {
    const parts: Array<Promise<Evaluation>> = [];
    const result = this.evaluation("Trainer.evaluateAsync", data, batchSize, (work) => {
      parts.push(readsAsync(work));
      return undefined;
    });
    const evaluations = await Promise.all(parts);
    for (const evaluation of evaluations) {
      for (const [name, report] of Object.entries(evaluation.tasks))
        result[name] = { loss: report.loss, metrics: report.metrics, labelled: report.labelled };
    }
    return withEvaluationsDisplay(result, evaluations);
  }

  /** Checks `data` and runs the evaluation of each dataset through `run` (a sync or async driver). */
  private evaluation(
    where: string,
    data: TrainingData,
    batchSize: number,
    run: (work: ReturnType<typeof evaluationReads>) => Evaluation | undefined,
  ): Record<string, TaskEvaluation> {
    const result: Record<string, TaskEvaluation> = {};
    const seen: Evaluation[] = [];
    const collect = (evaluation: Evaluation | undefined) => {
      if (!evaluation) return;
      seen.push(evaluation);
      for (const [name, report] of Object.entries(evaluation.tasks))
        result[name] = { loss: report.loss, metrics: report.metrics, labelled: report.labelled };
    };
    checkPositiveInteger(where, "batchSize", batchSize);
    if (!isPerTask(data)) {
      checkModelData(where, this.model, this.tasks, data, "the data");
      collect(run(evaluationReads(this.model, data, this.tasks, batchSize)));
      return withEvaluationsDisplay(result, seen);
    }
    this.checkPerTaskData(where, data, "the data");
    // Tasks without a dataset are left out.
    this.tasks.forEach((task, i) => {
      const d = data[task.name];
      if (d) collect(run(evaluationReads(this.model, d, this.tasks, batchSize, [i])));
    });
    return withEvaluationsDisplay(result, seen);
  }
}

function sameSizes(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function copyCursor(c: EpochCursor): EpochCursor {
  return { rows: [...c.rows], next: c.next, sums: [...c.sums], counted: [...c.counted] };
}

function copyWalk(w: DatasetWalk): DatasetWalk {
  return { rows: w.rows, order: [...w.order], next: w.next };
}
