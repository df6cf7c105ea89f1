/**
 * From a sweep's results to the comparisons mtlkit makes: the runs grouped by configuration (the
 * seeds of one configuration are its samples), Δm% of every configuration against a baseline
 * configuration with intervals over seeds (eval/deltaM), the negative-transfer verdicts
 * (eval/negativeTransfer), and the metric tables that `mtl.viz.metricBars` / `deltaMBars` draw.
 *
 * Runs must return metric tables (`{ task: { metric: value } }`, or an evaluation from
 * mtl.evaluation.evaluate, whose metric directions are then known); failed runs are left out and counted.
 */
import { withDisplay } from "../display/attach";
import { Cell, fmt, MimeBundle, signed, tablesBundle } from "../display/table";
import { deltaMOverSeeds, DeltaMOverSeeds, Directions } from "../eval/deltaM";
import { MetricTable } from "../train/evaluate";
import { negativeTransfer as transferReport, NegativeTransferReport, TransferRow } from "../eval/negativeTransfer";
import { Summary } from "../eval/stats";
import { check, checkKnownOptions, MtlError } from "../errors";
import { Task } from "../tasks/task";
import { toFrame } from "../train/history";
import { Configuration, configLabel, ConfigValue } from "./definition";
import { canonicalJson } from "./hash";
import type { RunRecord } from "./records";
import type { SweepResult } from "./result";

/** The runs of one configuration (or of one value of the settings grouped by). */
export interface RunGroup {
  /** The settings that tell groups apart, e.g. "pcgrad" or "method=pcgrad lr=0.01". */
  label: string;
  /** The settings every run of the group shares (those grouped by, and any that do not vary within it). */
  config: Configuration;
  /** Its finished runs (one per seed). */
  records: RunRecord[];
  /** How many of its runs failed (left out). */
  failed: number;
}

/**
 * The runs grouped by configuration, in the sweep's order. `by` groups by some settings only
 * (pooling the runs of the others). A group's label is the value of the one setting that varies,
 * or "setting=value …" when several do.
 */
export function groups(result: SweepResult, by?: string[]): RunGroup[] {
  const keys = by ?? result.varying;
  if (by) {
    const known = new Set(result.runs.flatMap((r) => Object.keys(r.config)));
    for (const k of by)
      check(
        known.has(k),
        "sweep groups",
        () => `option 'by' names '${k}', which is not a setting of this sweep (${[...known].join(", ")}).`,
      );
  }
  const out = new Map<string, RunGroup>();
  for (const run of result.runs) {
    const grouped = Object.fromEntries(keys.map((k) => [k, run.config[k] ?? null])) as Configuration;
    const key = canonicalJson(grouped);
    const group = out.get(key);
    if (!group) {
      out.set(key, {
        label: keys.length === 1 ? String(valueText(grouped[keys[0]])) : configLabel(grouped, keys),
        config: { ...run.config },
        records: [],
        failed: 0,
      });
    } else {
      // Keep the settings every run of the group shares.
      for (const k of Object.keys(group.config))
        if (canonicalJson(group.config[k]) !== canonicalJson(run.config[k] ?? null)) delete group.config[k];
    }
  }
  for (const r of result.records) {
    const grouped = Object.fromEntries(keys.map((k) => [k, r.config[k] ?? null])) as Configuration;
    const g = out.get(canonicalJson(grouped));
    if (!g) continue;
    if (r.status === "ok") g.records.push(r);
    else g.failed++;
  }
  return [...out.values()];
}

function valueText(v: ConfigValue): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The metric table of a run; flat metrics have no tasks and are refused, naming the run. */
export function metricTableOf(record: RunRecord, where = "sweep"): MetricTable {
  const table: MetricTable = {};
  for (const [k, v] of Object.entries(record.metrics ?? {})) {
    if (typeof v === "number") {
      throw new MtlError(
        where,
        `run ${record.label} returned flat metrics ('${k}' is a number); comparisons across tasks need a metric table per run: return mtl.evaluation.evaluate(...) or { task: { metric: value } }.`,
      );
    }
    table[k] = v;
  }
  return table;
}

/** Per group label, the metric tables of its runs (one per seed), e.g. for `mtl.viz.metricBars`. */
export function metricTables(result: SweepResult, by?: string[]): Record<string, MetricTable[]> {
  return Object.fromEntries(
    groups(result, by)
      .filter((g) => g.records.length > 0)
      .map((g) => [g.label, g.records.map((r) => metricTableOf(r))]),
  );
}

/** Which group is the baseline: its label, or the settings it has, e.g. `{ method: "single-task" }`. */
export type GroupSelector = string | Configuration;

/**
 * Options of {@link deltaM} and {@link negativeTransfer}: the baseline group, how runs are grouped,
 * which metrics count and their directions, and the intervals' level.
 */
