/** Figures that compare methods: metric bars with error bars against baselines, Δm bars, a Pareto scatter. */
import { check } from "../errors";
import { MetricTable } from "../eval/evaluate";
import { mean, std, summarize, Summary } from "../eval/stats";
import { color } from "./curves";
import { figure, Figure, Trace } from "./figure";

/** Error bars from the standard deviation ("std") or the Student-t interval of the mean ("ci"). */
export type ErrorBar = "std" | "ci";

function halfWidth(values: number[], error: ErrorBar, level: number): number {
  if (values.length < 2) return 0;
  if (error === "std") return std(values);
  const s = summarize(values, level);
  return s.interval!.high - s.mean;
}

/**
 * Grouped bars: one group per task, one bar per method (e.g. "single-task", "equal", "uncertainty"),
 * the mean over seeds of each task's chosen metric, with error bars (std by default, or the
 * Student-t interval of the mean).
 */
export function metricBars(
  results: Record<string, MetricTable[]>,
  metrics: Record<string, string>,
  options: { error?: ErrorBar; level?: number; title?: string } = {},
): Figure {
  const error = options.error ?? "std";
  const level = options.level ?? 0.95;
  const tasks = Object.keys(metrics);
  check(tasks.length > 0, "metricBars", () => "name at least one task and its metric, e.g. { y1: 'mse' }.");
  const data: Trace[] = Object.entries(results).map(([method, runs], i) => {
    check(runs.length > 0, "metricBars", () => `method '${method}' has no runs.`);
    const values = tasks.map((t) =>
      runs.map((r, s) => {
        const v = r[t]?.[metrics[t]];
        check(v !== undefined, "metricBars", () => `method '${method}', run ${s} has no '${metrics[t]}' for task '${t}'.`);
        return v;
      }),
    );
    return {
      type: "bar",
      name: method,
      x: tasks.map((t) => `${t} (${metrics[t]})`),
      y: values.map(mean),
      error_y: { type: "data", array: values.map((v) => halfWidth(v, error, level)), visible: true },
      marker: { color: color(i) },
    };
  });
  const what = error === "std" ? "± std over seeds" : `± ${Math.round(level * 100)}% Student-t interval`;
  return figure(data, {
    title: { text: options.title ?? `Test metrics (${what})` },
    barmode: "group",
    xaxis: { title: { text: "task (metric)" } },
    yaxis: { title: { text: "value" } },
  });
}

/** Δm% per method with its interval over seeds (bars above 0: better than the single-task baselines). */
export function deltaMBars(summaries: Record<string, Summary>, title = "Δm% against single-task baselines"): Figure {
  const names = Object.keys(summaries);
  const s = names.map((n) => summaries[n]);
  return figure(
    [
      {
        type: "bar",
        x: names,
        y: s.map((v) => v.mean),
        error_y: {
          type: "data",
          symmetric: false,
          array: s.map((v) => (v.interval ? v.interval.high - v.mean : 0)),
          arrayminus: s.map((v) => (v.interval ? v.mean - v.interval.low : 0)),
          visible: true,
        },
        marker: { color: s.map((v) => (v.mean >= 0 ? "#2ca02c" : "#d62728")) },
      },
    ],
    { title: { text: title }, xaxis: { title: { text: "method" } }, yaxis: { title: { text: "Δm (%)" }, zeroline: true } },
  );
}

/** A labelled point of a Pareto plot, with optional error bars. */
export interface ParetoPoint {
  label: string;
  x: number;
  y: number;
  xError?: number;
  yError?: number;
}

/** Indices of the points no other point dominates (at least as good on both axes, better on one). */
export function paretoFront(points: ParetoPoint[], xHigherIsBetter: boolean, yHigherIsBetter: boolean): number[] {
  const better = (a: number, b: number, higher: boolean) => (higher ? a > b : a < b);
  const atLeast = (a: number, b: number, higher: boolean) => (higher ? a >= b : a <= b);
  return points.flatMap((p, i) => {
    const dominated = points.some(
      (q, j) =>
        j !== i &&
        atLeast(q.x, p.x, xHigherIsBetter) &&
        atLeast(q.y, p.y, yHigherIsBetter) &&
        (better(q.x, p.x, xHigherIsBetter) || better(q.y, p.y, yHigherIsBetter)),
    );
    return dominated ? [] : [i];
  });
}

/** Two tasks' metrics per method as a scatter; the Pareto-optimal methods are joined by a line. */
export function paretoScatter(
  points: ParetoPoint[],
  axes: { x: string; y: string; xHigherIsBetter: boolean; yHigherIsBetter: boolean; title?: string },
): Figure {
  check(points.length > 0, "paretoScatter", () => "needs at least one point.");
  const front = paretoFront(points, axes.xHigherIsBetter, axes.yHigherIsBetter).sort((a, b) => points[a].x - points[b].x);
  const data: Trace[] = points.map((p, i) => ({
    type: "scatter",
    mode: "markers+text",
    name: p.label,
    x: [p.x],
    y: [p.y],
    text: [p.label],
    textposition: "top center",
    error_x: p.xError !== undefined ? { type: "data", array: [p.xError], visible: true } : undefined,
    error_y: p.yError !== undefined ? { type: "data", array: [p.yError], visible: true } : undefined,
    marker: { size: 11, color: color(i), symbol: front.includes(i) ? "star" : "circle" },
  }));
  data.push({
    type: "scatter",
    mode: "lines",
    name: "Pareto front",
    x: front.map((i) => points[i].x),
    y: front.map((i) => points[i].y),
    line: { dash: "dot", color: "#555" },
  });
  const arrow = (higher: boolean) => (higher ? "higher is better" : "lower is better");
  return figure(data, {
    title: { text: axes.title ?? "Two-task trade-off" },
    xaxis: { title: { text: `${axes.x} (${arrow(axes.xHigherIsBetter)})` } },
    yaxis: { title: { text: `${axes.y} (${arrow(axes.yHigherIsBetter)})` } },
  });
}
