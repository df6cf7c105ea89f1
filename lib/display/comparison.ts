/** Displays of the multi-task vs single-task comparisons: Δm (one run, over seeds) and negative transfer. */
import type { DeltaM, DeltaMOverSeeds } from "../eval/deltaM";
import type { NegativeTransferReport } from "../eval/negativeTransfer";
import type { Summary } from "../eval/stats";
import { escapeHtml, fmt, MimeBundle, signed, tablesBundle } from "./table";
import type { Cell } from "./table";

const SIGN_NOTE = "Δm > 0: the multi-task model beats the single-task baselines.";

function pct(v: number): string {
  return `${signed(v)} %`;
}

export function deltaMBundle(d: DeltaM): MimeBundle {
  const rows: Cell[][] = [];
  for (const [task, terms] of Object.entries(d.terms)) {
    Object.entries(terms).forEach(([metric, term], i) =>
      rows.push([i === 0 ? task : "", metric, d.directions[task]?.[metric] ? "↑" : "↓", pct(term), i === 0 ? pct(d.perTask[task]) : ""]),
    );
  }
  return tablesBundle([
    {
      title: `Δm = ${pct(d.value)}`,
      headers: ["task", "metric", "better", "term", "task mean"],
      rows,
      numeric: [false, false, false, true, true],
      notes: [SIGN_NOTE],
    },
  ]);
}

function interval(s: Summary): string {
  return s.interval ? `[${signed(s.interval.low)}, ${signed(s.interval.high)}]` : "– (n < 2)";
}

export function deltaMOverSeedsBundle(d: DeltaMOverSeeds): MimeBundle {
  const level = d.summary.interval?.level ?? 0.95;
  const rows: Cell[][] = [
    [{ html: "<b>Δm</b>", text: "Δm" }, pct(d.summary.mean), fmt(d.summary.std, 3), interval(d.summary), String(d.summary.n)],
    ...Object.entries(d.perTask).map(([t, s]) => [t, pct(s.mean), fmt(s.std, 3), interval(s), String(s.n)]),
  ];
  return tablesBundle([
    {
      title: `Δm over ${d.runs.length} seed${d.runs.length === 1 ? "" : "s"}: ${pct(d.summary.mean)} ${interval(d.summary)}`,
      headers: ["", "mean", "std", `${Math.round(level * 100)} % interval`, "n"],
      rows,
      numeric: [false, true, true, true, true],
      notes: [SIGN_NOTE, "Baseline: the mean over the single-task runs (.baseline); each run: .runs"],
    },
  ]);
}

const VERDICT_COLOR: Record<string, string> = { helps: "#1a7f37", hurts: "#cf222e", inconclusive: "#6e7781" };

export function negativeTransferBundle(r: NegativeTransferReport): MimeBundle {
  const ms = (m: { mean: number; std: number; n: number }) => `${fmt(m.mean)} ± ${fmt(m.std, 2)} (n=${m.n})`;
  const rows: Cell[][] = r.rows.map((x) => [
    x.task,
    `${x.metric} ${x.higherIsBetter ? "↑" : "↓"}`,
    ms(x.multiTask),
    ms(x.singleTask),
    signed(x.difference),
    x.interval ? `[${signed(x.interval.low)}, ${signed(x.interval.high)}]` : "–",
    {
      html: `<span style="color:${VERDICT_COLOR[x.verdict] ?? "inherit"};font-weight:600" title="${escapeHtml(x.reason)}">${escapeHtml(x.verdict)}</span>`,
      text: x.verdict,
    },
  ]);
  const tally = ["helps", "hurts", "inconclusive"].map((v) => `${r.rows.filter((x) => x.verdict === v).length} ${v}`).join(", ");
  return tablesBundle([
    {
      title: `Negative transfer: ${tally}`,
      headers: ["task", "metric", "multi-task", "single-task", "difference", "interval", "verdict"],
      rows,
      numeric: [false, false, true, true, true, true, false],
      notes: [
        "difference > 0: the multi-task model is better; a verdict needs the whole interval beyond ±margin. Reasons: .rows[i].reason",
      ],
    },
  ]);
}
