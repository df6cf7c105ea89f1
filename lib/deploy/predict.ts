/**
 * `mtl.deploy.predict(model, rows)`: every task's output and decoded prediction for raw input rows.
 * The exported web page runs this same function in the browser, so the page and Node agree.
 * A loaded model applies the standardisation it was saved with (its input spec's `standardize`);
 * a model in memory takes its inputs as they are. A model with named inputs takes its rows by input
 * name (or its inputs' columns side by side).
 */
import * as tf from "@tensorflow/tfjs";
import type { MultiTaskModel } from "../architectures/types";
import { check } from "../errors";
import { inputOffsets, inputSize, NamedInput } from "../data/inputs";
import { InputSpec, SINGLE_INPUT } from "./inputs";

/** One task's result for n rows. */
export interface TaskPrediction {
  /** The head's raw outputs (logits or values), one row per input row. */
  outputs: number[][];
  /** The decoded prediction per row: a class index, 0/1, a value, or a row of them (multi-output tasks). */
  predictions: Array<number | number[]>;
  /** Class or label names, where the task has them. */
  labels?: string[];
}

/** Input rows: one array of numbers per example, or a flat Float32Array of rows × features. */
export type InputRows = ArrayLike<number>[] | Float32Array;

/**
 * Rows of a model with named inputs, by input name: each input's rows (one array of its values per
 * example, an image or a token sequence flattened row-major, or a flat Float32Array), the same
 * number of examples for every input.
 */
export type NamedInputRows = Record<string, InputRows>;

function inputSpecOf(model: MultiTaskModel): InputSpec | undefined {
  const m = model as Partial<{ inputSpec: () => InputSpec }>;
  return typeof m.inputSpec === "function" ? m.inputSpec() : undefined;
}

function namedInputsOf(model: MultiTaskModel): readonly NamedInput[] | undefined {
  const inputs = (model as Partial<{ inputs: readonly NamedInput[] }>).inputs;
  return Array.isArray(inputs) ? inputs : undefined;
}

/** One input's rows as a flat matrix [n, width], each value checked finite. */
function matrixOf(
  where: string,
  rows: InputRows,
  width: number,
  unit: "features" | "values" = "features",
): { values: Float32Array; rows: number } {
  if (rows instanceof Float32Array) {
    check(
      rows.length % width === 0,
      where,
      () => `a flat Float32Array must hold whole rows of ${width} ${unit}; it has ${rows.length} values.`,
    );
    const bad = rows.findIndex((v) => !Number.isFinite(v));
    check(
      bad < 0,
      where,
      () => `row ${Math.floor(bad / width)}, ${unit.slice(0, -1)} ${bad % width} is ${rows[bad]}; ${unit} must be finite numbers.`,
    );
    return { values: Float32Array.from(rows), rows: rows.length / width };
  }
  check(Array.isArray(rows), where, () => "expected rows of numbers (one array per example) or a flat Float32Array.");
  const n = rows.length;
  const values = new Float32Array(n * width);
  rows.forEach((row, r) => {
    check(row && row.length === width, where, () => `row ${r} has ${row?.length} values; the model takes ${width} ${unit}.`);
    for (let c = 0; c < width; c++) {
      const v = Number(row[c]);
      check(Number.isFinite(v), where, () => `row ${r}, ${unit.slice(0, -1)} ${c} is ${String(row[c])}; ${unit} must be finite numbers.`);
      values[r * width + c] = v;
    }
  });
  return { values, rows: n };
}

