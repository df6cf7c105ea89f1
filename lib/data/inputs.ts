/**
 * Named inputs: a dataset may hold several inputs side by side (an image, a text, a table), each
 * with a name, a per-row shape and a kind. They are stored as ONE flat feature matrix, the inputs'
 * columns one after the other in the order of `inputs` (input i occupies the columns
 * [offset_i, offset_i + size_i), size_i = the product of its shape; an image row is row-major
 * H×W×C), so batching, splitting, subsets, samplers and checkpoints handle them unchanged; what
 * the names add is that a model takes each input by name (an encoder per input, see
 * lib/architectures/namedInputs.ts) and that every mismatch between a model's inputs and a
 * dataset's is an MtlError naming the input.
 *
 * Kinds: "numeric" (any finite numbers; standardised by fitStandardizer) and "tokens" (token ids,
 * whole numbers ≥ 0, 0 = padding; never standardised, read by a text encoder's embedding).
 */
import { check, MtlError } from "../errors";
import type { MultiTaskData } from "./dataset";

/** What kind of values an input holds. */
export type InputKind = "numeric" | "tokens";

/** One named input: its name, the shape of one row (e.g. [28, 28, 1], [T], [d]) and its kind. */
export interface NamedInput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: InputKind;
}

/**
 * One input's values as given to `fromArrays({ inputs })`: rows of numbers (shape [d], numeric),
 * or flat values row by row with the shape of one row (and the kind; default "numeric").
 */
export type InputArray =
  | ArrayLike<number>[]
  | {
      values: ArrayLike<number>;
      shape: number[];
      kind?: InputKind;
      /** Names of the columns of a [d] input (default `<input>.<j>`). */
      names?: string[];
    };

/** The number of columns an input occupies: the product of its shape. */
export function inputSize(spec: NamedInput): number {
  return spec.shape.reduce((a, b) => a * b, 1);
}

/** Each input's first column in the flat feature matrix, in the order of `specs`. */
export function inputOffsets(specs: readonly NamedInput[]): number[] {
  const out: number[] = [];
  let offset = 0;
  for (const s of specs) {
    out.push(offset);
    offset += inputSize(s);
  }
  return out;
}

/** "image [28×28×1]", "text [20] tokens": an input in words for messages. */
export function describeInput(spec: NamedInput): string {
  return `${spec.name} [${spec.shape.join("×")}]${spec.kind === "tokens" ? " tokens" : ""}`;
}

/** The inputs in words: "image [28×28×1], table [8]". */
export function describeInputs(specs: readonly NamedInput[]): string {
  return specs.map(describeInput).join(", ");
}

/** Refuses a malformed input list: names unique and non-empty, shapes of positive integers, a known kind. */
export function checkNamedInputs(where: string, specs: unknown): asserts specs is NamedInput[] {
  check(
    Array.isArray(specs) && specs.length > 0,
    where,
    () => "named inputs must be a non-empty list of { name, shape, kind } (e.g. a dataset's 'inputs').",
  );
  const seen = new Set<string>();
  for (const s of specs as NamedInput[]) {
    check(
      s !== null && typeof s === "object" && typeof s.name === "string" && s.name.length > 0,
      where,
      () => `every input needs a name (a non-empty string), got ${JSON.stringify(s)}.`,
    );
    check(!seen.has(s.name), where, () => `input '${s.name}' is named twice; input names must be unique.`);
    seen.add(s.name);
    check(
      Array.isArray(s.shape) && s.shape.length > 0 && s.shape.every((d) => Number.isInteger(d) && d > 0),
      where,
      () => `input '${s.name}' has shape ${JSON.stringify(s.shape)}; a row's shape is a list of positive integers (e.g. [28, 28, 1]).`,
    );
    check(
      s.kind === "numeric" || s.kind === "tokens",
      where,
      () => `input '${s.name}' has kind ${JSON.stringify(s.kind)}; it must be "numeric" or "tokens".`,
    );
  }
}

/** The flat features, layout and names that `fromArrays({ inputs })` builds. */
export interface PackedInputs {
  rows: number;
  features: Float32Array;
  featureNames: string[];
  inputs: NamedInput[];
}

/**
 * Packs named inputs into one flat feature matrix (see the module comment), checking each input's
 * form and values, and that all inputs have the same number of rows; errors name the input.
 */
