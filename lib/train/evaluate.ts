/**
 * evaluate(model, data, tasks): every metric of every task, streamed over batches.
 *
 * The model runs on one batch at a time (no gradients); each batch's decoded predictions update
 * sufficient statistics and are dropped, so a large test set never sits in one tensor:
 * - classification: the k × k confusion matrix (accuracy, macro/micro precision/recall/F1, per class);
 * - binary: the 2 × 2 confusion matrix (accuracy, precision/recall/F1 of the positive class);
 * - multi-label: per-label TP/FP/FN/TN and the exact-match count;
 * - regression: per output n, Σy, Σy², Σ(ŷ−y)², Σ|ŷ−y| (MSE, MAE, R² = 1 − SS_res/SS_tot).
 * The formulas, and the 0/0 := 0 convention of lib/tasks/metrics.ts (a class never predicted has
 * precision 0, never NaN), are the same as `task.metrics`, which the tests check.
 * The loss is the mean of batch losses weighted by batch rows: exact for losses that are plain
 * means over examples (all but class-weighted cross-entropy, where it is the batch-weighted mean).
 * Label masks (docs/missing-labels.md): each task's loss and metrics count only the rows that carry
 * its label, and its report says how many (`labelled`); a task with none has loss and metrics NaN.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { MultiTaskData, validateForTasks } from "../data/dataset";
import { labelledPositions, labelMask, pickTargetRows } from "../data/masks";
import { check, checkKnownOptions } from "../errors";
import { binaryScoresFromCounts, classificationScores, ClassScores, MultiLabelCounts, perClassScores, safeDivide } from "../tasks/metrics";
import { Task } from "../tasks/task";
import { Reads, readsAsync, readsSyncScoped } from "../util/reads";
import { toFrame } from "./history";
import { selectRows } from "./maskedBatch";
import { checkModelData } from "./validate";
import { withDisplay } from "../display/attach";
import { evaluationBundle } from "../display/evaluation";

/** Metrics per task name, then per metric name: the plain form Δm and the reports work on. */
export type MetricTable = Record<string, Record<string, number>>;

/** One task's evaluation: every metric, and for classifiers the confusion matrix and per-class scores. */
export interface TaskReport {
  task: string;
  kind: Task["kind"];
  rows: number;
  /** The rows that carry the task's label, which the loss and metrics are computed on. */
  labelled: number;
  loss: number;
  metrics: Record<string, number>;
  /** Direction of each metric, from the task's metricSpecs. */
  higherIsBetter: Record<string, boolean>;
  /** confusion[target][predicted] (classification: k × k; binary: 2 × 2 with class 1 positive). */
  confusion?: number[][];
  /** Per-class precision, recall, F1 and support (classification and binary). */
  perClass?: ClassScores & { labels: string[] };
}

/** One (task, metric) value of an evaluation, with its direction. */
export interface EvaluationRow {
  task: string;
  metric: string;
  value: number;
  higherIsBetter: boolean;
}

/** Every metric of every task, as reports, rows, a table and a DataFrame. */
export interface Evaluation {
  tasks: Record<string, TaskReport>;
  /** One row per (task, metric), including the loss (lower is better). */
  rows: EvaluationRow[];
  /** The metrics alone, task → metric → value. */
  table: MetricTable;
  /** The rows as a danfo DataFrame with columns task, metric, value, higherIsBetter. */
  toDataFrame(): import("danfojs-node").DataFrame;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Rows per forward pass (default 1024). */
  batchSize?: number;
}

interface Accumulator {
  add(predicted: ArrayLike<number>, target: ArrayLike<number>, rows: number): void;
  finish(): Pick<TaskReport, "metrics" | "confusion" | "perClass">;
}

/**
 * Every metric of every task, streamed over batches (sufficient statistics, so a large test set never sits in
 * one tensor). Reads synchronously: on WebGPU use {@link evaluateAsync}.
 */
export function evaluate(model: MultiTaskModel, data: MultiTaskData, tasks: Task[], options: EvaluateOptions = {}): Evaluation {
  return readsSyncScoped(evaluationReads(model, data, tasks, checkEvaluate("evaluate", model, data, tasks, options)));
}

/** evaluate with awaited reads (what a backend that reads only asynchronously, like WebGPU, needs). */
export function evaluateAsync(
  model: MultiTaskModel,
  data: MultiTaskData,
  tasks: Task[],
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  return readsAsync(evaluationReads(model, data, tasks, checkEvaluate("evaluateAsync", model, data, tasks, options)));
}

