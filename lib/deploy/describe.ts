/**
 * The architecture description of a saved model: the architecture's factory name and the options
 * it was built from, written as JSON. Values that are not plain data are written as a record of the
 * factory call that made them: a task as `{ "$task": { factory, name, options } }`, one of mtlkit's
 * encoder or head blocks as `{ "$block": { factory, options } }`. Anything else (a user's function
 * block, a tf.LayersModel, a custom task) cannot be described, and saving says which option holds it.
 * Task names never start with "$" (see TASK_NAME_PATTERN), so these keys never clash with options
 * keyed by task name.
 */
import * as tf from "@tensorflow/tfjs";
import type { BaseModel } from "../architectures/types";
import { check, MtlError } from "../errors";
import { blockSpecOf } from "../layers/spec";
import { taskSpecOf } from "../tasks/spec";
import type { Task } from "../tasks/task";
import { InputSpec } from "./inputs";

/** JSON data: what a saved model records its factory's options as ({@link ModelDescription.options}). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What a saved model's description holds. */
export interface ModelDescription {
  /** The architecture's factory: "hardSharing", "softSharing", "crossStitch", "mmoe", "cgc" or "ple". */
  architecture: string;
  /** What the model takes as input (see ./inputs). */
  inputs: InputSpec;
  /** The options the model was built from, with tasks and blocks as factory records. */
  options: Json;
  /** The tasks' names in order (also inside the options; listed for readers and checks). */
  tasks: string[];
  /** Every variable's name and shape, in `namedVariables()` order. */
  variables: Array<{ name: string; shape: number[] }>;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Writes an option value as JSON, or throws an MtlError naming the option that holds what cannot be described. */
export function describeValue(value: unknown, path: string): Json {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") {
    check(Number.isFinite(value), "save", () => `option '${path}' is ${value}; only finite numbers can be saved.`);
    return value;
  }
  if (typeof value === "function")
    throw new MtlError(
      "save",
      `option '${path}' is a function, which cannot be saved; build that part from layer sizes or mtlkit's encoders, or rebuild the model in code and load its weights with setWeights.`,
    );
  if (typeof value !== "object") throw new MtlError("save", `option '${path}' is a ${typeof value}, which cannot be saved.`);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, (v, i) => describeValue(v, `${path}[${i}]`));
  if (Array.isArray(value)) return value.map((v, i) => describeValue(v, `${path}[${i}]`));
  const task = taskSpecOf(value as Task);
  if (task)
    return {
      $task: { factory: task.factory, name: task.name, options: describeValue(task.options, `${path} (task '${task.name}') options`) },
    };
  const block = blockSpecOf(value);
  if (block) return { $block: { factory: block.factory, options: describeValue(block.options, `${path} options`) } };
  if (value instanceof tf.LayersModel) {
    throw new MtlError(
      "save",
      `option '${path}' is a tf.LayersModel, which mtlkit cannot describe; give layer sizes or an mtlkit encoder instead, or rebuild the model in code and load its weights with setWeights.`,
    );
  }
  if (typeof (value as { apply?: unknown }).apply === "function") {
    throw new MtlError(
      "save",
      `option '${path}' is a user function block ({ apply, variables, outputSize }), which cannot be described; give layer sizes or an mtlkit encoder (cnnEncoder, textEncoder, positionwiseHead) instead, or rebuild the model in code and load its weights with setWeights.`,
    );
  }
  if (value instanceof tf.Tensor) throw new MtlError("save", `option '${path}' is a tensor; give plain numbers instead.`);
  if ("name" in value && "loss" in value && "kind" in value) {
    throw new MtlError(
      "save",
      `task '${String((value as Task).name)}' (option '${path}') was not made by an mtl.tasks factory, so it cannot be described.`,
    );
  }
  check(
    isPlainObject(value),
    "save",
    () => `option '${path}' is a ${value.constructor?.name ?? "non-plain"} object, which cannot be saved.`,
  );
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    out[k] = describeValue(v, path ? `${path}.${k}` : k);
  }
  return out;
}

/** Describes `model` for saving; throws an MtlError naming what cannot be described. */
export function describeModel(model: BaseModel): ModelDescription {
  const options = model.constructionOptions();
  if (!options)
    throw new MtlError("save", `the ${model.architecture} model does not record the options it was built from, so it cannot be described.`);
  return {
    architecture: model.architecture,
    inputs: model.inputSpec(),
    options: describeValue(options, ""),
    tasks: [...model.taskNames],
    variables: model.namedVariables().map(([name, v]) => ({ name, shape: [...v.shape] })),
  };
}