export function packInputs(where: string, given: Record<string, InputArray>): PackedInputs {
  check(
    given !== null && typeof given === "object" && !Array.isArray(given) && Object.keys(given).length > 0,
    where,
    () => "option 'inputs' must map input names to arrays, e.g. { image: { values, shape: [28, 28, 1] }, table: rows }.",
  );
  const parts = Object.entries(given).map(([name, value]) => readInput(where, name, value));
  const first = parts[0];
  for (const p of parts) {
    check(
      p.rows === first.rows,
      where,
      () =>
        `input '${p.spec.name}' has ${p.rows} rows but input '${first.spec.name}' has ${first.rows}; every input needs one row per example.`,
    );
  }
  const rows = first.rows;
  check(rows > 0, where, () => `input '${first.spec.name}' has no rows.`);
  const featureCount = parts.reduce((s, p) => s + p.size, 0);
  const features = new Float32Array(rows * featureCount);
  let offset = 0;
  for (const p of parts) {
    for (let r = 0; r < rows; r++) {
      const o = r * featureCount + offset;
      for (let j = 0; j < p.size; j++) features[o + j] = p.value(r, j);
    }
    checkInputValues(where, p.spec, features, featureCount, offset, rows);
    offset += p.size;
  }
  return { rows, features, featureNames: parts.flatMap((p) => p.names), inputs: parts.map((p) => p.spec) };
}

interface ReadInput {
  spec: NamedInput;
  rows: number;
  size: number;
  names: string[];
  value(row: number, column: number): number;
}

function readInput(where: string, name: string, given: InputArray): ReadInput {
  check(
    given !== null && typeof given === "object",
    where,
    () => `input '${name}' must be rows of numbers or { values, shape }, got ${given === null ? "null" : typeof given}.`,
  );
  if (Array.isArray(given)) {
    const rowsOf = given as ArrayLike<number>[];
    const size = rowsOf[0]?.length ?? 0;
    check(rowsOf.length > 0 && size > 0, where, () => `input '${name}' has no rows, or its row 0 has no values.`);
    for (let r = 0; r < rowsOf.length; r++) {
      check(
        rowsOf[r] !== null && typeof rowsOf[r] === "object" && rowsOf[r].length === size,
        where,
        () => `row ${r} of input '${name}' has ${rowsOf[r]?.length} values; row 0 has ${size}.`,
      );
    }
    const spec: NamedInput = { name, shape: [size], kind: "numeric" };
    return { spec, rows: rowsOf.length, size, names: defaultNames(name, size), value: (r, j) => numberAt(where, name, rowsOf[r][j], r, j) };
  }
  const { values, shape } = given;
  const kind = given.kind ?? "numeric";
  const spec: NamedInput = { name, shape: Array.isArray(shape) ? [...shape] : shape, kind };
  checkNamedInputs(where, [spec]);
  check(
    values !== null && values !== undefined && typeof values.length === "number",
    where,
    () => `input '${name}' needs 'values': its numbers row by row (an array or typed array).`,
  );
  const size = inputSize(spec);
  check(
    values.length % size === 0,
    where,
    () => `input '${name}' has ${values.length} values, not a multiple of its row shape ${shape.join("×")} (${size} values per row).`,
  );
  const names = given.names ?? defaultNames(name, size);
  check(
    Array.isArray(names) && names.length === size,
    where,
    () => `input '${name}' has ${names?.length} column names for ${size} columns.`,
  );
  return { spec, rows: values.length / size, size, names, value: (r, j) => numberAt(where, name, values[r * size + j], r, j) };
}

function defaultNames(input: string, size: number): string[] {
  return Array.from({ length: size }, (_, j) => `${input}.${j}`);
}

function numberAt(where: string, input: string, v: unknown, row: number, column: number): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  throw new MtlError(
    where,
    `input '${input}' is ${v === undefined ? "undefined" : JSON.stringify(v)} at row ${row}, value ${column}, not a number.`,
  );
}

/** Numeric inputs must be finite; token inputs whole numbers ≥ 0. */
function checkInputValues(
  where: string,
  spec: NamedInput,
  features: Float32Array,
  featureCount: number,
  offset: number,
  rows: number,
): void {
  const size = inputSize(spec);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < size; j++) {
      const v = features[r * featureCount + offset + j];
      if (!Number.isFinite(v))
        throw new MtlError(
          where,
          `input '${spec.name}' is ${v} at row ${r}, value ${j}; values must be finite (drop or impute missing values first).`,
        );
      if (spec.kind === "tokens" && !(Number.isInteger(v) && v >= 0)) {
        throw new MtlError(
          where,
          `input '${spec.name}' holds token ids but has ${v} at row ${r}, position ${j}; token ids are whole numbers ≥ 0 (0 = padding).`,
        );
      }
    }
  }
}

/** A dataset's inputs agree with its feature matrix (checked by checkDataset). */
export function inputsLayoutProblem(data: MultiTaskData): string | undefined {
  if (data.inputs === undefined) return undefined;
  try {
    checkNamedInputs("dataset", data.inputs);
  } catch (e) {
    return (e as Error).message;
  }
  const total = data.inputs.reduce((s, spec) => s + inputSize(spec), 0);
  if (total !== data.featureCount)
    return `its inputs (${describeInputs(data.inputs)}) take ${total} columns but it has ${data.featureCount} features`;
  return undefined;
}

/**
 * The dataset with only the inputs `names`, in that order (for a model that takes fewer inputs, or
 * in another order). Everything else (targets, rows) is kept; the features are copied.
 */
