/**
 * Batch sources: where each step's batch comes from.
 * - One dataset (`MultiTaskData`): walked in seeded shuffled epochs; every task trains on the batch.
 * - One dataset per task (`{ [task]: MultiTaskData }`): each task walks its own dataset in seeded
 *   shuffled passes, independently of the others (a task's order is reshuffled when it runs out).
 *   With a task sampler, each step trains the one task it draws on that task's next batch
 *   (LibMTL's "multi-input" setting with MT-DNN's task sampling); without one, every task trains at
 *   each step, each on its own next batch.
 * Everything here is plain data in the trainer's state, so checkpoints resume batch for batch.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { batchTensors, MultiTaskData, validateForTasks } from "../data/dataset";
import { checkLabelled, labelledCount } from "../data/masks";
import { TaskSampler } from "../data/samplers";
import { check, MtlError } from "../errors";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { UpdateRule } from "./config";
import { withLabelMasks } from "./maskedBatch";
import { StepBatch } from "./steps/types";
import { checkDataWidth, checkModelData } from "./validate";

/** One dataset per task, by task name. */
export type PerTaskData = Record<string, MultiTaskData>;
/** What `fit` trains on: one dataset for all tasks, or one dataset per task name. */
export type TrainingData = MultiTaskData | PerTaskData;

/** Dataset sizes by task name, for the samplers: the rows that carry the task's own label. */
export function datasetSizes(datasets: PerTaskData): Record<string, number> {
  return Object.fromEntries(Object.entries(datasets).map(([k, d]) => [k, labelledCount(d, k)]));
}

/** One dataset per task: a record of datasets by name (anything else is checked as one dataset). */
export function isPerTask(data: TrainingData): data is PerTaskData {
  if (data === null || typeof data !== "object" || Array.isArray(data) || "features" in data || "rows" in data) return false;
  const values = Object.values(data);
  return values.length > 0 && values.every((d) => d !== null && typeof d === "object" && "features" in d);
}

/** Where the walk of each dataset stands: its shuffled order and the next position in it. */
export interface DatasetWalk {
  rows: number;
  order: number[];
  next: number;
}

/** The data as a list of datasets in task order (one shared dataset: a list of one), checked. */
export function checkTrainingData(
  where: string,
  model: MultiTaskModel,
  tasks: Task[],
  data: TrainingData,
  what: string,
  sampler: TaskSampler | undefined,
  rule: UpdateRule,
  dataWhere = where,
): MultiTaskData[] {
  if (!isPerTask(data)) {
    if (sampler) {
      throw new MtlError(
        where,
        `option 'sampler' (${sampler.name}) draws one task per step from one dataset per task, but ${what} is one dataset for all tasks; ` +
          "pass { [task]: dataset } (one dataset per task), or drop the sampler.",
      );
    }
    checkModelData(where, model, tasks, data, what, dataWhere);
    checkLabelled(where, data, tasks, what);
    return [data];
  }
  check(data !== null && typeof data === "object", where, () => `${what} must be a dataset, or one dataset per task name.`);
  for (const name of Object.keys(data)) {
    check(
      tasks.some((t) => t.name === name),
      where,
      () => `${what} has a dataset for '${name}', which is not one of the tasks (${tasks.map((t) => t.name).join(", ")}).`,
    );
  }
  if (rule.kind === "aggregated" && rule.level === "rep") {
    throw new MtlError(
      where,
      `option 'aggregator' (${rule.aggregator.name}) at level "rep" needs one representation z for all tasks, but ${what} is one dataset per task (each task's batch has its own z); ` +
        'use level "param", or train on one dataset.',
    );
  }
  return tasks.map((task) => {
    const d = data[task.name];
    check(d !== undefined, where, () => `task '${task.name}' has no dataset; ${what} must give one per task.`);
    checkDataWidth(where, model, d, `the dataset of task '${task.name}'`);
    validateForTasks(d, [task], dataWhere);
    checkLabelled(where, d, [task], `the dataset of task '${task.name}'`);
    return d;
  });
}

export function newWalk(rng: Rng, rows: number, shuffle: boolean): DatasetWalk {
  return { rows, order: shuffle ? Array.from(rng.permutation(rows)) : Array.from({ length: rows }, (_, i) => i), next: 0 };
}

/** The next `size` rows of a walk; a walk that runs out starts a new shuffled pass (counted in `passes`). */
export function takeRows(
  walk: DatasetWalk,
  size: number,
  renew: () => DatasetWalk,
  onPass: () => void,
): { indices: Int32Array; walk: DatasetWalk } {
  const end = Math.min(walk.next + size, walk.rows);
  const indices = Int32Array.from(walk.order.slice(walk.next, end));
  walk.next = end;
  if (walk.next >= walk.rows) {
    onPass();
    return { indices, walk: renew() };
  }
  return { indices, walk };
}

/** Tensors for one step: one input per trained task's dataset (or the one shared input). */
export function stepBatch(datasets: MultiTaskData[], tasks: Task[], perTask: boolean, picks: Array<Int32Array | undefined>): StepBatch {
  if (!perTask) {
    const { x, targets } = batchTensors(datasets[0], tasks, picks[0]!);
    return withLabelMasks(
      { xs: [x], targets, part: tasks.map(() => 0) },
      tasks.map(() => datasets[0]),
      tasks,
      tasks.map(() => picks[0]),
    );
  }
  const xs: tf.Tensor2D[] = [];
  const targets: Array<tf.Tensor | undefined> = [];
  const part: number[] = [];
  tasks.forEach((task, i) => {
    const rows = picks[i];
    if (!rows) {
      targets.push(undefined);
      part.push(-1);
      return;
    }
    const b = batchTensors(datasets[i], [task], rows);
    part.push(xs.length);
    xs.push(b.x);
    targets.push(b.targets[0]);
  });
  return withLabelMasks(
    { xs, targets, part },
    datasets,
    tasks,
    tasks.map((_, i) => picks[i]),
  );
}

export function disposeBatch(batch: StepBatch): void {
  const defined = (t: tf.Tensor | undefined): t is tf.Tensor => t !== undefined;
  tf.dispose([...batch.xs, ...batch.targets.filter(defined), ...(batch.rows ?? []).filter(defined)]);
}