/** Named rows laid side by side in the model's input order: the one matrix the model takes. */
function namedMatrix(model: MultiTaskModel, rows: NamedInputRows): { values: Float32Array; rows: number } {
  const inputs = namedInputsOf(model);
  check(
    inputs !== undefined,
    `predict (input '${SINGLE_INPUT}')`,
    () =>
      `rows were given by input name (${Object.keys(rows).join(", ")}) but the model takes one input of ${model.inputSize} features; pass rows of numbers.`,
  );
  const known = new Set(inputs.map((i) => i.name));
  for (const name of Object.keys(rows)) {
    check(known.has(name), `predict (input '${name}')`, () => `'${name}' is not an input of the model; it takes ${[...known].join(", ")}.`);
  }
  const parts = inputs.map((spec) => {
    const where = `predict (input '${spec.name}')`;
    check(
      rows[spec.name] !== undefined,
      where,
      () => `the model takes input '${spec.name}' [${spec.shape.join("×")}]; no rows were given for it.`,
    );
    return { width: inputSize(spec), ...matrixOf(where, rows[spec.name], inputSize(spec), "values") };
  });
  const n = parts[0].rows;
  parts.forEach((p, i) =>
    check(
      p.rows === n,
      `predict (input '${inputs[i].name}')`,
      () => `${p.rows} rows were given for '${inputs[i].name}' but ${n} for '${inputs[0].name}'; every input needs one row per example.`,
    ),
  );
  const width = model.inputSize;
  const values = new Float32Array(n * width);
  const offsets = inputOffsets(inputs);
  parts.forEach((p, i) => {
    for (let r = 0; r < n; r++) values.set(p.values.subarray(r * p.width, (r + 1) * p.width), r * width + offsets[i]);
  });
  return { values, rows: n };
}

/**
 * Rows as one flat, standardised matrix [rows, inputSize]. A model with named inputs takes its
 * inputs' columns side by side (in `model.inputs` order) or, clearer, the rows by input name.
 */
export function inputMatrix(model: MultiTaskModel, rows: InputRows | NamedInputRows): { values: Float32Array; rows: number } {
  if (!Array.isArray(rows) && !(rows instanceof Float32Array) && rows !== null && typeof rows === "object") {
    return namedMatrix(model, rows as NamedInputRows);
  }
  const width = model.inputSize;
  const { values, rows: n } = matrixOf(`predict (input '${SINGLE_INPUT}')`, rows as InputRows, width);
  const standardize = inputSpecOf(model)?.[SINGLE_INPUT]?.standardize;
  if (standardize) {
    for (let i = 0; i < values.length; i++) values[i] = (values[i] - standardize.mean[i % width]) / standardize.std[i % width];
  }
  return { values, rows: n };
}

/** A flat row-major array as n rows of width w. */
function rowsOf(a: ArrayLike<number>, n: number, w: number): number[][] {
  return Array.from({ length: n }, (_, r) => Array.from({ length: w }, (_, c) => a[r * w + c]));
}

/**
 * Every task's outputs and decoded predictions for `rows` (see {@link TaskPrediction}): rows of
 * numbers, or for a model with named inputs the rows by input name ({@link NamedInputRows}).
 */
export async function predict(model: MultiTaskModel, rows: InputRows | NamedInputRows): Promise<Record<string, TaskPrediction>> {
  const { values, rows: n } = inputMatrix(model, rows);
  const tasks = (model as Partial<{ tasks: readonly import("../tasks/task").Task[] }>).tasks ?? [];
  const outputs = tf.tidy(() => model.forward(tf.tensor2d(values, [n, model.inputSize]), false));
  const result: Record<string, TaskPrediction> = {};
  try {
    for (let k = 0; k < outputs.length; k++) {
      const name = model.taskNames[k];
      const width = outputs[k].shape[1];
      const flat = (await outputs[k].data()) as Float32Array;
      const task = tasks[k];
      const out: TaskPrediction = { outputs: rowsOf(flat, n, width), predictions: [] };
      if (task) {
        const decoded = task.decode(flat, n);
        const w = decoded.length / Math.max(n, 1);
        out.predictions = w === 1 ? Array.from(decoded) : rowsOf(decoded, n, w);
        if (task.labels) out.labels = [...task.labels];
      }
      result[name] = out;
    }
  } finally {
    for (const o of outputs) o.dispose();
  }
  return result;
}
