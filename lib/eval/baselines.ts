/**
 * Fair comparisons need the same model family, budget and seeds on both sides. `trainSeeds` trains
 * one multi-task model per seed; `trainSingleTaskBaselines` trains, per seed, one model per task
 * built by the same factory with that task alone (hard sharing with one task is a single-task
 * network: the same trunk and head), for the same epochs and batch size, so every task's model
 * takes as many optimizer steps as the multi-task one. Seeds fix initialisation and shuffling.
 */
import { MultiTaskModel } from "../architectures/types";
import { MultiTaskData, validateForTasks } from "../data/dataset";
import { check, checkKnownOptions } from "../errors";
import { Task } from "../tasks/task";
import { History } from "../train/history";
import { Trainer, TrainerOptions } from "../train/trainer";
import { evaluate, Evaluation, MetricTable } from "./evaluate";

/** Builds a model for these tasks with this seed, e.g. `(tasks, seed) => mtl.hardSharing({ inputSize, trunk: [64], tasks, seed })`. */
export type ModelFactory = (tasks: Task[], seed: number) => MultiTaskModel;

/** Trainer options other than model, tasks and seed; a function of the seed when they hold state (optimizers, weightings). */
export type TrainerSettings = Omit<TrainerOptions, "model" | "tasks" | "seed">;

/**
 * Options of {@link trainSeeds} and {@link trainSingleTaskBaselines}: a model factory, the tasks, the data, the
 * seeds and the budget.
 */
export interface SeedsOptions {
  build: ModelFactory;
  tasks: Task[];
  train: MultiTaskData;
  /** Data the runs are scored on. */
  test: MultiTaskData;
  validation?: MultiTaskData;
  seeds: number[];
  epochs: number;
  /** Everything else the trainer takes; default batch size 32, Adam 1e-3, no progress output. */
  trainer?: (seed: number) => TrainerSettings;
  /** Keep the trained models (default false: they are disposed after evaluation). */
  keepModels?: boolean;
}

/** One trained run: its seed, its evaluation on the test data, its history and how long it took. */
export interface SeedRun {
  seed: number;
  evaluation: Evaluation;
  history: History;
  seconds: number;
  model?: MultiTaskModel;
}

const OPTIONS = ["build", "tasks", "train", "test", "validation", "seeds", "epochs", "trainer", "keepModels"];

function checkSeedsOptions(where: string, options: SeedsOptions): void {
  checkKnownOptions(where, options, OPTIONS);
  check(typeof options.build === "function", where, () => "option 'build' must be a function (tasks, seed) => model.");
  check(Array.isArray(options.tasks) && options.tasks.length > 0, where, () => "option 'tasks' must list the tasks.");
  check(
    Array.isArray(options.seeds) && options.seeds.length > 0 && options.seeds.every(Number.isInteger),
    where,
    () => `option 'seeds' must be a non-empty list of integers, got ${JSON.stringify(options.seeds)}.`,
  );
  check(
    new Set(options.seeds).size === options.seeds.length,
    where,
    () => "option 'seeds' repeats a seed; repeated runs would not be independent.",
  );
  check(
    Number.isInteger(options.epochs) && options.epochs > 0,
    where,
    () => `option 'epochs' must be a positive integer, got ${options.epochs}.`,
  );
  validateForTasks(options.train, options.tasks);
  validateForTasks(options.test, options.tasks);
}

/** Trains one model on `tasks` per seed and evaluates it on `test`. */
export async function trainSeeds(options: SeedsOptions): Promise<SeedRun[]> {
  checkSeedsOptions("trainSeeds", options);
  const runs: SeedRun[] = [];
  for (const seed of options.seeds) runs.push(await trainOne(options, options.tasks, seed));
  return runs;
}

async function trainOne(options: SeedsOptions, tasks: Task[], seed: number): Promise<SeedRun> {
  const model = options.build(tasks, seed);
  check(
    model.taskNames.length === tasks.length && tasks.every((t, i) => t.name === model.taskNames[i]),
    "trainSeeds",
    () =>
      `option 'build' returned a model for tasks (${model.taskNames.join(", ")}) when asked for (${tasks.map((t) => t.name).join(", ")}).`,
  );
  const start = Date.now();
  try {
    const trainer = new Trainer({ progress: false, ...(options.trainer?.(seed) ?? {}), model, tasks, seed });
    const history = await trainer.fit(options.train, { epochs: options.epochs, validation: options.validation });
    const evaluation = evaluate(model, options.test, tasks);
    const run: SeedRun = { seed, evaluation, history, seconds: (Date.now() - start) / 1000 };
    if (options.keepModels) run.model = model;
    return run;
  } finally {
    if (!options.keepModels) model.dispose();
  }
}

/** The single-task baselines: the runs per task, and per seed every task's metrics (the B of Δm). */
export interface Baselines {
  /** Per task, one run per seed of the model trained on that task alone. */
  perTask: Record<string, SeedRun[]>;
  /** Per seed, every task's metrics from its own single-task model: the B of Δm. */
  tables: MetricTable[];
}

/** One single-task model per task and seed, same factory, epochs, batch size and trainer settings. */
export async function trainSingleTaskBaselines(options: SeedsOptions): Promise<Baselines> {
  checkSeedsOptions("trainSingleTaskBaselines", options);
  const perTask: Record<string, SeedRun[]> = {};
  for (const task of options.tasks) {
    perTask[task.name] = [];
    for (const seed of options.seeds) perTask[task.name].push(await trainOne(options, [task], seed));
  }
  const tables = options.seeds.map((_, s) => {
    const table: MetricTable = {};
    for (const task of options.tasks) table[task.name] = { ...perTask[task.name][s].evaluation.table[task.name] };
    return table;
  });
  return { perTask, tables };
}

/** The metric tables of runs, for deltaM / negativeTransfer. */
export function tablesOf(runs: SeedRun[]): MetricTable[] {
  return runs.map((r) => r.evaluation.table);
}
