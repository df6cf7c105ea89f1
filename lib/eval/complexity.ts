/**
 * What a model costs: parameters (shared θ_s and per task θ_i), forward FLOPs per example (from the
 * architecture's own count: 2·in·out per dense layer plus activations, as its blocks report it), and
 * the measured time of one training step (forward, backward and the optimizer update, median over
 * repeats on one batch). The step is timed with SGD of learning rate 0, so the model is unchanged.
 * `compareComplexity` sets a multi-task model beside the sum of its single-task counterparts.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { batchTensors, MultiTaskData, validateForTasks } from "../data/dataset";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Task } from "../tasks/task";
import { Trainer } from "../train/trainer";

/** What a model costs: parameters (shared, per task), forward FLOPs per example and the time of a training step. */
export interface Complexity {
  architecture: string;
  tasks: string[];
  parameters: { shared: number; perTask: Record<string, number>; total: number };
  /** Forward FLOPs per example, when the architecture can count them. */
  flopsPerExample?: number;
  /** Median milliseconds of one training step on `batchSize` rows (when data was given). */
  stepMs?: number;
  batchSize?: number;
  backend: string;
}

/** Options of {@link complexity}: give both tasks and data to time a training step. */
export interface ComplexityOptions {
  /** The model's tasks and data to time a training step on (both, or neither). */
  tasks?: Task[];
  data?: MultiTaskData;
  batchSize?: number;
  /** Timed steps after 3 warm-up steps (default 20). */
  repeats?: number;
}

/**
 * Parameters, forward FLOPs per example and the median time of a training step (SGD with learning rate 0, so the
 * model is unchanged).
 */
export async function complexity(model: MultiTaskModel, options: ComplexityOptions = {}): Promise<Complexity> {
  const where = "complexity";
  checkKnownOptions(where, options, ["tasks", "data", "batchSize", "repeats"]);
  check(model && typeof model.parameterCounts === "function", where, () => "the first argument must be an mtlkit model.");
  const out: Complexity = {
    architecture: model.architecture,
    tasks: [...model.taskNames],
    parameters: model.parameterCounts(),
    flopsPerExample: model.flopsPerExample(),
    backend: tf.getBackend(),
  };
  check(
    (options.tasks === undefined) === (options.data === undefined),
    where,
    () => "give both 'tasks' and 'data' to time a training step, or neither.",
  );
  if (options.tasks && options.data) {
    const { tasks, data } = options;
    validateForTasks(data, tasks);
    const batchSize = Math.min(options.batchSize ?? 64, data.rows);
    checkPositiveInteger(where, "batchSize", batchSize);
    const repeats = options.repeats ?? 20;
    checkPositiveInteger(where, "repeats", repeats);
    const optimizer = tf.train.sgd(0);
    const trainer = new Trainer({ model, tasks, optimizer, progress: false });
    const batch = batchTensors(
      data,
      tasks,
      Int32Array.from({ length: batchSize }, (_, i) => i),
    );
    try {
      for (let i = 0; i < 3; i++) await trainer.trainStep(batch.x, batch.targets);
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) {
        const t0 = performance.now();
        await trainer.trainStep(batch.x, batch.targets);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      out.stepMs = times[Math.floor(times.length / 2)];
      out.batchSize = batchSize;
    } finally {
      batch.x.dispose();
      tf.dispose(batch.targets);
      optimizer.dispose();
    }
  }
  return out;
}

/** One row of {@link compareComplexity}'s table. */
export interface ComplexityRow {
  model: string;
  parameters: number;
  sharedParameters: number;
  flopsPerExample?: number;
  stepMs?: number;
}

/** The multi-task model, the single-task models summed, and the ratio multi / sum. */
export function compareComplexity(multiTask: Complexity, singleTask: Complexity[]): ComplexityRow[] {
  check(singleTask.length > 0, "compareComplexity", () => "needs at least one single-task model.");
  const sum = (f: (c: Complexity) => number | undefined) =>
    singleTask.every((c) => f(c) !== undefined) ? singleTask.reduce((s, c) => s + f(c)!, 0) : undefined;
  const sumRow: ComplexityRow = {
    model: `sum of ${singleTask.length} single-task`,
    parameters: sum((c) => c.parameters.total)!,
    sharedParameters: sum((c) => c.parameters.shared)!,
    flopsPerExample: sum((c) => c.flopsPerExample),
    stepMs: sum((c) => c.stepMs),
  };
  const mtlRow: ComplexityRow = {
    model: `multi-task (${multiTask.architecture})`,
    parameters: multiTask.parameters.total,
    sharedParameters: multiTask.parameters.shared,
    flopsPerExample: multiTask.flopsPerExample,
    stepMs: multiTask.stepMs,
  };
  const ratio = (a?: number, b?: number) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
  return [
    mtlRow,
    sumRow,
    {
      model: "ratio multi / sum",
      parameters: mtlRow.parameters / sumRow.parameters,
      sharedParameters: ratio(mtlRow.sharedParameters, sumRow.sharedParameters) ?? NaN,
      flopsPerExample: ratio(mtlRow.flopsPerExample, sumRow.flopsPerExample),
      stepMs: ratio(mtlRow.stepMs, sumRow.stepMs),
    },
  ];
}
