/**
 * Multi-dataset multi-task training (LibMTL's "multi-input" setting, MT-DNN's task sampling): each
 * task comes with its own dataset, and every step trains ONE task, chosen by a task sampler, on a
 * batch of that task's data:
 *
 *   i_s ~ sampler(s);   (x, y) = next batch of D_{i_s};   θ ← opt(θ, ∇_{θ_s, θ_{i_s}} w_{i_s} L_{i_s}(x, y))
 *
 * so only the shared parameters and task i_s's head move at step s. Each task walks its own
 * dataset in seeded shuffled epochs, independently of the others. The history records which task
 * each step trained, its loss, and per task the steps and examples seen and epochs completed.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { batchTensors, MultiTaskData, validateForTasks } from "../data/dataset";
import { TaskSampler } from "../data/samplers";
import { check, checkKnownOptions, checkPositiveInteger, MtlError, NonFiniteLossError } from "../errors";
import { checkSeed, Rng } from "../random";
import { Task } from "../tasks/task";
import { adam } from "./optimizers";
import { checkSignal, InterruptWatch } from "./interrupt";
import { TaskEvaluation } from "./trainer";
import { checkDataWidth, checkModelTasks, checkModelUsable } from "./validate";

export interface MultiDatasetOptions {
  model: MultiTaskModel;
  /** The model's tasks, in its order. */
  tasks: Task[];
  /** One dataset per task name, each with that task's targets and the model's input width. */
  datasets: Record<string, MultiTaskData>;
  /** Which task trains at each step; build it from `sizes(datasets)`. */
  sampler: TaskSampler;
  optimizer?: tf.Optimizer;
  batchSize?: number;
  /** Static loss weights per task name (default 1). */
  weights?: Record<string, number>;
  seed?: number;
}

export interface MultiDatasetStep {
  step: number;
  /** The task trained at this step. */
  task: string;
  loss: number;
  batchSize: number;
}

export interface MultiDatasetHistory {
  readonly taskNames: readonly string[];
  readonly steps: MultiDatasetStep[];
  /** Steps trained per task. */
  readonly stepsSeen: Record<string, number>;
  /** Examples trained on per task. */
  readonly examplesSeen: Record<string, number>;
  /** Full passes over each task's dataset. */
  readonly epochsCompleted: Record<string, number>;
  /** Evaluations made with `evaluateEvery`: step and per-task evaluation on the validation sets. */
  readonly evaluations: Array<{ step: number; tasks: Record<string, TaskEvaluation> }>;
}

interface Cursor {
  order: Int32Array;
  next: number;
}

/** Dataset sizes by task name, for the samplers. */
export function sizes(datasets: Record<string, MultiTaskData>): Record<string, number> {
  return Object.fromEntries(Object.entries(datasets).map(([k, d]) => [k, d.rows]));
}

export class MultiDatasetTrainer {
  readonly model: MultiTaskModel;
  readonly tasks: Task[];
  readonly optimizer: tf.Optimizer;
  readonly history: MultiDatasetHistory;
  private readonly datasets: MultiTaskData[];
  private readonly sampler: TaskSampler;
  private readonly batchSize: number;
  private readonly weights: number[];
  private readonly rng: Rng;
  private readonly cursors: Cursor[];
  private readonly variablesPerTask: tf.Variable[][];
  /** Every trainable variable, shared first, then task by task: the order the optimizer's slots follow. */
  private readonly allVariables: tf.Variable[];
  private globalStep = 0;
  /** Set while a fit runs: a second concurrent fit would interleave its steps with the first's. */
  private fitting = false;

