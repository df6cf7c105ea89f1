/**
 * Negative transfer report: per task, is the multi-task model better or worse than the task's own
 * single-task model, beyond the spread over seeds?
 *
 * For each task and metric, with MTL runs a_1..a_n and single-task runs b_1..b_m (different seeds,
 * so independent samples), the signed difference
 *   d = s · (mean(a) − mean(b)),   s = +1 where higher is better, −1 where lower is better
 * (d > 0: multi-task is better) gets Welch's two-sided t interval:
 *   d ± t_{(1+level)/2, ν} · √(var(a)/n + var(b)/m),  ν from the Welch–Satterthwaite equation.
 * Verdict, without overclaiming: "helps" when the whole interval is above +margin, "hurts" when it
 * is below −margin, else "inconclusive" — also whenever either side has fewer than 2 runs, since
 * then the spread is unknown. Δ% is d / |mean(b)| × 100 (undefined when mean(b) is 0).
 */
import { check, checkKnownOptions, MtlError } from "../errors";
import { Task } from "../tasks/task";
import { toFrame } from "../train/history";
import { Directions, metricTable, MetricSource } from "./deltaM";
import { checkLevel, mean, std, studentTQuantile } from "./stats";
import { withDisplay } from "../display/attach";
import { negativeTransferBundle } from "../display/comparison";

/** Whether multi-task training helped a task, hurt it, or the runs cannot tell (the interval contains the margin). */
export type Verdict = "helps" | "hurts" | "inconclusive";

/** One task and metric of a negative-transfer report: both sides' means, the difference, its Welch interval and the verdict. */
export interface TransferRow {
  task: string;
  metric: string;
  higherIsBetter: boolean;
  multiTask: { mean: number; std: number; n: number };
  singleTask: { mean: number; std: number; n: number };
  /** Signed difference: positive when the multi-task model is better. */
  difference: number;
  /** difference / |single-task mean| × 100 (NaN when that mean is 0). */
  relativePercent: number;
  /** Welch interval of `difference`; undefined with fewer than 2 runs on a side. */
  interval?: { low: number; high: number; level: number; df: number };
  verdict: Verdict;
  /** Why the verdict, in words. */
  reason: string;
}

/** Options of {@link negativeTransfer}. */
export interface NegativeTransferOptions {
  tasks?: Task[];
  higherIsBetter?: Directions;
  /** Metrics to judge, per task (default: each task's primary metric when `tasks` is given, else all). */
  metrics?: Record<string, string[]>;
  /** Confidence level of the interval (default 0.95). */
  level?: number;
  /** Smallest difference that counts, in the metric's units (default 0). */
  margin?: number;
}

/** The verdict per task and metric, as rows and as a DataFrame. */
export interface NegativeTransferReport {
  rows: TransferRow[];
  /** The rows as a danfo DataFrame. */
  toDataFrame(): import("danfojs-node").DataFrame;
}

/**
 * Per task, is the multi-task model better or worse than the task's own model? The difference of means over
 * seeds with Welch's interval; `helps` or `hurts` only when the interval lies entirely beyond ±margin, else
 * `inconclusive`.
 */
export function negativeTransfer(
  multiTask: MetricSource[],
  singleTask: MetricSource[],
  options: NegativeTransferOptions = {},
): NegativeTransferReport {
  const where = "negativeTransfer";
  checkKnownOptions(where, options, ["tasks", "higherIsBetter", "metrics", "level", "margin"]);
  const level = options.level ?? 0.95;
  checkLevel(level);
  const margin = options.margin ?? 0;
  check(Number.isFinite(margin) && margin >= 0, where, () => `option 'margin' must be a number ≥ 0, got ${margin}.`);
  check(
    Array.isArray(multiTask) && multiTask.length > 0,
    where,
    () => "needs at least one multi-task run (an array of results, one per seed).",
  );
  check(
    Array.isArray(singleTask) && singleTask.length > 0,
    where,
    () => "needs at least one single-task run (an array of results, one per seed).",
  );
  const a = multiTask.map(metricTable);
  const b = singleTask.map(metricTable);
  const dirs = directionsOf(where, multiTask[0], options);
  const rows: TransferRow[] = [];
  for (const task of Object.keys(a[0])) {
    check(task in b[0], where, () => `the single-task runs have no task '${task}'; they have ${Object.keys(b[0]).join(", ")}.`);
    const primary = options.tasks?.find((t) => t.name === task)?.primaryMetric;
    const metrics = options.metrics?.[task] ?? (primary ? [primary] : Object.keys(dirs[task] ?? {}));
    for (const metric of metrics) {
      const higher = dirs[task]?.[metric];
      check(higher !== undefined, where, () => `no direction known for metric '${metric}' of task '${task}'.`);
      const xs = a.map((t, i) => metricValue(where, "multi-task", i, t, task, metric));
      const ys = b.map((t, i) => metricValue(where, "single-task", i, t, task, metric));
      rows.push(compare(task, metric, higher, xs, ys, level, margin));
    }
  }
  const toDataFrame = () => toFrame(rows.map(flatRow));
  return withDisplay({ rows, toDataFrame }, negativeTransferBundle);
}