function checkEvaluate(where: string, model: MultiTaskModel, data: MultiTaskData, tasks: Task[], options: EvaluateOptions): number {
  checkKnownOptions(where, options, ["batchSize"]);
  checkModelData(where, model, tasks, data, "the data");
  const batchSize = options.batchSize ?? 1024;
  check(Number.isInteger(batchSize) && batchSize > 0, where, () => `option 'batchSize' must be a positive integer, got ${batchSize}.`);
  return batchSize;
}

/**
 * The evaluation as a computation that reads (for either driver). `only` evaluates a subset of the
 * tasks on `data` (the trainer's validation with one dataset per task); the data is not checked here.
 */
export function* evaluationReads(
  model: MultiTaskModel,
  data: MultiTaskData,
  allTasks: Task[],
  batchSize: number,
  only?: number[],
): Reads<Evaluation> {
  const chosen = only ?? allTasks.map((_, i) => i);
  const tasks = chosen.map((i) => allTasks[i]);
  const accumulators = tasks.map(accumulatorFor);
  const lossSums = new Float64Array(tasks.length);
  const labelled = new Float64Array(tasks.length);
  for (let start = 0; start < data.rows; start += batchSize) {
    const end = Math.min(start + batchSize, data.rows);
    const rows = end - start;
    const batchRows = Int32Array.from({ length: rows }, (_, r) => start + r);
    // Per task, the positions of its labelled rows in this batch (undefined: all of them).
    const picks = tasks.map((task) => labelledPositions(data, task.name, batchRows));
    const counts = picks.map((p) => (p ? p.length : rows));
    const flat = tf.tidy(() => {
      const x = tf.tensor2d(data.features.subarray(start * data.featureCount, end * data.featureCount), [rows, data.featureCount]);
      const outputs = model.forward(x, false);
      const losses = tasks.map((task, j) => {
        const pos = picks[j];
        if (counts[j] === 0) return tf.scalar(0);
        const target = sliceTarget(data, task, start, end);
        if (!pos) return task.loss(outputs[chosen[j]], task.targetTensor(target, rows));
        const out = selectRows(outputs[chosen[j]], tf.tensor1d(pos, "int32"));
        return task.loss(out, task.targetTensor(pickTargetRows(target, pos), pos.length));
      });
      // One read per batch: the losses, then each chosen task's outputs.
      return tf.concat([tf.stack(losses), ...chosen.map((i) => tf.reshape(outputs[i], [-1]))]);
    });
    const values = (yield flat) as Float32Array;
    let offset = tasks.length;
    tasks.forEach((task, j) => {
      lossSums[j] += values[j] * counts[j];
      labelled[j] += counts[j];
      const width = rows * task.outputUnits;
      const raw = values.slice(offset, offset + width);
      offset += width;
      const decoded = task.decode(raw, rows);
      const target = sliceTarget(data, task, start, end);
      const pos = picks[j];
      if (!pos) accumulators[j].add(decoded, target.values, rows);
      else if (pos.length > 0)
        accumulators[j].add(pickRows(decoded, pos, decoded.length / rows), pickTargetRows(target, pos).values, pos.length);
    });
  }

  const reports: Record<string, TaskReport> = {};
  const rows: EvaluationRow[] = [];
  const table: MetricTable = {};
  tasks.forEach((task, i) => {
    const done = labelled[i] > 0 ? accumulators[i].finish() : { metrics: Object.fromEntries(task.metricSpecs.map((m) => [m.name, NaN])) };
    const higherIsBetter: Record<string, boolean> = {};
    for (const s of task.metricSpecs) higherIsBetter[s.name] = s.higherIsBetter;
    const loss = labelled[i] > 0 ? lossSums[i] / labelled[i] : NaN;
    const report: TaskReport = { task: task.name, kind: task.kind, rows: data.rows, labelled: labelled[i], loss, higherIsBetter, ...done };
    reports[task.name] = report;
    table[task.name] = { ...report.metrics };
    rows.push({ task: task.name, metric: "loss", value: report.loss, higherIsBetter: false });
    for (const s of task.metricSpecs)
      rows.push({ task: task.name, metric: s.name, value: report.metrics[s.name], higherIsBetter: s.higherIsBetter });
  });
  return withDisplay(
    { tasks: reports, rows, table, toDataFrame: () => toFrame(rows as unknown as Array<Record<string, unknown>>) },
    evaluationBundle,
  );
}

