/**
 * Rebuilds a model from its description and weights, with no file system: `mtl.loadModel` uses it
 * after reading and verifying the files, and the exported web page runs the same code in the browser.
 */
import * as tf from "@tensorflow/tfjs";
import { crossStitch } from "../architectures/crossStitch";
import { hardSharing } from "../architectures/hardSharing";
import { mmoe } from "../architectures/mmoe";
import { cgc, ple } from "../architectures/ple";
import { softSharing } from "../architectures/softSharing";
import type { BaseModel } from "../architectures/types";
import { check, MtlError } from "../errors";
import { cnnEncoder } from "../layers/cnnEncoder";
import { positionwiseHead } from "../layers/positionwise";
import { textEncoder } from "../layers/textEncoder";
import { binary } from "../tasks/binary";
import { boundingBox } from "../tasks/boundingBox";
import { classification } from "../tasks/classification";
import { multiLabel } from "../tasks/multiLabel";
import { regression } from "../tasks/regression";
import { sequenceTagging } from "../tasks/sequenceTagging";
import { Json, ModelDescription } from "./describe";
import { checkInputSpec } from "./inputs";

/** A factory of any signature (never[] parameters accept every function). */
type Factory = (...args: never[]) => unknown;
/** A factory called with the saved description's arguments; each factory checks them itself (MtlError). */
type SavedCall = (...args: unknown[]) => unknown;

const ARCHITECTURES = new Map<string, Factory>(Object.entries({ hardSharing, softSharing, crossStitch, mmoe, cgc, ple }));
const TASKS = new Map<string, Factory>(Object.entries({ classification, binary, multiLabel, regression, boundingBox, sequenceTagging }));
const BLOCKS = new Map<string, Factory>(Object.entries({ cnnEncoder, textEncoder, positionwiseHead }));

function factory(where: string, table: Map<string, Factory>, what: string, name: unknown): SavedCall {
  const f = typeof name === "string" ? table.get(name) : undefined;
  if (!f)
    throw new MtlError(
      where,
      `unknown ${what} '${String(name)}' (this mtlkit knows ${[...table.keys()].join(", ")}); was the model saved by a newer mtlkit?`,
    );
  return f as SavedCall;
}

/** Turns a described option value back into live values: tasks and blocks are made by their factories. */
export function reviveValue(where: string, value: Json): unknown {
  if (Array.isArray(value)) return value.map((v) => reviveValue(where, v));
  if (value === null || typeof value !== "object") return value;
  if ("$task" in value) {
    const t = value.$task as { factory: string; name: string; options: Json };
    return factory(where, TASKS, "task kind", t?.factory)(t.name, reviveValue(where, t.options));
  }
  if ("$block" in value) {
    const b = value.$block as { factory: string; options: Json };
    return factory(where, BLOCKS, "block", b?.factory)(reviveValue(where, b.options));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = reviveValue(where, v);
  return out;
}

/** Checks the parts of a description the rebuild relies on. */
export function checkDescription(where: string, d: unknown): asserts d is ModelDescription {
  check(d !== null && typeof d === "object", where, () => "the file has no model description ('model').");
  const m = d as Partial<ModelDescription>;
  check(typeof m.architecture === "string", where, () => "the model description has no 'architecture'.");
  check(
    m.options !== null && typeof m.options === "object" && !Array.isArray(m.options),
    where,
    () => "the model description has no 'options' object.",
  );
  check(
    Array.isArray(m.variables) && m.variables.every((v) => v && typeof v.name === "string" && Array.isArray(v.shape)),
    where,
    () => "the model description's 'variables' must list each variable's name and shape.",
  );
  checkInputSpec(where, m.inputs);
}

/**
 * Builds the described model (fresh variables) and checks that its variables are the described
 * ones: a description whose options do not build the listed variables is a mismatched architecture.
 */
export function buildDescribed(where: string, description: ModelDescription): BaseModel {
  checkDescription(where, description);
  const make = factory(where, ARCHITECTURES, "architecture", description.architecture);
  const model = make(reviveValue(where, description.options)) as BaseModel;
  try {
    const built = model.namedVariables();
    const byName = new Map(built.map(([n, v]) => [n, v.shape]));
    for (const { name, shape } of description.variables) {
      const own = byName.get(name);
      if (!own)
        throw new MtlError(
          where,
          `the description lists variable '${name}', which the ${description.architecture} architecture built from its options does not have.`,
        );
      if (own.length !== shape.length || own.some((d, i) => d !== shape[i])) {
        throw new MtlError(
          where,
          `variable '${name}' is [${shape}] in the description but [${own}] in the ${description.architecture} architecture built from its options.`,
        );
      }
    }
    const listed = new Set(description.variables.map((v) => v.name));
    const missing = built.find(([n]) => !listed.has(n));
    if (missing)
      throw new MtlError(
        where,
        `the ${description.architecture} architecture built from the options has variable '${missing[0]}', which the description does not list.`,
      );
    model.adoptInputSpec(description.inputs);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Assigns decoded weights to the model's variables, checking that every variable gets exactly one
 * weight of its shape (the weights file and the architecture must agree) before assigning any.
 */
export function assignWeights(where: string, model: BaseModel, weights: tf.NamedTensorMap): void {
  const variables = model.namedVariables();
  const names = new Set(variables.map(([n]) => n));
  for (const name of Object.keys(weights)) {
    check(names.has(name), where, () => `the weights hold '${name}', which the model has no variable for (mismatched architecture).`);
  }
  for (const [name, v] of variables) {
    const w = weights[name];
    check(w !== undefined, where, () => `the weights hold no value for variable '${name}' (mismatched architecture).`);
    check(
      w.dtype === "float32" && w.shape.length === v.shape.length && w.shape.every((d, i) => d === v.shape[i]),
      where,
      () => `variable '${name}' is [${v.shape}] float32 in the model but [${w.shape}] ${w.dtype} in the weights (mismatched architecture).`,
    );
  }
  for (const [name, v] of variables) v.assign(weights[name]);
}

/** Rebuilds a model from its description and its weights (as `tf.io.decodeWeights` returns them). */
export function modelFromParts(where: string, description: ModelDescription, weights: tf.NamedTensorMap): BaseModel {
  const model = buildDescribed(where, description);
  try {
    assignWeights(where, model, weights);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
