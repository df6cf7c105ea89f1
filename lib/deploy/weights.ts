/**
 * Reading and assigning a model's variables by name, in TensorFlow.js's layout or PyTorch's.
 *
 * mtlkit's layers keep tfjs's (Keras') layouts: a dense kernel W is [in, out] (y = x·W + b), a conv
 * filter [kh, kw, in, out]. PyTorch keeps nn.Linear's weight as [out, in] (y = x·Wᵀ + b), nn.Conv2d's
 * as [out, in, kh, kw] and nn.Conv1d's as [out, in, k]. `layout: "torch"` converts those; biases,
 * embedding tables ([V, d] in both) and cross-stitch α are the same in both.
 *
 * A square dense kernel (in = out) has the same shape in both layouts, so a shape check cannot tell
 * an untransposed PyTorch weight from a right one. Without an explicit `layout` such a variable is
 * refused; `layout: "tfjs"` takes it as given (the caller vouches for the layout).
 */
import * as tf from "@tensorflow/tfjs";
import { check, MtlError } from "../errors";
import type { MultiTaskModel } from "../architectures/types";

/** Which framework's layout weights are given or wanted in. */
export type WeightLayout = "tfjs" | "torch";

/** One variable's values, row-major, with its shape. */
export interface WeightValues {
  shape: number[];
  values: Float32Array;
}

/** Variables by name. */
export type NamedWeights = Record<string, WeightValues>;

/** A nested array of numbers (as `tensor.tolist()` in PyTorch gives). */
export type NestedNumbers = number | NestedNumbers[];

/** What `setWeights` accepts for one variable: a tensor, values with a shape, or nested arrays. */
export type WeightInput = tf.Tensor | { shape: number[]; values: ArrayLike<number> } | NestedNumbers[];

/** Options of `model.getWeights(options)`. */
export interface GetWeightsOptions {
  /** The layout to return kernels in (default "tfjs"). */
  layout?: WeightLayout;
}

/** Options of `model.setWeights(named, options)`, e.g. `{ layout: "torch" }` for weights from PyTorch. */
export interface SetWeightsOptions {
  /**
   * The layout the weights are given in. Default: tfjs's, except that a variable whose shape is
   * the same in both layouts (a square dense kernel) is refused until the layout is said.
   */
  layout?: WeightLayout;
}

/** How a variable converts between the layouts, from its name and shape. */
type Role = "denseKernel" | "conv2dFilter" | "other";

function roleOf(name: string, shape: readonly number[]): Role {
  if (shape.length === 2 && /[./]kernel$/.test(name)) return "denseKernel";
  if (shape.length === 4 && /\.filter$/.test(name)) return "conv2dFilter";
  return "other";
}

/** The shape of a variable in PyTorch's layout. */
function torchShape(role: Role, shape: readonly number[]): number[] {
  if (role === "denseKernel") return [shape[1], shape[0]];
  if (role === "conv2dFilter") return [shape[3], shape[2], shape[0], shape[1]];
  return [...shape];
}

/** Converts a tensor in PyTorch's layout to the variable's (tfjs) layout. */
function fromTorch(role: Role, t: tf.Tensor, target: readonly number[]): tf.Tensor {
  if (role === "denseKernel") return tf.transpose(t);
  if (role === "conv2dFilter") {
    // nn.Conv1d's [out, in, k] for a 1 × k filter (the text encoder's convolutions).
    if (t.rank === 3 && target[0] === 1) return tf.reshape(tf.transpose(t, [2, 1, 0]), [...target]);
    return tf.transpose(t, [2, 3, 1, 0]);
  }
  return t.clone();
}

/** Converts a variable's value to PyTorch's layout. */
function toTorch(role: Role, t: tf.Tensor): tf.Tensor {
  if (role === "denseKernel") return tf.transpose(t);
  if (role === "conv2dFilter") return tf.transpose(t, [3, 2, 0, 1]);
  return t.clone();
}

function checkLayout(where: string, layout: unknown): asserts layout is WeightLayout | undefined {
  check(
    layout === undefined || layout === "tfjs" || layout === "torch",
    where,
    () => `option 'layout' must be "tfjs" or "torch", got ${JSON.stringify(layout)}.`,
  );
}

/** The model's variables by name, refusing a model whose names are not unique. */
export function variablesByName(where: string, model: MultiTaskModel): Map<string, tf.Variable> {
  const byName = new Map<string, tf.Variable>();
  for (const [name, v] of model.namedVariables()) {
    check(
      !byName.has(name),
      where,
      () => `the model has two variables named '${name}'; names must be unique to save or assign weights by name.`,
    );
    byName.set(name, v);
  }
  return byName;
}

/** Every variable's values by name (copies), kernels in `layout`. */
export async function getWeights(model: MultiTaskModel, options: GetWeightsOptions = {}): Promise<NamedWeights> {
  const where = "getWeights";
  checkLayout(where, options.layout);
  const out: NamedWeights = {};
  for (const [name, v] of variablesByName(where, model)) {
    const role = options.layout === "torch" ? roleOf(name, v.shape) : "other";
    const t = role === "other" ? v : toTorch(role, v);
    try {
      out[name] = { shape: [...t.shape], values: Float32Array.from(await t.data()) };
    } finally {
      if (t !== v) t.dispose();
    }
  }
  return out;
}