  constructor(options: MultiDatasetOptions) {
    const where = "MultiDatasetTrainer";
    checkKnownOptions(where, options, ["model", "tasks", "datasets", "sampler", "optimizer", "batchSize", "weights", "seed"]);
    const { model, tasks, datasets, sampler } = options;
    checkModelTasks(where, model, tasks);
    check(datasets && typeof datasets === "object", where, () => "option 'datasets' must map each task name to its dataset.");
    for (const name of Object.keys(datasets)) {
      check(tasks.some((t) => t.name === name), where, () => `option 'datasets' has a dataset for '${name}', which is not one of the tasks (${tasks.map((t) => t.name).join(", ")}).`);
    }
    this.datasets = tasks.map((task) => {
      const data = datasets[task.name];
      check(data !== undefined, where, () => `task '${task.name}' has no dataset; option 'datasets' must give one per task.`);
      checkDataWidth(where, model, data, `the dataset of task '${task.name}'`);
      validateForTasks(data, [task]);
      return data;
    });
    check(sampler && typeof sampler.next === "function", where, () => "option 'sampler' must be a task sampler (mtl.data.roundRobin(...), proportional, temperature, annealed).");
    check(sampler.probabilities(0).length === tasks.length, where,
      () => `the sampler was built for ${sampler.probabilities(0).length} tasks but there are ${tasks.length}; build it from sizes(datasets).`);
    this.model = model;
    this.tasks = tasks;
    this.sampler = sampler;
    this.batchSize = options.batchSize ?? 32;
    checkPositiveInteger(where, "batchSize", this.batchSize);
    this.weights = tasks.map((t) => {
      const w = options.weights?.[t.name] ?? 1;
      check(Number.isFinite(w) && w >= 0, where, () => `weight of task '${t.name}' must be a finite number ≥ 0, got ${w}.`);
      return w;
    });
    this.optimizer = options.optimizer ?? adam();
    this.rng = new Rng(checkSeed(where, options.seed));
    this.cursors = this.datasets.map((d) => ({ order: this.rng.permutation(d.rows), next: 0 }));
    const shared = model.sharedVariables().map(([, v]) => v);
    this.variablesPerTask = tasks.map((_, i) => [...shared, ...model.taskVariables(i).map(([, v]) => v)]);
    this.allVariables = model.namedVariables().map(([, v]) => v);
    const zero = () => Object.fromEntries(tasks.map((t) => [t.name, 0]));
    this.history = { taskNames: tasks.map((t) => t.name), steps: [], stepsSeen: zero(), examplesSeen: zero(), epochsCompleted: zero(), evaluations: [] };
  }

  get step(): number {
    return this.globalStep;
  }

