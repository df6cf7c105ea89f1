/**
 * A multi-task dataset: one feature matrix and, per task, a target array, row-aligned.
 * Built from plain arrays or from a danfo DataFrame (see fromDataFrame), split with a seed.
 * The feature matrix may hold several named inputs side by side (see ./inputs.ts).
 */
import * as tf from "@tensorflow/tfjs";
import { check, MtlError } from "../errors";
import { checkSeed, Rng } from "../random";
import { Task, TargetArray } from "../tasks/task";
import { checkMasks, LabelMasks, maskedTargets, subsetMasks } from "./masks";
import { InputArray, NamedInput, inputsLayoutProblem, packInputs, standardizationGroups } from "./inputs";

/** A multi-task dataset: one feature matrix and, per task, a row-aligned target array. */
export interface MultiTaskData {
  readonly rows: number;
  /** rows × featureCount, row by row. */
  readonly features: Float32Array;
  readonly featureCount: number;
  readonly featureNames: string[];
  /** Targets per task name. */
  readonly targets: Readonly<Record<string, TargetArray>>;
  /** Per task, which rows carry its label (1) and which do not (0); a task without one is labelled everywhere (./masks.ts). */
  readonly masks?: LabelMasks;
  /**
   * Named inputs (image, text, table…) whose columns lie side by side in `features`, in this order;
   * absent for a dataset with one unnamed input. See ./inputs.ts.
   */
  readonly inputs?: readonly NamedInput[];
}

/** Options of {@link fromArrays}. */
export interface FromArraysOptions {
  /** Features as rows of numbers, or a flat Float32Array with `featureCount` columns (one unnamed input). */
  x?: ArrayLike<number>[] | Float32Array;
  /**
   * Several named inputs instead of `x`, e.g. `{ image: { values, shape: [28, 28, 1] },
   * text: { values, shape: [T], kind: "tokens" }, table: rows }` (see ./inputs.ts).
   */
  inputs?: Record<string, InputArray>;
  featureCount?: number;
  featureNames?: string[];
  /** Targets per task: one number per row, or one array of numbers per row (multi-output). */
  targets: Record<string, ArrayLike<number>[] | ArrayLike<number>>;
  /** When given, every task must have targets and they are validated now, not at training time. */
  tasks?: Task[];
  /**
   * Missing labels (null, undefined or NaN targets): "refuse" (default) throws naming the task and
   * row; "mask" keeps the row and masks the task's label there (docs/missing-labels.md).
   */
  missingLabels?: "refuse" | "mask";
  /** Explicit label masks per task: one boolean or 0/1 per row (true/1 = labelled); the targets at unlabelled rows are ignored. */
  masks?: Record<string, ArrayLike<boolean | number>>;
}