/** A tensor from one `setWeights` entry (a new tensor the caller disposes), or an MtlError naming the variable. */
function inputTensor(where: string, name: string, input: WeightInput): tf.Tensor {
  if (input instanceof tf.Tensor) {
    check(!input.isDisposed, where, () => `the tensor given for variable '${name}' is disposed.`);
    return tf.cast(input, "float32");
  }
  if (input && !Array.isArray(input) && typeof input === "object" && "shape" in input) {
    const { shape, values } = input;
    check(
      Array.isArray(shape) && shape.every((d) => Number.isInteger(d) && d >= 0),
      where,
      () => `variable '${name}': 'shape' must be a list of non-negative integers, got ${JSON.stringify(shape)}.`,
    );
    const size = shape.reduce((a, b) => a * b, 1);
    check(
      values && typeof values.length === "number" && values.length === size,
      where,
      () => `variable '${name}': shape [${shape}] needs ${size} values, got ${values?.length}.`,
    );
    const data = Float32Array.from(values);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    check(bad < 0, where, () => `variable '${name}': value ${bad} is ${data[bad]}; weights must be finite numbers.`);
    return tf.tensor(data, shape, "float32");
  }
  if (Array.isArray(input)) {
    const shape: number[] = [];
    const values: number[] = [];
    const irregular = (why: string) => new MtlError(where, `variable '${name}': the nested arrays are not a regular tensor (${why}).`);
    const walk = (a: NestedNumbers, depth: number, path: string): void => {
      if (Array.isArray(a)) {
        if (depth === shape.length) {
          if (values.length > 0) throw irregular(`${path} is an array where a number was expected`);
          shape.push(a.length);
        }
        if (shape[depth] !== a.length)
          throw irregular(`${path || "the top level"} has ${a.length} entries where ${shape[depth]} were expected`);
        a.forEach((v, i) => walk(v, depth + 1, `${path}[${i}]`));
        return;
      }
      if (depth !== shape.length) throw irregular(`${path} is a number where an array was expected`);
      check(
        typeof a === "number" && Number.isFinite(a),
        where,
        () => `variable '${name}': ${path} is ${String(a)}; weights must be finite numbers.`,
      );
      values.push(a);
    };
    walk(input, 0, "");
    check(
      values.length === shape.reduce((x, y) => x * y, 1),
      where,
      () => `variable '${name}': the nested arrays are not a regular tensor (some entries are numbers, others arrays).`,
    );
    return tf.tensor(values, shape, "float32");
  }
  throw new MtlError(where, `variable '${name}': expected a tensor, { shape, values } or nested arrays of numbers.`);
}

/**
 * Assigns variables by name. Every name and shape is checked before anything is assigned, so a
 * failing call leaves the model as it was. Variables not named keep their values.
 */
export function setWeights(model: MultiTaskModel, named: Record<string, WeightInput>, options: SetWeightsOptions = {}): void {
  const where = "setWeights";
  check(
    named !== null && typeof named === "object" && !Array.isArray(named),
    where,
    () => "expected an object of weights by variable name.",
  );
  checkLayout(where, options.layout);
  const byName = variablesByName(where, model);
  const ready: Array<[tf.Variable, tf.Tensor]> = [];
  try {
    for (const [name, input] of Object.entries(named)) {
      const variable = byName.get(name);
      if (!variable) {
        const known = [...byName.keys()];
        throw new MtlError(
          where,
          `the model has no variable '${name}'. Its variables: ${known.slice(0, 12).join(", ")}${known.length > 12 ? `, … (${known.length} in all)` : ""}.`,
        );
      }
      const role = roleOf(name, variable.shape);
      const tfShape = variable.shape;
      const ptShape = torchShape(role, tfShape);
      const sameInBoth = role !== "other" && ptShape.every((d, i) => d === tfShape[i]);
      if (options.layout === undefined && sameInBoth) {
        throw new MtlError(
          where,
          `variable '${name}' has shape [${tfShape}] in both tfjs's layout and PyTorch's, so its layout cannot be checked; pass { layout: "tfjs" } or { layout: "torch" }.`,
        );
      }
      const given = inputTensor(where, name, input);
      ready.push([variable, given]);
      const shapeIs = (s: readonly number[]) => given.shape.length === s.length && given.shape.every((d, i) => d === s[i]);
      if (options.layout === "torch" && role !== "other") {
        const conv1d = role === "conv2dFilter" && tfShape[0] === 1 ? ([tfShape[3], tfShape[2], tfShape[1]] as number[]) : undefined;
        if (!shapeIs(ptShape) && !(conv1d && shapeIs(conv1d))) {
          throw new MtlError(
            where,
            `variable '${name}' needs shape [${ptShape}] in PyTorch's layout${conv1d ? ` (or [${conv1d}] as nn.Conv1d)` : ""} (it is [${tfShape}] in tfjs's), got [${given.shape}].`,
          );
        }
        ready[ready.length - 1][1] = tf.tidy(() => fromTorch(role, given, tfShape));
        given.dispose();
      } else if (!shapeIs(tfShape)) {
        const hint = role !== "other" && shapeIs(ptShape) ? ` That is PyTorch's layout; pass { layout: "torch" }.` : "";
        throw new MtlError(where, `variable '${name}' has shape [${tfShape}], got [${given.shape}].${hint}`);
      }
    }
    for (const [variable, value] of ready) variable.assign(value);
  } finally {
    for (const [, value] of ready) value.dispose();
  }
}
