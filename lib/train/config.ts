/**
 * The Trainer's options, validated and resolved once into one typed configuration. The rest of the
 * trainer reads only this: the update rule, the task sampler (when each task has its own dataset),
 * the non-finite policy, the clipping norms, the checkpoint plan.
 *
 * An update rule and a batch source that cannot go together are refused here, naming both, before
 * anything trains (the rest of that check, which depends on the data fit is given, is
 * `checkSourceFits`).
 */
import * as tf from "@tensorflow/tfjs";
import { Aggregator, Level } from "../aggregators/types";
import { MultiTaskModel } from "../architectures/types";
import { TaskSampler } from "../data/samplers";
import { check, checkKnownOptions, MtlError } from "../errors";
import { checkSeed } from "../random";
import { Regularizer } from "../regularizers";
import { Task } from "../tasks/task";
import { equal } from "../weighting/equal";
import { isWeighting } from "../weighting/isWeighting";
import { staticWeights } from "../weighting/static";
import { Weighting } from "../weighting/types";
import { Callbacks } from "./callbacks";
import { adam } from "./optimizers";
import { checkModelTasks, NonFinitePolicy, nonFinitePolicy } from "./validate";

/**
 * Options of a {@link Trainer}: the model and tasks, the update rule (static `weights`, a `weighting` method, or
 * an `aggregator`), the optimizer, the budget, and what happens around each step.
 */
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
  /**
   * Multi-dataset training: fit is given one dataset per task (`{ [task]: dataset }`) and at each
   * step this sampler draws the one task that trains, on the next batch of its own dataset
   * (mtl.data.roundRobin, proportional, temperature, annealed; build it from mtl.data.datasetSizes).
   * Without a sampler, per-task datasets train every task at each step, each on its own batch.
   */
  sampler?: TaskSampler;
  /**
   * Bounded lag: how many steps may be in flight before their scalars (losses, penalties, gradient
   * norm) are read back, an integer ≥ 0. Default 1 on a backend whose reads are asynchronous
   * (webgpu: the next step is dispatched while the previous one's scalars travel back), 0 on wasm,
   * cpu and tensorflow (each step is read before the next; nothing is gained there). With lag ≥ 1 a
   * step's update is gated on the device: it applies only where every loss and the gradient norm are
   * finite (and, under onNonFinite "stop", the step before it applied too), so a non-finite step
   * changes neither the parameters nor the optimizer's state, and the results, records and errors
   * are those of lag 0. Only static or equal weights without `clipTaskNorm` lag; a weighting method
   * or an aggregator reads its losses or gradients on the host, so those steps run at lag 0, as do an
   * optimizer's first step (except mtlkit's Adam) and every step of a fit with an `onStepEnd`
   * callback (it sees the trainer after its step, with nothing in flight). The steps in flight are
   * finished and recorded, in order, before an epoch ends, validation, a checkpoint, a stop or
   * interrupt, and the end of fit. docs/training.md#bounded-lag.
   */
  lag?: number;
}

/** Automatic checkpoints: where, how often (steps or minutes) and how many to keep. */
export interface AutoCheckpointOptions {
  dir: string;
  everySteps?: number;
  everyMinutes?: number;
  keep?: number;
}

/** How the update is formed from a step's losses. */
export type UpdateRule =
  | { kind: "weighted"; weighting: Weighting /** The weights when they depend on nothing (equal, static). */; constant?: number[] }
  | { kind: "aggregated"; aggregator: Aggregator; level: Level };

export interface TrainerConfig {
  model: MultiTaskModel;
  tasks: Task[];
  taskNames: string[];
  optimizer: tf.Optimizer;
  rule: UpdateRule;
  regularizers: Regularizer[];
  sampler?: TaskSampler;
  epochs: number;
  batchSize: number;
  seed: number;
  shuffle: boolean;
  callbacks: Callbacks;
  progress: boolean;
  onNonFinite: NonFinitePolicy;
  clipNorm?: number;
  clipTaskNorm?: number;
  checkpoint?: Required<Pick<AutoCheckpointOptions, "dir" | "keep">> & Pick<AutoCheckpointOptions, "everySteps" | "everyMinutes">;
  /** The `lag` option; undefined: chosen by the backend when fit runs. */
  lag?: number;
}

const OPTIONS = [
  "model",
  "tasks",
  "optimizer",
  "weights",
  "weighting",
  "regularizers",
  "epochs",
  "batchSize",
  "seed",
  "shuffle",
  "callbacks",
  "progress",
  "onNonFinite",
  "clipNorm",
  "clipTaskNorm",
  "checkpoint",
  "aggregator",
  "level",
  "sampler",
  "lag",
];

