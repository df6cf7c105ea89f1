/** A sweep's results: one record per run, as plain data, a danfo DataFrame and a notebook display. */
import { withDisplay } from "../display/attach";
import { Cell, fmt, MimeBundle, tablesBundle } from "../display/table";
import { toFrame } from "../train/history";
import type { Configuration, RunSpec } from "./definition";
import { configLabel } from "./definition";
import { duration } from "./progress";
import type { RunRecord } from "./records";

/**
 * What {@link run} resolves with: the sweep's runs and their newest records (the successful and the
 * failed ones apart), which settings vary, and how the call went. Displays in a notebook as a table;
 * `toDataFrame()` gives the same rows to danfo.js, and {@link deltaM} and {@link negativeTransfer} compare its groups.
 */
export interface SweepResult {
  /** The sweep's identity hash (see `define`). */
  identity: string;
  /** The results file, when the sweep kept one. */
  resultsFile?: string;
  /** Every run of the sweep, in order. */
  runs: RunSpec[];
  /** The newest record of each run that has one, in the sweep's order. */
  records: RunRecord[];
  /** Of `records`, the runs that succeeded. */
  ok: RunRecord[];
  /** Of `records`, the runs that failed (`error` says why). */
  failed: RunRecord[];
  /** Settings that differ between configurations (the columns that tell runs apart). */
  varying: string[];
  /** Runs found finished in the results file (not run again). */
  resumed: number;
  /** Runs run in this call. */
  ran: number;
  /** Wall time of this call, seconds. */
  seconds: number;
  /** Where the runs ran: "2 worker processes" or the queue. */
  where: string;
  /** One row per run with a record: run, label, each setting, seed, status, seconds, worker, error, then each metric ("task.metric" for a metric table). */
  toDataFrame(): import("danfojs-node").DataFrame;
}

export function makeResult(fields: Omit<SweepResult, "toDataFrame" | "ok" | "failed">): SweepResult {
  const result: SweepResult = {
    ...fields,
    ok: fields.records.filter((r) => r.status === "ok"),
    failed: fields.records.filter((r) => r.status === "failed"),
    toDataFrame: () => toFrame(resultRows(result)),
  };
  return withDisplay(result, resultBundle);
}

/** The metric columns of a record: "metric" or "task.metric". */
export function flatMetrics(record: RunRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(record.metrics ?? {})) {
    if (typeof v === "number") out[k] = v;
    else for (const [m, x] of Object.entries(v)) out[`${k}.${m}`] = x;
  }
  return out;
}

function cellValue(v: unknown): string | number | boolean {
  if (v === undefined || v === null) return "";
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  return JSON.stringify(v);
}

/** The rows of `toDataFrame`, as plain objects. */
export function resultRows(result: SweepResult): Array<Record<string, unknown>> {
  const settings: string[] = [];
  for (const r of result.records) for (const k of Object.keys(r.config)) if (!settings.includes(k)) settings.push(k);
  const metrics: string[] = [];
  for (const r of result.records) for (const k of Object.keys(flatMetrics(r))) if (!metrics.includes(k)) metrics.push(k);
  return result.records.map((r) => {
    const row: Record<string, unknown> = { run: r.run, label: r.label };
    for (const k of settings) row[k] = cellValue((r.config as Configuration)[k]);
    Object.assign(row, {
      seed: r.seed,
      status: r.status,
      seconds: r.seconds,
      worker: r.worker,
      error: r.error ? `${r.error.kind}: ${r.error.message}` : "",
    });
    const m = flatMetrics(r);
    for (const k of metrics) row[k] = m[k] ?? NaN;
    return row;
  });
}

function resultBundle(result: SweepResult): MimeBundle {
  const byConfig = new Map<string, { ok: number; failed: number; seconds: number[] }>();
  for (const run of result.runs) {
    const label = configLabel(run.config, result.varying);
    if (!byConfig.has(label)) byConfig.set(label, { ok: 0, failed: 0, seconds: [] });
  }
  for (const r of result.records) {
    const g = byConfig.get(configLabel(r.config, result.varying));
    if (!g) continue;
    if (r.status === "ok") g.ok++;
    else g.failed++;
    g.seconds.push(r.seconds);
  }
  const perConfig = result.runs.length / Math.max(byConfig.size, 1);
  const rows: Cell[][] = [...byConfig.entries()].map(([label, g]) => [
    label,
    `${g.ok}/${perConfig}`,
    String(g.failed),
    g.seconds.length ? fmt(g.seconds.reduce((a, b) => a + b, 0) / g.seconds.length, 3) : "–",
  ]);
  const missing = result.runs.length - result.records.length;
  const title =
    `Sweep: ${result.runs.length} runs, ${result.ok.length} ok, ${result.failed.length} failed` +
    (missing > 0 ? `, ${missing} not run` : "") +
    ` · ${result.ran} run now in ${duration(result.seconds)} on ${result.where}` +
    (result.resumed > 0 ? `, ${result.resumed} from the results file` : "");
  const tables = [
    {
      title,
      headers: ["configuration", "ok", "failed", "mean s / run"],
      rows,
      numeric: [false, true, true, true],
      notes: result.resultsFile ? [`Results file: ${result.resultsFile}`] : [],
    },
  ];
  if (result.failed.length > 0) {
    tables.push({
      title: "Failed runs (they run again when the sweep is re-run)",
      headers: ["run", "why", "error"],
      rows: result.failed.slice(0, 20).map((r) => [r.label, r.error?.kind ?? "", (r.error?.message ?? "").split("\n")[0]]),
      numeric: [false, false, false],
      notes: result.failed.length > 20 ? [`… and ${result.failed.length - 20} more (.failed)`] : [],
    });
  }
  return tablesBundle(tables);
}