export interface SweepComparisonOptions {
  /** The group the others are compared with (single-task models, usually). */
  baseline: GroupSelector;
  /** Settings to group by (default: every setting that varies). */
  by?: string[];
  /** Metrics that count, per task (default: all for Δm; the primary metric, or all, for negative transfer). */
  metrics?: Record<string, string[]>;
  /** The tasks, whose metrics say which direction is better (default: what the runs' evaluations recorded). */
  tasks?: Task[];
  /** Metric directions by task, `{ task: { metric: true } }` for larger-is-better (default: the tasks', else what the runs' evaluations recorded). */
  higherIsBetter?: Directions;
  /** Confidence level of the intervals (default 0.95). */
  level?: number;
}

const OPTIONS = ["baseline", "by", "metrics", "tasks", "higherIsBetter", "level"];

function pick(where: string, all: RunGroup[], selector: GroupSelector): RunGroup {
  const matches = all.filter((g) =>
    typeof selector === "string"
      ? g.label === selector
      : Object.entries(selector).every(([k, v]) => canonicalJson(g.config[k] ?? null) === canonicalJson(v)),
  );
  const shown = typeof selector === "string" ? `'${selector}'` : JSON.stringify(selector);
  check(
    matches.length > 0,
    where,
    () => `option 'baseline' ${shown} matches no group; the groups are ${all.map((g) => `'${g.label}'`).join(", ")}.`,
  );
  check(
    matches.length === 1,
    where,
    () => `option 'baseline' ${shown} matches ${matches.length} groups (${matches.map((g) => `'${g.label}'`).join(", ")}); name one.`,
  );
  check(
    matches[0].records.length > 0,
    where,
    () => `the baseline '${matches[0].label}' has no finished run (${matches[0].failed} failed).`,
  );
  return matches[0];
}

function directionsFor(where: string, all: RunGroup[], options: SweepComparisonOptions): { tasks?: Task[]; higherIsBetter?: Directions } {
  if (options.higherIsBetter) return { higherIsBetter: options.higherIsBetter };
  if (options.tasks) return { tasks: options.tasks };
  const merged: Directions = {};
  for (const g of all)
    for (const r of g.records) for (const [t, d] of Object.entries(r.directions ?? {})) merged[t] = { ...d, ...(merged[t] ?? {}) };
  if (Object.keys(merged).length === 0) {
    throw new MtlError(
      where,
      "cannot tell which metrics are better higher or lower: the runs returned plain metric tables; pass option 'tasks' or 'higherIsBetter' (or return mtl.evaluation.evaluate(...) from the run function).",
    );
  }
  return { higherIsBetter: merged };
}

/** One configuration's Δm against the baseline. */
export interface SweepDeltaMRow {
  label: string;
  config: Configuration;
  /** Δm over the group's seeds: mean, std, interval. */
  summary: Summary;
  perTask: Record<string, Summary>;
  /** Failed runs left out. */
  failed: number;
  detail: DeltaMOverSeeds;
}

/**
 * {@link deltaM}'s answer: each configuration's Δm% against the baseline, over seeds (in percent; negative
 * is worse than the baseline on average over the tasks' metrics). Displays as a table in a notebook.
 */
export interface SweepDeltaM {
  /** The baseline group's label. */
  baseline: string;
  /** Confidence level of the intervals, e.g. 0.95. */
  level: number;
  /** One row per configuration other than the baseline. */
  rows: SweepDeltaMRow[];
  /** label → Δm summary, for `mtl.viz.deltaMBars`. */
  summaries(): Record<string, Summary>;
  /** One row per configuration: label, Δm, std, low, high, n, then each task's mean Δm. */
  toDataFrame(): import("danfojs-node").DataFrame;
}

/** Δm% of every group against the baseline group, over seeds with a Student-t interval. */
export function deltaM(result: SweepResult, options: SweepComparisonOptions): SweepDeltaM {
  const where = "sweep deltaM";
  checkKnownOptions(where, options, OPTIONS);
  const level = options.level ?? 0.95;
  const all = groups(result, options.by);
  const base = pick(where, all, options.baseline);
  const dirs = directionsFor(where, all, options);
  const baseTables = base.records.map((r) => metricTableOf(r, where));
  const rows: SweepDeltaMRow[] = [];
  for (const g of all) {
    if (g === base || g.records.length === 0) continue;
    const detail = deltaMOverSeeds(
      g.records.map((r) => metricTableOf(r, where)),
      baseTables,
      { ...dirs, metrics: options.metrics, level },
    );
    rows.push({ label: g.label, config: g.config, summary: detail.summary, perTask: detail.perTask, failed: g.failed, detail });
  }
  const out: SweepDeltaM = {
    baseline: base.label,
    level,
    rows,
    summaries: () => Object.fromEntries(rows.map((r) => [r.label, r.summary])),
    toDataFrame: () =>
      toFrame(
        rows.map((r) => ({
          label: r.label,
          deltaM: r.summary.mean,
          std: r.summary.std,
          low: r.summary.interval?.low ?? NaN,
          high: r.summary.interval?.high ?? NaN,
          n: r.summary.n,
          ...Object.fromEntries(Object.entries(r.perTask).map(([t, s]) => [t, s.mean])),
        })),
      ),
  };
  return withDisplay(out, deltaMBundle);
}