/** The rows at `positions` of a row-major array with `width` values per row. */
function pickRows(values: ArrayLike<number>, positions: ArrayLike<number>, width: number): Float64Array {
  const out = new Float64Array(positions.length * width);
  for (let i = 0; i < positions.length; i++) for (let c = 0; c < width; c++) out[i * width + c] = values[positions[i] * width + c];
  return out;
}

function sliceTarget(data: MultiTaskData, task: Task, start: number, end: number) {
  const t = data.targets[task.name];
  return { values: t.values.subarray(start * t.width, end * t.width), width: t.width };
}

const REGRESSION_METRICS = ["mse", "mae", "r2"];

function accumulatorFor(task: Task): Accumulator {
  switch (task.kind) {
    case "classification":
      return confusionAccumulator(task.outputUnits, task.labels, false, (c) => classificationScores(c));
    case "binary":
      return confusionAccumulator(2, task.labels, true, binaryFromConfusion);
    case "multiLabel":
      return multiLabelAccumulator(task.outputUnits);
    case "regression":
      // Tasks built on regression with metrics of their own (boundingBox's IoU) are scored by the task.
      return task.metricSpecs.every((m) => REGRESSION_METRICS.includes(m.name))
        ? regressionAccumulator(task.targetWidth)
        : collectingAccumulator(task);
    default:
      return collectingAccumulator(task);
  }
}

/** `binarize`: targets and predictions are 0/1 values thresholded at 0.5, as binaryScores reads them. */
function confusionAccumulator(
  k: number,
  labels: string[] | undefined,
  binarize: boolean,
  score: (c: number[][]) => Record<string, number>,
): Accumulator {
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const cls = binarize ? (v: number) => (v >= 0.5 ? 1 : 0) : (v: number) => v;
  return {
    add(predicted, target, rows) {
      for (let r = 0; r < rows; r++) confusion[cls(target[r])][cls(predicted[r])] += 1;
    },
    finish() {
      const perClass = perClassScores(confusion);
      return {
        metrics: score(confusion),
        confusion: confusion.map((row) => [...row]),
        perClass: { ...perClass, labels: labels ?? Array.from({ length: k }, (_, i) => String(i)) },
      };
    },
  };
}

/** binaryScores' formulas from the 2 × 2 confusion matrix (class 1 positive). */
function binaryFromConfusion(c: number[][]): Record<string, number> {
  const [tn, fp] = c[0];
  const [fn, tp] = c[1];
  return binaryScoresFromCounts(tp, fp, fn, tn);
}

function multiLabelAccumulator(labels: number): Accumulator {
  const counts = new MultiLabelCounts(labels);
  return {
    add: (predicted, target, rows) => counts.add(predicted, target, rows),
    finish: () => ({ metrics: counts.scores() }),
  };
}

function regressionAccumulator(width: number): Accumulator {
  const n = new Float64Array(width);
  const sumY = new Float64Array(width);
  const sumY2 = new Float64Array(width);
  const sse = new Float64Array(width);
  const sae = new Float64Array(width);
  return {
    add(predicted, target, rows) {
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < width; c++) {
          const i = r * width + c;
          const y = target[i];
          const d = predicted[i] - y;
          n[c]++;
          sumY[c] += y;
          sumY2[c] += y * y;
          sse[c] += d * d;
          sae[c] += Math.abs(d);
        }
      }
    },
    finish() {
      let r2 = 0;
      for (let c = 0; c < width; c++) {
        // SS_tot = Σy² − (Σy)²/n; clamp tiny negative rounding of a constant column to 0 (R² := 0 then).
        const ssTot = Math.max(0, sumY2[c] - (sumY[c] * sumY[c]) / n[c]);
        r2 += ssTot <= 1e-12 * Math.max(1, sumY2[c]) ? 0 : 1 - sse[c] / ssTot;
      }
      const count = n.reduce((a, b) => a + b, 0);
      return {
        metrics: {
          mse: safeDivide(
            sse.reduce((a, b) => a + b, 0),
            count,
          ),
          mae: safeDivide(
            sae.reduce((a, b) => a + b, 0),
            count,
          ),
          r2: r2 / width,
        },
      };
    },
  };
}