export function resolveTrainerOptions(options: TrainerOptions): TrainerConfig {
  const where = "Trainer";
  checkKnownOptions(where, options, OPTIONS);
  check(options !== null && typeof options === "object", where, () => "expected an options object { model, tasks, ... }.");
  checkModelTasks(where, options.model, options.tasks);
  const model = options.model;
  const taskNames = options.tasks.map((t) => t.name);
  const rule = resolveRule(options, taskNames);
  const regularizers = options.regularizers ?? [];
  check(
    Array.isArray(regularizers) && regularizers.every((r) => r && typeof r.penalty === "function"),
    where,
    () => "option 'regularizers' must be a list of mtl.regularizers values.",
  );
  for (const r of regularizers) r.validate?.(model);
  const epochs = options.epochs ?? 10;
  check(Number.isInteger(epochs) && epochs > 0, where, () => `option 'epochs' must be a positive integer, got ${options.epochs}.`);
  const batchSize = options.batchSize ?? 32;
  check(
    Number.isInteger(batchSize) && batchSize > 0,
    where,
    () => `option 'batchSize' must be a positive integer, got ${options.batchSize}.`,
  );
  for (const name of ["clipNorm", "clipTaskNorm"] as const) {
    const c = options[name];
    check(
      c === undefined || (typeof c === "number" && Number.isFinite(c) && c > 0),
      where,
      () => `option '${name}' must be a positive number, got ${c}.`,
    );
  }
  const onNonFinite = nonFinitePolicy(where, options.onNonFinite);
  const lag = options.lag;
  check(
    lag === undefined || (typeof lag === "number" && Number.isInteger(lag) && lag >= 0),
    where,
    () => `option 'lag' must be an integer ≥ 0 (steps in flight before their scalars are read), got ${JSON.stringify(lag)}.`,
  );
  const optimizer = options.optimizer ?? adam();
  check(optimizer instanceof tf.Optimizer, where, () => "option 'optimizer' must be a tf.Optimizer (e.g. mtl.optimizers.adam()).");
  let checkpoint: TrainerConfig["checkpoint"];
  if (options.checkpoint !== undefined) {
    const c = options.checkpoint;
    checkKnownOptions("Trainer option 'checkpoint'", c, ["dir", "everySteps", "everyMinutes", "keep"]);
    check(typeof c.dir === "string" && c.dir.length > 0, where, () => "option 'checkpoint.dir' must be a folder path.");
    check(
      c.everySteps !== undefined || c.everyMinutes !== undefined,
      where,
      () => "option 'checkpoint' needs 'everySteps' or 'everyMinutes'.",
    );
    check(
      c.everySteps === undefined || (Number.isInteger(c.everySteps) && c.everySteps > 0),
      where,
      () => `option 'checkpoint.everySteps' must be a positive integer, got ${c.everySteps}.`,
    );
    check(
      c.everyMinutes === undefined || (Number.isFinite(c.everyMinutes) && c.everyMinutes > 0),
      where,
      () => `option 'checkpoint.everyMinutes' must be a positive number, got ${c.everyMinutes}.`,
    );
    check(
      c.keep === undefined || (Number.isInteger(c.keep) && c.keep > 0),
      where,
      () => `option 'checkpoint.keep' must be a positive integer, got ${c.keep}.`,
    );
    checkpoint = { dir: c.dir, keep: c.keep ?? 3, everySteps: c.everySteps, everyMinutes: c.everyMinutes };
  }
  const sampler = options.sampler;
  if (sampler !== undefined) {
    check(
      sampler !== null && typeof sampler === "object" && typeof sampler.next === "function" && typeof sampler.probabilities === "function",
      where,
      () => "option 'sampler' must be a task sampler (mtl.data.roundRobin(...), proportional, temperature, annealed).",
    );
    const n = sampler.probabilities(0).length;
    check(
      n === taskNames.length,
      where,
      () => `the sampler was built for ${n} tasks but there are ${taskNames.length}; build it from mtl.data.datasetSizes(datasets).`,
    );
    checkRuleWithSampler(rule, sampler);
  }
  return {
    model,
    tasks: options.tasks,
    taskNames,
    optimizer,
    rule,
    regularizers,
    sampler,
    epochs,
    batchSize,
    seed: checkSeed(where, options.seed),
    shuffle: options.shuffle !== false,
    callbacks: options.callbacks ?? {},
    progress: options.progress ?? true,
    onNonFinite,
    clipNorm: options.clipNorm,
    clipTaskNorm: options.clipTaskNorm,
    checkpoint,
    lag,
  };
}