/** The comparison of one task's metric; exported for tests on constructed runs. */
export function compare(
  task: string,
  metric: string,
  higherIsBetter: boolean,
  xs: number[],
  ys: number[],
  level = 0.95,
  margin = 0,
): TransferRow {
  const s = higherIsBetter ? 1 : -1;
  const ma = mean(xs);
  const mb = mean(ys);
  const difference = s * (ma - mb);
  const row: TransferRow = {
    task,
    metric,
    higherIsBetter,
    multiTask: { mean: ma, std: std(xs), n: xs.length },
    singleTask: { mean: mb, std: std(ys), n: ys.length },
    difference,
    relativePercent: mb === 0 ? NaN : (difference / Math.abs(mb)) * 100,
    verdict: "inconclusive",
    reason: "",
  };
  if (xs.length < 2 || ys.length < 2) {
    row.reason = `needs at least 2 runs on each side to know the spread (has ${xs.length} multi-task, ${ys.length} single-task)`;
    return row;
  }
  const va = row.multiTask.std ** 2 / xs.length;
  const vb = row.singleTask.std ** 2 / ys.length;
  const se = Math.sqrt(va + vb);
  // Welch–Satterthwaite; with no spread at all the difference is exact.
  const df = se === 0 ? Infinity : (va + vb) ** 2 / (va ** 2 / (xs.length - 1) + vb ** 2 / (ys.length - 1));
  const half = se === 0 ? 0 : studentTQuantile((1 + level) / 2, df) * se;
  row.interval = { low: difference - half, high: difference + half, level, df };
  const pct = `${Math.round(level * 100)}%`;
  if (row.interval.low > margin) {
    row.verdict = "helps";
    row.reason = `the ${pct} interval of the difference lies above ${margin === 0 ? "0" : `+${margin}`}`;
  } else if (row.interval.high < -margin) {
    row.verdict = "hurts";
    row.reason = `the ${pct} interval of the difference lies below ${margin === 0 ? "0" : `−${margin}`}`;
  } else {
    row.reason = `the ${pct} interval [${row.interval.low.toPrecision(3)}, ${row.interval.high.toPrecision(3)}] includes ${margin === 0 ? "0" : `differences within ±${margin}`}`;
  }
  return row;
}

function metricValue(
  where: string,
  side: string,
  run: number,
  table: Record<string, Record<string, number>>,
  task: string,
  metric: string,
): number {
  const v = table[task]?.[metric];
  if (v === undefined) throw new MtlError(where, `${side} run ${run} has no metric '${metric}' for task '${task}'.`);
  check(Number.isFinite(v), where, () => `${side} run ${run}: metric '${metric}' of task '${task}' is ${v}, not finite.`);
  return v;
}

function directionsOf(where: string, first: MetricSource, options: NegativeTransferOptions): Directions {
  if (options.higherIsBetter) return options.higherIsBetter;
  if (options.tasks)
    return Object.fromEntries(options.tasks.map((t) => [t.name, Object.fromEntries(t.metricSpecs.map((s) => [s.name, s.higherIsBetter]))]));
  if ("tasks" in first && "rows" in first) {
    return Object.fromEntries(Object.entries((first as import("./evaluate").Evaluation).tasks).map(([t, r]) => [t, r.higherIsBetter]));
  }
  throw new MtlError(
    where,
    "cannot tell which metrics are better higher or lower: pass option 'tasks' or 'higherIsBetter', or evaluations from mtl.evaluation.evaluate.",
  );
}

function flatRow(r: TransferRow): Record<string, unknown> {
  return {
    task: r.task,
    metric: r.metric,
    multiTask: r.multiTask.mean,
    multiTaskStd: r.multiTask.std,
    singleTask: r.singleTask.mean,
    singleTaskStd: r.singleTask.std,
    difference: r.difference,
    relativePercent: r.relativePercent,
    low: r.interval?.low ?? NaN,
    high: r.interval?.high ?? NaN,
    verdict: r.verdict,
  };
}