/** A task kind without sufficient statistics here: keep the decoded predictions (plain arrays) and call task.metrics. */
function collectingAccumulator(task: Task): Accumulator {
  const predicted: number[] = [];
  const target: number[] = [];
  return {
    add(p, t) {
      for (let i = 0; i < p.length; i++) predicted.push(p[i]);
      for (let i = 0; i < t.length; i++) target.push(t[i]);
    },
    finish() {
      return { metrics: task.metrics(predicted, target) };
    },
  };
}

/**
 * Scores predictions made elsewhere (decoded: class indices, 0/1, values; row by row) against a
 * dataset's targets, with the same metrics and outputs as `evaluate` (no loss, which needs raw outputs).
 * Refuses predictions whose length does not match the targets, naming the task.
 */
export function evaluatePredictions(tasks: Task[], predictions: Record<string, ArrayLike<number>>, data: MultiTaskData): Evaluation {
  const where = "evaluatePredictions";
  check(Array.isArray(tasks) && tasks.length > 0, where, () => "the first argument must list the tasks.");
  check(predictions !== null && typeof predictions === "object", where, () => "predictions must map task names to arrays.");
  validateForTasks(data, tasks);
  for (const key of Object.keys(predictions)) {
    check(
      tasks.some((t) => t.name === key),
      where,
      () => `predictions for task '${key}', which is not one of ${tasks.map((t) => t.name).join(", ")}.`,
    );
  }
  const reports: Record<string, TaskReport> = {};
  const rows: EvaluationRow[] = [];
  const table: MetricTable = {};
  for (const task of tasks) {
    const predicted = predictions[task.name];
    check(predicted !== undefined, where, () => `no predictions for task '${task.name}'.`);
    const target = data.targets[task.name];
    check(
      predicted.length === target.values.length,
      where,
      () =>
        `task '${task.name}' has ${predicted.length} predicted values but ${target.values.length} target values (${data.rows} rows × ${target.width}).`,
    );
    for (let i = 0; i < predicted.length; i++) {
      check(
        Number.isFinite(predicted[i]),
        where,
        () => `the prediction of task '${task.name}' at position ${i} is ${predicted[i]}, not a finite number.`,
      );
    }
    if (task.kind === "classification") {
      for (let i = 0; i < predicted.length; i++) {
        check(
          Number.isInteger(predicted[i]) && predicted[i] >= 0 && predicted[i] < task.outputUnits,
          where,
          () => `the prediction of task '${task.name}' at row ${i} is ${predicted[i]}, not a class index in [0, ${task.outputUnits - 1}].`,
        );
      }
    }
    const acc = accumulatorFor(task);
    const mask = labelMask(data, task.name);
    const positions = mask ? Int32Array.from(Array.from(mask.keys()).filter((r) => mask[r] === 1)) : undefined;
    if (!positions) acc.add(predicted, target.values, data.rows);
    else if (positions.length > 0)
      acc.add(pickRows(predicted, positions, target.width), pickTargetRows(target, positions).values, positions.length);
    const count = positions ? positions.length : data.rows;
    const done = count > 0 ? acc.finish() : { metrics: Object.fromEntries(task.metricSpecs.map((m) => [m.name, NaN])) };
    const higherIsBetter: Record<string, boolean> = {};
    for (const spec of task.metricSpecs) higherIsBetter[spec.name] = spec.higherIsBetter;
    reports[task.name] = { task: task.name, kind: task.kind, rows: data.rows, labelled: count, loss: NaN, higherIsBetter, ...done };
    table[task.name] = { ...done.metrics };
    for (const spec of task.metricSpecs)
      rows.push({ task: task.name, metric: spec.name, value: done.metrics[spec.name], higherIsBetter: spec.higherIsBetter });
  }
  return withDisplay(
    { tasks: reports, rows, table, toDataFrame: () => toFrame(rows as unknown as Array<Record<string, unknown>>) },
    evaluationBundle,
  );
}

/**
 * A trainer's per-task result with the display of the evaluations it came from (one, or one per
 * task's own dataset), shown as one table.
 */
export function withEvaluationsDisplay<T extends object>(result: T, evaluations: Evaluation[]): T {
  const merged = {
    tasks: Object.assign({}, ...evaluations.map((e) => e.tasks)) as Evaluation["tasks"],
    rows: evaluations.flatMap((e) => e.rows),
    table: Object.assign({}, ...evaluations.map((e) => e.table)) as Evaluation["table"],
    toDataFrame: () => toFrame(evaluations.flatMap((e) => e.rows) as unknown as Array<Record<string, unknown>>),
  };
  return withDisplay(result, () => evaluationBundle(merged));
}