function deltaMBundle(d: SweepDeltaM): MimeBundle {
  const tasks = d.rows.length ? Object.keys(d.rows[0].perTask) : [];
  const pct = Math.round(d.level * 100);
  const rows: Cell[][] = d.rows.map((r) => [
    r.label,
    `${signed(r.summary.mean)} %`,
    r.summary.interval ? `[${signed(r.summary.interval.low)}, ${signed(r.summary.interval.high)}]` : "– (n < 2)",
    fmt(r.summary.std, 3),
    `${r.summary.n}${r.failed ? ` (+${r.failed} failed)` : ""}`,
    ...tasks.map((t) => `${signed(r.perTask[t].mean)} %`),
  ]);
  return tablesBundle([
    {
      title: `Δm% against '${d.baseline}' (${pct} % Student-t interval over seeds)`,
      headers: ["configuration", "Δm", `${pct} % interval`, "std", "seeds", ...tasks],
      rows,
      numeric: [false, true, true, true, true, ...tasks.map(() => true)],
      notes: ["Δm > 0: better than the baseline on average over tasks and metrics."],
    },
  ]);
}

/**
 * {@link negativeTransfer}'s answer: per configuration and task, whether multi-task training helped,
 * hurt or made no difference beyond the spread over seeds. Displays as a table in a notebook.
 */
export interface SweepTransfer {
  /** The baseline group's label. */
  baseline: string;
  /** Per configuration label, its negative-transfer report against the baseline. */
  reports: Record<string, NegativeTransferReport>;
  /** Every report's rows, each with its configuration's label. */
  rows: Array<TransferRow & { label: string }>;
  /** The rows as a danfo.js DataFrame. */
  toDataFrame(): import("danfojs-node").DataFrame;
}

/** Per configuration and task, does it beat the baseline beyond the spread over seeds (Welch interval)? */
export function negativeTransfer(result: SweepResult, options: SweepComparisonOptions & { margin?: number }): SweepTransfer {
  const where = "sweep negativeTransfer";
  checkKnownOptions(where, options, [...OPTIONS, "margin"]);
  const all = groups(result, options.by);
  const base = pick(where, all, options.baseline);
  const dirs = directionsFor(where, all, options);
  const baseTables = base.records.map((r) => metricTableOf(r, where));
  const reports: Record<string, NegativeTransferReport> = {};
  for (const g of all) {
    if (g === base || g.records.length === 0) continue;
    reports[g.label] = transferReport(
      g.records.map((r) => metricTableOf(r, where)),
      baseTables,
      { ...dirs, metrics: options.metrics, level: options.level, margin: options.margin },
    );
  }
  const rows = Object.entries(reports).flatMap(([label, rep]) => rep.rows.map((row) => ({ label, ...row })));
  const out: SweepTransfer = {
    baseline: base.label,
    reports,
    rows,
    toDataFrame: () =>
      toFrame(
        rows.map((r) => ({
          label: r.label,
          task: r.task,
          metric: r.metric,
          multiTask: r.multiTask.mean,
          baseline: r.singleTask.mean,
          difference: r.difference,
          low: r.interval?.low ?? NaN,
          high: r.interval?.high ?? NaN,
          verdict: r.verdict,
        })),
      ),
  };
  return withDisplay(out, transferBundle);
}

function transferBundle(t: SweepTransfer): MimeBundle {
  const rows: Cell[][] = t.rows.map((r) => [
    r.label,
    r.task,
    `${r.metric} ${r.higherIsBetter ? "↑" : "↓"}`,
    `${fmt(r.multiTask.mean)} ± ${fmt(r.multiTask.std, 2)}`,
    `${fmt(r.singleTask.mean)} ± ${fmt(r.singleTask.std, 2)}`,
    signed(r.difference),
    r.interval ? `[${signed(r.interval.low)}, ${signed(r.interval.high)}]` : "–",
    r.verdict,
  ]);
  return tablesBundle([
    {
      title: `Against '${t.baseline}', task by task`,
      headers: ["configuration", "task", "metric", "its runs", "baseline", "difference", "interval", "verdict"],
      rows,
      numeric: [false, false, false, true, true, true, true, false],
      notes: ["difference > 0: the configuration is better; a verdict needs the whole interval beyond ±margin, else inconclusive."],
    },
  ]);
}