  /** One step on the sampled task's next batch. */
  trainStep(): MultiDatasetStep {
    if (this.allVariables.some((v) => v.isDisposed)) checkModelUsable("MultiDatasetTrainer.trainStep", this.model);
    const i = this.sampler.next(this.globalStep);
    const task = this.tasks[i];
    const data = this.datasets[i];
    const cursor = this.cursors[i];
    const end = Math.min(cursor.next + this.batchSize, data.rows);
    const indices = cursor.order.subarray(cursor.next, end);
    cursor.next = end;
    if (cursor.next >= data.rows) {
      this.history.epochsCompleted[task.name]++;
      this.cursors[i] = { order: this.rng.permutation(data.rows), next: 0 };
    }
    const batch = batchTensors(data, [task], indices);
    let loss = NaN;
    try {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const outputs = this.model.decode(this.model.encode(batch.x, true), batch.x, true);
          const l = task.loss(outputs[i], batch.targets[0]);
          loss = l.dataSync()[0];
          if (!Number.isFinite(loss)) throw new NonFiniteLossError(task.name, this.globalStep, loss);
          return tf.mul(l, this.weights[i]) as tf.Scalar;
        }, this.variablesPerTask[i]);
        // tfjs optimizers key their slots (Adam's moments) by position in the gradient map, so the
        // map lists every variable in one fixed order; the other tasks' heads get no gradient (null:
        // skipped, not moved), instead of task i's head taking the slots of whichever head sat there.
        const ordered: Record<string, tf.Tensor | null> = {};
        for (const v of this.allVariables) ordered[v.name] = grads[v.name] ?? null;
        this.optimizer.applyGradients(ordered as tf.NamedTensorMap);
      });
    } finally {
      batch.x.dispose();
      tf.dispose(batch.targets);
    }
    const record: MultiDatasetStep = { step: this.globalStep, task: task.name, loss, batchSize: indices.length };
    this.history.steps.push(record);
    this.history.stepsSeen[task.name]++;
    this.history.examplesSeen[task.name] += indices.length;
    this.globalStep++;
    return record;
  }

  /**
   * Trains for `steps` steps; with `validation` and `evaluateEvery`, evaluates each task on its own
   * validation set every that many steps (and at the end). A kernel interrupt or an aborted
   * `signal` stops it at the next step boundary with TrainingInterrupted.
   */
  async fit(options: { steps: number; validation?: Record<string, MultiTaskData>; evaluateEvery?: number; signal?: AbortSignal }): Promise<MultiDatasetHistory> {
    const where = "MultiDatasetTrainer.fit";
    check(!this.fitting, where, () => "this trainer is already running a fit; await it before starting another, or build a second trainer.");
    checkKnownOptions(where, options, ["steps", "validation", "evaluateEvery", "signal"]);
    checkSignal(where, options.signal);
    checkPositiveInteger(where, "steps", options?.steps);
    if (options.evaluateEvery !== undefined) checkPositiveInteger(where, "evaluateEvery", options.evaluateEvery);
    if (options.validation) this.checkValidation(options.validation);
    checkModelUsable(where, this.model);
    this.fitting = true;
    try {
      return await this.fitSteps(options);
    } finally {
      this.fitting = false;
    }
  }

  private async fitSteps(options: { steps: number; validation?: Record<string, MultiTaskData>; evaluateEvery?: number; signal?: AbortSignal }): Promise<MultiDatasetHistory> {
    const interrupts = new InterruptWatch("MultiDatasetTrainer.fit", options.signal);
    let lastYield = Date.now();
    for (let s = 0; s < options.steps; s++) {
      interrupts.throwIfInterrupted(this.globalStep);
      this.trainStep();
      if (options.validation && options.evaluateEvery && this.globalStep % options.evaluateEvery === 0) {
        this.history.evaluations.push({ step: this.globalStep, tasks: this.evaluate(options.validation) });
      }
      if (Date.now() - lastYield > 200) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = Date.now();
      }
    }
    const last = this.history.evaluations[this.history.evaluations.length - 1];
    if (options.validation && (!last || last.step !== this.globalStep)) {
      this.history.evaluations.push({ step: this.globalStep, tasks: this.evaluate(options.validation) });
    }
    return this.history;
  }

  private checkValidation(validation: Record<string, MultiTaskData>): void {
    const where = "MultiDatasetTrainer";
    checkModelTasks(where, this.model, this.tasks);
    check(validation !== null && typeof validation === "object", where, () => "validation data must map task names to datasets.");
    for (const [name, data] of Object.entries(validation)) {
      const task = this.tasks.find((t) => t.name === name);
      if (!task) throw new MtlError(where, `validation data for '${name}', which is not one of the tasks.`);
      checkDataWidth(where, this.model, data, `the validation dataset of task '${name}'`);
      validateForTasks(data, [task]);
    }
  }

  /** Each task's loss and metrics on its own dataset (tasks without data are left out). */
  evaluate(datasets: Record<string, MultiTaskData>, batchSize = 512): Record<string, TaskEvaluation> {
    this.checkValidation(datasets);
    const out: Record<string, TaskEvaluation> = {};
    this.tasks.forEach((task, i) => {
      const data = datasets[task.name];
      if (!data) return;
      const raw = new Float32Array(data.rows * task.outputUnits);
      for (let start = 0; start < data.rows; start += batchSize) {
        const end = Math.min(start + batchSize, data.rows);
        const values = tf.tidy(() => {
          const x = tf.tensor2d(data.features.subarray(start * data.featureCount, end * data.featureCount), [end - start, data.featureCount]);
          return this.model.forward(x, false)[i].dataSync() as Float32Array;
        });
        raw.set(values, start * task.outputUnits);
      }
      const target = data.targets[task.name];
      const loss = tf.tidy(() => task.loss(tf.tensor2d(raw, [data.rows, task.outputUnits]), task.targetTensor(target, data.rows)).dataSync()[0]);
      out[task.name] = { loss, metrics: task.metrics(task.decode(raw, data.rows), target.values) };
    });
    return out;
  }
}