function resolveRule(options: TrainerOptions, names: string[]): UpdateRule {
  const where = "Trainer";
  check(
    options.weights === undefined || options.weighting === undefined,
    where,
    () => "options 'weights' and 'weighting' cannot be used together; for fixed weights pass weighting: mtl.weighting.static([...]).",
  );
  if (options.aggregator !== undefined) {
    const agg = options.aggregator;
    check(
      agg && typeof agg.aggregate === "function" && Array.isArray(agg.levels),
      where,
      () => "option 'aggregator' must be a method from mtl.aggregators (e.g. mtl.aggregators.pcgrad()).",
    );
    check(
      options.weights === undefined && options.weighting === undefined,
      where,
      () =>
        `option 'aggregator' (${agg.name}) cannot be combined with '${options.weights !== undefined ? "weights" : "weighting"}': the aggregator forms the update from the per-task gradients.`,
    );
    const level = options.level ?? agg.levels[0];
    check(
      level === "param" || level === "rep",
      where,
      () => `option 'level' must be "param" or "rep", got ${JSON.stringify(options.level)}.`,
    );
    check(
      agg.levels.includes(level),
      where,
      () => `${agg.name} is not defined at level "${level}"; it supports ${agg.levels.map((l) => `"${l}"`).join(" and ")}.`,
    );
    const shared = options.model.sharedVariables();
    check(
      shared.length > 0,
      where,
      () =>
        `the aggregator ${agg.name} (level "${level}") combines the tasks' gradients on the shared part, but the model (${options.model.architecture}) has no shared parameters; use a weighting instead.`,
    );
    return { kind: "aggregated", aggregator: agg, level };
  }
  check(options.level === undefined, where, () => "option 'level' only applies with an 'aggregator'.");
  check(
    options.weighting === undefined || isWeighting(options.weighting),
    where,
    () => "option 'weighting' must be a method from mtl.weighting (e.g. mtl.weighting.dwa()).",
  );
  const weighting = options.weighting ?? (options.weights !== undefined ? staticWeights(resolveWeights(names, options.weights)) : equal());
  weighting.bind({ tasks: options.tasks, model: options.model });
  return { kind: "weighted", weighting, constant: constantWeights(weighting) };
}

/** The weights of `equal` and `static`, the methods whose weights depend on nothing. */
export function constantWeights(weighting: Weighting): number[] | undefined {
  if ((weighting.name !== "equal" && weighting.name !== "static") || weighting.variables().length > 0) return undefined;
  return weighting.weigh(undefined as never) as number[];
}

/** A sampler trains one task per step: nothing to balance between tasks at that step. */
function checkRuleWithSampler(rule: UpdateRule, sampler: TaskSampler): void {
  if (rule.kind === "aggregated") {
    throw new MtlError(
      "Trainer",
      `option 'aggregator' (${rule.aggregator.name}) cannot be used with option 'sampler' (${sampler.name}): the sampler trains one task per step, so there is one task gradient and nothing to aggregate. ` +
        "Drop the sampler to train every task at each step on its own dataset, or drop the aggregator.",
    );
  }
  if (!rule.constant) {
    throw new MtlError(
      "Trainer",
      `option 'weighting' (${rule.weighting.name}) cannot be used with option 'sampler' (${sampler.name}): the method weighs every task's loss at each step, and the sampler trains one task per step. ` +
        "Drop the sampler to train every task at each step on its own dataset, or use static 'weights'.",
    );
  }
}

function resolveWeights(names: string[], weights: number[] | Record<string, number>): number[] {
  const where = "Trainer option 'weights'";
  let list: number[];
  if (Array.isArray(weights)) {
    check(weights.length === names.length, where, () => `has ${weights.length} values for ${names.length} tasks (${names.join(", ")}).`);
    list = weights;
  } else {
    check(weights !== null && typeof weights === "object", where, () => "must be an array or an object keyed by task name.");
    for (const key of Object.keys(weights))
      check(names.includes(key), where, () => `names task '${key}', which is not one of ${names.join(", ")}.`);
    list = names.map((n) => weights[n] ?? 1);
  }
  list.forEach((w, i) => {
    if (typeof w !== "number" || !Number.isFinite(w) || w < 0) {
      throw new MtlError(where, `the weight of task '${names[i]}' must be a finite number ≥ 0, got ${w}.`);
    }
  });
  return [...list];
}
