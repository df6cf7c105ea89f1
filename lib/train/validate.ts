/**
 * The one check of model ↔ tasks ↔ data that every path runs before it trains, evaluates or
 * predicts (Trainer on any architecture, update rule and batch source, its fused native step, evaluate,
 * predict), so a mismatch is an MtlError naming the culprit up front instead of a native RangeError,
 * a tfjs matMul error or, worse, a run that trains silently on the wrong shapes:
 * - the model is an mtlkit model and none of its variables was disposed;
 * - the tasks are the model's tasks, by name, in its order;
 * - each task's head outputs exactly the task's `outputUnits` (its class count, label count or
 *   regression width), found once per model by a one-row forward pass (only shapes are read);
 * - the data has the model's input width (and its named inputs, by name, shape and kind), at least
 *   one row, and valid targets for every task.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { checkDataset, MultiTaskData, validateForTasks } from "../data/dataset";
import { checkInputsMatch } from "../data/inputs";
import { check, MtlError } from "../errors";
import { Task } from "../tasks/task";

export type NonFinitePolicy = "stop" | "skip";

/** The `onNonFinite` option resolved once: "stop" by default, anything else but "skip" refused. */
export function nonFinitePolicy(where: string, value: unknown): NonFinitePolicy {
  const policy = value ?? "stop";
  check(
    policy === "stop" || policy === "skip",
    where,
    () => `option 'onNonFinite' must be "stop" or "skip", got ${JSON.stringify(value)}.`,
  );
  return policy;
}

/** Refuses anything that is not an mtlkit model, and a model whose variables were disposed. */
export function checkModelUsable(where: string, model: unknown): asserts model is MultiTaskModel {
  const m = model as MultiTaskModel;
  check(
    m !== null && typeof m === "object" && typeof m.forward === "function" && Array.isArray(m.taskNames),
    where,
    () => "option 'model' must be an mtlkit model (e.g. mtl.hardSharing({...})).",
  );
  const disposed = m.namedVariables().find(([, v]) => v.isDisposed);
  if (disposed) {
    throw new MtlError(
      where,
      `the model was disposed (its variable '${disposed[0]}' is gone); build a new model, or load one from a checkpoint, before training or evaluating.`,
    );
  }
}

/** Head widths per model, probed once: a model's architecture does not change after it is built. */
const headWidths = new WeakMap<MultiTaskModel, number[]>();

function probeHeadWidths(where: string, model: MultiTaskModel): number[] {
  let widths = headWidths.get(model);
  if (widths) return widths;
  try {
    widths = tf.tidy(() => model.forward(tf.zeros([1, model.inputSize]) as tf.Tensor2D, false).map((o) => o.shape[o.shape.length - 1]));
  } catch (e) {
    throw new MtlError(
      where,
      `the model (${model.architecture}, inputSize ${model.inputSize}) fails on one row of ${model.inputSize} zeros: ${(e as Error).message}`,
    );
  }
  headWidths.set(model, widths);
  return widths;
}

/** Model ↔ tasks: usable model, same tasks in the same order, each head as wide as its task needs. */
export function checkModelTasks(where: string, model: MultiTaskModel, tasks: readonly Task[]): void {
  checkModelUsable(where, model);
  check(
    Array.isArray(tasks) && tasks.length > 0 && tasks.every((t) => t && typeof t.name === "string"),
    where,
    () => "option 'tasks' must list the model's tasks (made by mtl.tasks.*).",
  );
  const names = tasks.map((t) => t.name);
  check(
    names.length === model.taskNames.length && names.every((n, i) => n === model.taskNames[i]),
    where,
    () => `option 'tasks' (${names.join(", ")}) must be the model's tasks in its order (${model.taskNames.join(", ")}).`,
  );
  const widths = probeHeadWidths(where, model);
  check(widths.length === tasks.length, where, () => `the model gives ${widths.length} outputs for ${tasks.length} tasks.`);
  tasks.forEach((task, i) => {
    if (widths[i] !== task.outputUnits) {
      throw new MtlError(
        where,
        `the model's head for task '${task.name}' outputs ${widths[i]} units but ${task.kind}('${task.name}') needs ${task.outputUnits}${unitsMeaning(task)}; ` +
          "build the model with these tasks (or pass the tasks the model was built with).",
      );
    }
  });
}

function unitsMeaning(task: Task): string {
  if (task.kind === "classification") return " (its class count)";
  if (task.kind === "multiLabel") return " (its label count)";
  if (task.kind === "regression") return " (its output count)";
  return "";
}

/**
 * Data ↔ model ↔ tasks: `what` names the data set in messages ("the training data", "the
 * validation set"), `dataWhere` is where a malformed dataset or target is reported. Checks the
 * model and tasks first, then the dataset's form, rows and input width, then the targets.
 */
export function checkModelData(
  where: string,
  model: MultiTaskModel,
  tasks: readonly Task[],
  data: MultiTaskData,
  what: string,
  dataWhere = where,
): void {
  checkModelTasks(where, model, tasks);
  checkDataWidth(where, model, data, what, dataWhere);
  validateForTasks(data, [...tasks], dataWhere);
}

/** Data ↔ model only: a dataset with at least one row, the model's named inputs if any, and its input width. */
export function checkDataWidth(where: string, model: MultiTaskModel, data: MultiTaskData, what: string, dataWhere = where): void {
  checkDataset(dataWhere, data);
  check(data.rows > 0, where, () => `${what} is empty (0 rows); it needs at least one row.`);
  checkInputsMatch(where, model.inputs, data.inputs, what, model.inputSize);
  check(
    data.featureCount === model.inputSize,
    where,
    () => `${what} has ${data.featureCount} features but the model takes ${model.inputSize} (its inputSize).`,
  );
}

/** A batch handed to a step directly (Trainer.trainStep): the model's input width and one target per task. */
export function checkBatch(
  where: string,
  model: MultiTaskModel,
  tasks: readonly Task[],
  x: tf.Tensor,
  targets: readonly tf.Tensor[],
): void {
  // Shapes by duck typing: a tensor from another copy of tfjs is not an instance of this one's class.
  check(
    x !== null && typeof x === "object" && Array.isArray(x.shape) && x.shape.length === 2 && x.shape[1] === model.inputSize,
    where,
    () => `the batch x must be [rows, ${model.inputSize}] (the model's inputSize), got [${x?.shape?.join(", ")}].`,
  );
  check(
    Array.isArray(targets) && targets.length === tasks.length,
    where,
    () => `expected ${tasks.length} target tensors (one per task: ${tasks.map((t) => t.name).join(", ")}), got ${targets?.length}.`,
  );
  targets.forEach((t, i) =>
    check(
      t !== null && typeof t === "object" && Array.isArray(t.shape) && t.shape[0] === x.shape[0],
      where,
      () => `the targets of task '${tasks[i].name}' have ${t?.shape?.[0]} rows but x has ${x.shape[0]}.`,
    ),
  );
}