/** Builds a dataset from plain arrays; every shape and value problem is reported up front. */
export function fromArrays(options: FromArraysOptions): MultiTaskData {
  const where = "fromArrays";
  check(options && typeof options === "object", where, () => "expected an options object { x, targets, tasks }.");
  check(
    (options.x === undefined) !== (options.inputs === undefined),
    where,
    () => "give the features either as 'x' (one input) or as 'inputs' (named inputs), not both and not neither.",
  );
  if (options.inputs !== undefined) return fromNamedInputs(options);
  const x = options.x!;
  let features: Float32Array;
  let rows: number;
  let featureCount: number;
  if (x instanceof Float32Array) {
    check(options.featureCount !== undefined, where, () => "a flat Float32Array 'x' needs 'featureCount'.");
    featureCount = options.featureCount;
    check(
      Number.isInteger(featureCount) && featureCount > 0 && x.length % featureCount === 0,
      where,
      () => `'x' has ${x.length} values, not a multiple of featureCount ${featureCount}.`,
    );
    rows = x.length / featureCount;
    features = x;
  } else {
    check(Array.isArray(x), where, () => `'x' must be an array of rows or a Float32Array, got ${typeof x}.`);
    rows = x.length;
    check(rows > 0, where, () => "'x' has no rows.");
    featureCount = x[0]?.length ?? 0;
    check(featureCount > 0, where, () => "row 0 of 'x' has no features.");
    features = new Float32Array(rows * featureCount);
  }
  const featureNames = options.featureNames ?? Array.from({ length: featureCount }, (_, i) => `x${i}`);
  check(
    Array.isArray(featureNames) && featureNames.length === featureCount,
    where,
    () => `'featureNames' has ${featureNames?.length} names for ${featureCount} features.`,
  );
  if (!(x instanceof Float32Array)) {
    for (let r = 0; r < rows; r++) {
      const row = x[r];
      check(row && row.length === featureCount, where, () => `row ${r} of 'x' has ${row?.length} features; row 0 has ${featureCount}.`);
      for (let c = 0; c < featureCount; c++) features[r * featureCount + c] = featureValue(where, row[c], featureNames[c], r);
    }
  }
  checkFiniteFeatures(where, features, featureCount, featureNames);

  check(options.targets && typeof options.targets === "object", where, () => "'targets' must map task names to arrays.");
  const missingLabels = options.missingLabels ?? "refuse";
  check(
    missingLabels === "refuse" || missingLabels === "mask",
    where,
    () => `option 'missingLabels' must be "refuse" or "mask", got ${JSON.stringify(missingLabels)}.`,
  );
  for (const name of Object.keys(options.masks ?? {})) {
    check(
      name in options.targets,
      where,
      () => `option 'masks' has a mask for '${name}', which has no targets (targets: ${Object.keys(options.targets).join(", ")}).`,
    );
  }
  const targets: Record<string, TargetArray> = {};
  const masks: Record<string, Uint8Array> = {};
  for (const [name, values] of Object.entries(options.targets)) {
    const given = options.masks?.[name];
    if (given === undefined && missingLabels === "refuse") {
      targets[name] = toTargetArray(where, name, values, rows);
      continue;
    }
    const masked = maskedTargets(where, name, values as ArrayLike<unknown>, rows, given);
    targets[name] = masked.target;
    masks[name] = masked.mask;
  }
  const data: MultiTaskData = { rows, features, featureCount, featureNames, targets, ...(Object.keys(masks).length > 0 ? { masks } : {}) };
  if (options.tasks) validateForTasks(data, options.tasks);
  return data;
}

/**
 * fromArrays with named inputs: packed side by side into one feature matrix (./inputs.ts), then
 * built as one input with every other option as given, and labelled with the inputs' specs.
 */
function fromNamedInputs(options: FromArraysOptions): MultiTaskData {
  const where = "fromArrays";
  check(
    options.featureCount === undefined && options.featureNames === undefined,
    where,
    () => "options 'featureCount' and 'featureNames' go with 'x'; named inputs take their shapes (and column 'names') per input.",
  );
  const { rows, features, featureNames, inputs } = packInputs(where, options.inputs!);
  for (const [name, values] of Object.entries(options.targets ?? {})) {
    if (values && typeof values.length === "number") {
      check(values.length === rows, where, () => `task '${name}' has ${values.length} targets but the inputs have ${rows} rows.`);
    }
  }
  const data = fromArrays({ ...options, inputs: undefined, x: features, featureCount: featureNames.length, featureNames });
  return { ...data, inputs };
}

/**
 * One feature value: a number (or a boolean, as 0/1). Anything else — null, undefined, a string —
 * is refused naming the column and row, since Number(null) would silently be 0.
 */
function featureValue(where: string, v: unknown, column: string, row: number): number {
  if (typeof v === "number") return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  const hint =
    v === null || v === undefined
      ? "drop or impute missing values first (mtl.fromDataFrame does it with option 'missing')"
      : "encode it as a number first (mtl.fromDataFrame one-hot encodes text columns)";
  throw new MtlError(
    where,
    `feature '${column}' is ${v === undefined ? "undefined" : JSON.stringify(v)} at row ${row}, not a number; ${hint}.`,
  );
}

function toTargetArray(where: string, task: string, values: ArrayLike<number>[] | ArrayLike<number>, rows: number): TargetArray {
  check(
    values !== null && values !== undefined && typeof values.length === "number",
    where,
    () => `targets of task '${task}' must be an array, got ${values === null ? "null" : typeof values}.`,
  );
  check(values.length === rows, where, () => `task '${task}' has ${values.length} targets but 'x' has ${rows} rows.`);
  const first = (values as ArrayLike<unknown>)[0];
  if (first !== null && typeof first === "object") {
    const rowsOf = values as ArrayLike<number>[];
    const width = rowsOf[0].length;
    const out = new Float32Array(rows * width);
    for (let r = 0; r < rows; r++) {
      check(
        rowsOf[r] && rowsOf[r].length === width,
        where,
        () => `task '${task}' target row ${r} has ${rowsOf[r]?.length} values; row 0 has ${width}.`,
      );
      for (let c = 0; c < width; c++) out[r * width + c] = toNumber(where, task, rowsOf[r][c], r);
    }
    return { values: out, width };
  }
  const flat = values as ArrayLike<number>;
  if (flat instanceof Int32Array || flat instanceof Float32Array) return { values: flat, width: 1 };
  const out = new Float32Array(rows);
  for (let r = 0; r < rows; r++) out[r] = toNumber(where, task, flat[r], r);
  return { values: out, width: 1 };
}

