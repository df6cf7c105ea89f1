/**
 * The display of a training History: per task the loss from first to last step
 * with a small inline SVG curve, the last weights and the last validation
 * numbers. Full plotly figures are `mtl.viz.trainingCurves(history)` and friends.
 */
import type { History } from "../train/history";
import { fmt, MimeBundle, tablesBundle } from "./table";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** A polyline of at most 200 points (min/max per bucket would hide nothing; the mean is enough here). */
export function sparkline(values: number[], color: string, width = 160, height = 28): string {
  const ys = values.filter((v) => Number.isFinite(v));
  if (ys.length < 2) return "";
  const buckets = Math.min(200, ys.length);
  const pts: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = Math.floor((b * ys.length) / buckets);
    const hi = Math.max(lo + 1, Math.floor(((b + 1) * ys.length) / buckets));
    let s = 0;
    for (let i = lo; i < hi; i++) s += ys[i];
    pts.push(s / (hi - lo));
  }
  const min = Math.min(...pts);
  const max = Math.max(...pts);
  const span = max - min || 1;
  const coords = pts
    .map(
      (v, i) => `${((i / (pts.length - 1)) * (width - 2) + 1).toFixed(1)},${(height - 1 - ((v - min) / span) * (height - 2)).toFixed(1)}`,
    )
    .join(" ");
  return (
    `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="loss curve">` +
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${coords}"/></svg>`
  );
}

export function historyBundle(h: History): MimeBundle {
  const tasks = [...h.taskNames];
  const steps = tasks.length ? h.lossCurve(tasks[0]).length : 0;
  const last = h.epochs[h.epochs.length - 1];
  const seconds = h.epochs.reduce((s, e) => s + (e.seconds ?? 0), 0);
  const rows = tasks.map((t, i) => {
    const curve = h.lossCurve(t);
    const finite = curve.filter((v) => Number.isFinite(v));
    const w = h.weightCurve(t);
    const val = last?.validationMetrics?.[t];
    const valText = val
      ? Object.entries(val)
          .map(([k, v]) => `${k} ${fmt(v)}`)
          .join(", ")
      : "–";
    return [
      t,
      fmt(curve[0]),
      fmt(curve[curve.length - 1]),
      fmt(finite.length ? Math.min(...finite) : undefined),
      { html: sparkline(curve, COLORS[i % COLORS.length]), text: "" },
      fmt(w[w.length - 1]),
      fmt(last?.validationLoss?.[t]),
      valText,
    ];
  });
  const run = h.run ? `; ${h.run.backend} on ${h.run.device}` : "";
  const table = {
    title: `Training history: ${steps} steps, ${h.epochs.length} epoch${h.epochs.length === 1 ? "" : "s"}, ${fmt(seconds, 3)} s${run}`,
    headers: ["task", "first loss", "last loss", "min loss", "curve", "last weight", "val loss", "val metrics"],
    rows,
    numeric: [false, true, true, true, false, true, true, false],
    notes: ["Figures: mtl.viz.trainingCurves(history), weightCurves(history); rows: history.toDataFrame()"],
  };
  const bundle = tablesBundle([table]);
  // The curve column carries no text: drop it from text/plain.
  const text = tablesBundle([
    {
      ...table,
      headers: table.headers.filter((_, j) => j !== 4),
      rows: rows.map((r) => r.filter((_, j) => j !== 4)),
      numeric: table.numeric.filter((_, j) => j !== 4),
    },
  ])["text/plain"];
  return { ...bundle, "text/plain": text };
}
