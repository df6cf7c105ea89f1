/** Figures of a training run: task losses, task weights and validation metrics over time. */
import { check } from "../errors";
import { History } from "../train/history";
import { figure, Figure, Trace } from "./figure";

/** Options of the curve figures: smoothing, title, log scale. */
export interface CurveOptions {
  /** Exponential moving average factor in [0, 1) for step curves (default 0: raw). */
  smooth?: number;
  title?: string;
  /** Log-scale y axis (default true for losses). */
  logY?: boolean;
}

function ema(values: number[], beta: number): number[] {
  check(beta >= 0 && beta < 1, "viz", () => `option 'smooth' must lie in [0, 1), got ${beta}.`);
  if (beta === 0) return values;
  const out: number[] = [];
  let m = values[0];
  for (const v of values) {
    m = beta * m + (1 - beta) * v;
    out.push(m);
  }
  return out;
}

/** One line per task: the training loss at every step, and the validation loss per epoch (dashed) when recorded. */
export function trainingCurves(history: History, options: CurveOptions = {}): Figure {
  const steps = history.steps.map((s) => s.step);
  const data: Trace[] = [];
  const stepsPerEpoch = history.epochs.length ? Math.max(1, Math.round(history.steps.length / history.epochs.length)) : 1;
  history.taskNames.forEach((t, i) => {
    data.push({
      type: "scatter",
      mode: "lines",
      name: `${t} (train)`,
      x: steps,
      y: ema(history.lossCurve(t), options.smooth ?? 0),
      legendgroup: t,
      line: { color: color(i) },
    });
    const val = history.epochs.map((e) => e.validationLoss?.[t]);
    if (val.some((v) => v !== undefined)) {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: `${t} (validation)`,
        x: history.epochs.map((_, e) => (e + 1) * stepsPerEpoch - 1),
        y: val,
        legendgroup: t,
        line: { color: color(i), dash: "dash" },
      });
    }
  });
  return figure(data, {
    title: { text: options.title ?? "Task losses" },
    xaxis: { title: { text: "step" } },
    yaxis: { title: { text: "loss" }, type: options.logY === false ? "linear" : "log" },
  });
}

/** The weight w_i of each task at every step. */
export function weightCurves(history: History, options: CurveOptions = {}): Figure {
  const steps = history.steps.map((s) => s.step);
  const data = history.taskNames.map((t, i) => ({
    type: "scatter",
    mode: "lines",
    name: t,
    x: steps,
    y: ema(history.weightCurve(t), options.smooth ?? 0),
    line: { color: color(i) },
  }));
  return figure(data, {
    title: { text: options.title ?? "Task weights" },
    xaxis: { title: { text: "step" } },
    yaxis: { title: { text: "weight" }, type: options.logY ? "log" : "linear" },
  });
}

/** A validation metric of each task per epoch (tasks lacking it are skipped). */
export function metricCurves(history: History, metric: string, options: CurveOptions = {}): Figure {
  const data: Trace[] = [];
  history.taskNames.forEach((t, i) => {
    const y = history.metricCurve(t, metric);
    if (y.some((v) => v !== undefined))
      data.push({ type: "scatter", mode: "lines+markers", name: t, x: history.epochs.map((e) => e.epoch), y, line: { color: color(i) } });
  });
  check(data.length > 0, "metricCurves", () => `no task has validation metric '${metric}' (fit with { validation } to record metrics).`);
  return figure(data, {
    title: { text: options.title ?? `Validation ${metric}` },
    xaxis: { title: { text: "epoch" } },
    yaxis: { title: { text: metric } },
  });
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
export function color(i: number): string {
  return PALETTE[i % PALETTE.length];
}