export function selectInputs<D extends MultiTaskData>(data: D, names: readonly string[]): D {
  const where = "selectInputs";
  const specs = data?.inputs;
  check(specs !== undefined, where, () => "the dataset has no named inputs (it holds one unnamed feature matrix).");
  check(Array.isArray(names) && names.length > 0, where, () => "give the names of the inputs to keep (at least one).");
  check(new Set(names).size === names.length, where, () => `input names are repeated in ${JSON.stringify(names)}.`);
  const offsets = inputOffsets(specs);
  const picks = names.map((name) => {
    const i = specs.findIndex((s) => s.name === name);
    check(i >= 0, where, () => `the dataset has no input '${name}'; it has ${describeInputs(specs)}.`);
    return { spec: specs[i], offset: offsets[i], size: inputSize(specs[i]) };
  });
  const featureCount = picks.reduce((s, p) => s + p.size, 0);
  const features = new Float32Array(data.rows * featureCount);
  for (let r = 0; r < data.rows; r++) {
    let o = r * featureCount;
    for (const p of picks) {
      features.set(data.features.subarray(r * data.featureCount + p.offset, r * data.featureCount + p.offset + p.size), o);
      o += p.size;
    }
  }
  const featureNames = picks.flatMap((p) => data.featureNames.slice(p.offset, p.offset + p.size));
  return { ...data, features, featureCount, featureNames, inputs: picks.map((p) => p.spec) };
}

/**
 * Which statistics group each feature column is standardised with (-1: left as it is). Without
 * named inputs every column is its own group (per-feature standardisation). With named inputs,
 * each numeric input is standardised over its last axis: per column for a [d] table, per channel
 * for an [H, W, C] image (one mean and deviation over all pixels of a channel); token inputs are
 * left as they are (ids are not magnitudes).
 */
export function standardizationGroups(data: MultiTaskData): { groups: Int32Array; count: number } {
  const groups = new Int32Array(data.featureCount);
  if (data.inputs === undefined) {
    groups.forEach((_, c) => (groups[c] = c));
    return { groups, count: data.featureCount };
  }
  let offset = 0;
  let count = 0;
  for (const spec of data.inputs) {
    const size = inputSize(spec);
    const last = spec.shape[spec.shape.length - 1];
    for (let j = 0; j < size; j++) groups[offset + j] = spec.kind === "tokens" ? -1 : count + (j % last);
    if (spec.kind !== "tokens") count += last;
    offset += size;
  }
  return { groups, count };
}

/**
 * A model's inputs against a dataset's: the same names, shapes and kinds, in the same order, or an
 * MtlError naming the input (an input the model does not know, one it needs that the data lacks, a
 * shape or kind that differs, or another order). `what` names the data ("the training data").
 */
export function checkInputsMatch(
  where: string,
  model: readonly NamedInput[] | undefined,
  data: readonly NamedInput[] | undefined,
  what: string,
  modelInputSize: number,
): void {
  if (model === undefined && data === undefined) return;
  if (model === undefined) {
    throw new MtlError(
      where,
      `${what} has named inputs (${describeInputs(data!)}) but the model takes one unnamed input of ${modelInputSize} features; ` +
        "build the model with 'inputs' (e.g. data.inputs) and an encoder per input (docs/multimodal.md), or select one input's columns with mtl.data.selectInputs.",
    );
  }
  if (data === undefined) {
    throw new MtlError(
      where,
      `the model takes named inputs (${describeInputs(model)}) but ${what} has one unnamed feature matrix; ` +
        "build the data with mtl.fromArrays({ inputs: { name: values } }) or mtl.fromDataFrame({ features: { name: columns } }).",
    );
  }
  for (const d of data) {
    check(
      model.some((m) => m.name === d.name),
      where,
      () =>
        `input '${d.name}' of ${what} is not an input the model knows (it takes ${describeInputs(model)}); drop it with mtl.data.selectInputs(data, [${model.map((m) => JSON.stringify(m.name)).join(", ")}]).`,
    );
  }
  for (const m of model) {
    const d = data.find((s) => s.name === m.name);
    check(
      d !== undefined,
      where,
      () => `the model needs input '${m.name}' (${describeInput(m)}), which ${what} lacks (it has ${describeInputs(data)}).`,
    );
    check(
      d.kind === m.kind && d.shape.length === m.shape.length && d.shape.every((n, i) => n === m.shape[i]),
      where,
      () => `input '${m.name}' is ${describeInput(d)} in ${what} but ${describeInput(m)} in the model.`,
    );
  }
  check(
    model.every((m, i) => data[i].name === m.name),
    where,
    () =>
      `${what} holds its inputs in the order ${data.map((s) => s.name).join(", ")} but the model in the order ${model.map((s) => s.name).join(", ")}; ` +
      `reorder them with mtl.data.selectInputs(data, [${model.map((m) => JSON.stringify(m.name)).join(", ")}]).`,
  );
}