function toNumber(where: string, task: string, v: unknown, row: number): number {
  if (typeof v === "number" && !Number.isNaN(v)) return v;
  if (typeof v === "boolean") return v ? 1 : 0;
  const hint =
    v === null || v === undefined || typeof v === "number"
      ? "; pass missingLabels: \"mask\" (or a mask in 'masks') to keep the row without this label"
      : "";
  throw new MtlError(
    where,
    `target of task '${task}' at row ${row} is ${v === undefined || typeof v === "number" ? String(v) : JSON.stringify(v)}, not a number${hint}.`,
  );
}

export function checkFiniteFeatures(where: string, features: Float32Array, featureCount: number, featureNames: string[]): void {
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i])) {
      const row = Math.floor(i / featureCount);
      const col = featureNames[i % featureCount];
      throw new MtlError(
        where,
        `feature '${col}' is ${features[i]} at row ${row}; features must be finite (drop or impute missing values first).`,
      );
    }
  }
}

/** Checks that `data` is a MultiTaskData (callers from untyped JavaScript may pass anything). */
export function checkDataset(where: string, data: unknown): asserts data is MultiTaskData {
  const d = data as MultiTaskData;
  check(
    d !== null &&
      typeof d === "object" &&
      Number.isInteger(d.rows) &&
      d.rows >= 0 &&
      Number.isInteger(d.featureCount) &&
      d.features instanceof Float32Array &&
      d.features.length === d.rows * d.featureCount &&
      d.targets !== null &&
      typeof d.targets === "object",
    where,
    () =>
      "expected a dataset made by mtl.fromArrays, mtl.fromDataFrame, mtl.split or an mtl.data loader " +
      `(rows, features, featureCount, targets); got ${data === null ? "null" : Array.isArray(data) ? "an array" : typeof data}.`,
  );
  const layout = inputsLayoutProblem(d);
  check(layout === undefined, where, () => `the dataset's named inputs do not fit its features: ${layout}.`);
}

/** Checks a dataset against the tasks that will train on it; names the task, column and row at fault. */
export function validateForTasks(data: MultiTaskData, tasks: Task[], where = "dataset"): void {
  checkDataset(where, data);
  checkMasks(where, data);
  for (const task of tasks) {
    const target = data.targets[task.name];
    if (!target) {
      throw new MtlError(
        `${task.kind}('${task.name}')`,
        `the dataset has no targets for this task; it has targets for: ${Object.keys(data.targets).join(", ") || "no task"}.`,
      );
    }
    check(
      target.values.length === data.rows * target.width,
      `${task.kind}('${task.name}')`,
      () => `the dataset has ${target.values.length / target.width} target rows for ${data.rows} feature rows.`,
    );
    check(
      target.width === task.targetWidth,
      `${task.kind}('${task.name}')`,
      () => `targets have ${target.width} values per row but the task expects ${task.targetWidth}.`,
    );
    task.validateTargets(target);
  }
}

/** The rows at `indices`, as a new dataset. */
export function subset(data: MultiTaskData, indices: ArrayLike<number>): MultiTaskData {
  const n = indices.length;
  const f = data.featureCount;
  const features = new Float32Array(n * f);
  for (let i = 0; i < n; i++) features.set(data.features.subarray(indices[i] * f, indices[i] * f + f), i * f);
  const targets: Record<string, TargetArray> = {};
  for (const [name, t] of Object.entries(data.targets)) {
    const w = t.width;
    const values = t.values instanceof Int32Array ? new Int32Array(n * w) : new Float32Array(n * w);
    for (let i = 0; i < n; i++) values.set(t.values.subarray(indices[i] * w, indices[i] * w + w), i * w);
    targets[name] = { values, width: w };
  }
  const masks = subsetMasks(data.masks, indices);
  const out: MultiTaskData = { rows: n, features, featureCount: f, featureNames: data.featureNames, targets, ...(masks ? { masks } : {}) };
  return data.inputs ? { ...out, inputs: data.inputs } : out;
}

