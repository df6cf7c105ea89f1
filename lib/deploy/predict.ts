/**
 * `mtl.deploy.predict(model, rows)`: every task's output and decoded prediction for raw input rows.
 * The exported web page runs this same function in the browser, so the page and Node agree.
 * A loaded model applies the standardisation it was saved with (its input spec's `standardize`);
 * a model in memory takes its inputs as they are.
 */
import * as tf from "@tensorflow/tfjs";
import type { MultiTaskModel } from "../architectures/types";
import { check } from "../errors";
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

function inputSpecOf(model: MultiTaskModel): InputSpec | undefined {
  const m = model as Partial<{ inputSpec: () => InputSpec }>;
  return typeof m.inputSpec === "function" ? m.inputSpec() : undefined;
}

/** Rows as one flat, standardised matrix [rows, inputSize]. */
export function inputMatrix(model: MultiTaskModel, rows: InputRows): { values: Float32Array; rows: number } {
  const width = model.inputSize;
  const where = `predict (input '${SINGLE_INPUT}')`;
  let values: Float32Array;
  let n: number;
  if (rows instanceof Float32Array) {
    check(
      rows.length % width === 0,
      where,
      () => `a flat Float32Array must hold whole rows of ${width} features; it has ${rows.length} values.`,
    );
    values = Float32Array.from(rows);
    n = rows.length / width;
  } else {
    check(Array.isArray(rows), where, () => "expected rows of numbers (one array per example) or a flat Float32Array.");
    n = rows.length;
    values = new Float32Array(n * width);
    rows.forEach((row, r) => {
      check(row && row.length === width, where, () => `row ${r} has ${row?.length} values; the model takes ${width} features.`);
      for (let c = 0; c < width; c++) {
        const v = Number(row[c]);
        check(Number.isFinite(v), where, () => `row ${r}, feature ${c} is ${String(row[c])}; features must be finite numbers.`);
        values[r * width + c] = v;
      }
    });
  }
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

/** Every task's outputs and decoded predictions for `rows` (see {@link TaskPrediction}). */
export async function predict(model: MultiTaskModel, rows: InputRows): Promise<Record<string, TaskPrediction>> {
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