/**
 * Options of {@link split}: the fractions for training and validation (the test set gets the rest) and the seed
 * of the shuffle.
 */
export interface SplitOptions {
  /** Fractions of the rows; test gets the rest. Defaults: train 0.7, validation 0.15. */
  train?: number;
  validation?: number;
  seed?: number;
}

/** The three parts {@link split} makes. */
export interface Splits {
  train: MultiTaskData;
  validation: MultiTaskData;
  test: MultiTaskData;
}

/** A seeded random train/validation/test split. */
export function split(data: MultiTaskData, options: SplitOptions = {}): Splits {
  const train = options.train ?? 0.7;
  const validation = options.validation ?? 0.15;
  check(
    train > 0 && validation >= 0 && train + validation <= 1,
    "split",
    () => `fractions must satisfy 0 < train, 0 ≤ validation, train + validation ≤ 1; got train ${train}, validation ${validation}.`,
  );
  const order = new Rng(checkSeed("split", options.seed)).permutation(data.rows);
  const nTrain = Math.round(train * data.rows);
  const nVal = Math.round(validation * data.rows);
  check(nTrain > 0, "split", () => `the train split of ${data.rows} rows is empty.`);
  return {
    train: subset(data, order.subarray(0, nTrain)),
    validation: subset(data, order.subarray(nTrain, nTrain + nVal)),
    test: subset(data, order.subarray(nTrain + nVal)),
  };
}

/** Feature means and standard deviations fitted on one dataset ({@link fitStandardizer}), applied to others. */
export interface Standardizer {
  mean: Float32Array;
  std: Float32Array;
  apply(data: MultiTaskData): MultiTaskData;
}

/**
 * Fits per-feature mean and standard deviation on `data` (the training split only, so nothing
 * leaks from validation or test) and returns a function that standardises any split with them.
 * A constant feature keeps std 1. With named inputs, each numeric input is standardised over its
 * last axis (per column of a table, per channel of an image) and token inputs are left as they
 * are (see standardizationGroups in ./inputs.ts); `mean` and `std` still hold one value per
 * feature column (0 and 1 for token columns).
 */
export function fitStandardizer(data: MultiTaskData): Standardizer {
  checkDataset("fitStandardizer", data);
  const f = data.featureCount;
  const { groups, count } = standardizationGroups(data);
  const sums = new Float64Array(count);
  const squares = new Float64Array(count);
  const n = new Float64Array(count);
  for (let r = 0; r < data.rows; r++) {
    for (let c = 0; c < f; c++) {
      const g = groups[c];
      if (g < 0) continue;
      const v = data.features[r * f + c];
      sums[g] += v;
      squares[g] += v * v;
      n[g] += 1;
    }
  }
  const mean = new Float32Array(f);
  const std = new Float32Array(f).fill(1);
  for (let c = 0; c < f; c++) {
    const g = groups[c];
    if (g < 0) continue;
    const m = sums[g] / n[g];
    const variance = Math.max(squares[g] / n[g] - m * m, 0);
    mean[c] = m;
    std[c] = variance > 1e-12 ? Math.sqrt(variance) : 1;
  }
  const layout = data.inputs?.map((s) => `${s.name}[${s.shape.join("×")}]${s.kind}`).join(",");
  return {
    mean,
    std,
    apply(other: MultiTaskData): MultiTaskData {
      check(
        other.featureCount === f,
        "standardize",
        () => `the data has ${other.featureCount} features; the standardizer was fitted on ${f}.`,
      );
      const otherLayout = other.inputs?.map((s) => `${s.name}[${s.shape.join("×")}]${s.kind}`).join(",");
      check(
        otherLayout === layout,
        "standardize",
        () =>
          `the data's inputs (${otherLayout ?? "one unnamed input"}) differ from those the standardizer was fitted on (${layout ?? "one unnamed input"}).`,
      );
      const features = new Float32Array(other.features.length);
      for (let i = 0; i < features.length; i++) features[i] = (other.features[i] - mean[i % f]) / std[i % f];
      return { ...other, features };
    },
  };
}

/** Feature and target tensors for the rows [start, end) of `order` (a batch). */
export function batchTensors(data: MultiTaskData, tasks: Task[], indices: ArrayLike<number>): { x: tf.Tensor2D; targets: tf.Tensor[] } {
  const part = subset(data, indices);
  const x = tf.tensor2d(part.features, [part.rows, part.featureCount]);
  const targets = tasks.map((t) => t.targetTensor(part.targets[t.name], part.rows));
  return { x, targets };
}
