/**
 * One table, two renderings: an HTML <table> for Jupyter and aligned text for
 * consoles and text/plain. Every string that reaches HTML goes through escapeHtml.
 */

export type MimeBundle = Record<string, unknown>;

/** A cell: text, or HTML that this module's callers built from escaped parts, with its text twin. */
export type Cell = string | { html: string; text: string };

export interface Table {
  /** A line above the table (plain text; escaped). */
  title: string;
  headers: string[];
  rows: Cell[][];
  /** Lines under the table (plain text; escaped). */
  notes?: string[];
  /** Per column: align right (numbers). */
  numeric?: boolean[];
}

/** Bounds of text/plain, so that a huge model or run never floods a console. */
export const TEXT_ROWS = 24;
export const TEXT_WIDTH = 110;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A number for people: 4 significant digits, integers as they are, ± and exponents where needed. */
export function fmt(v: number | undefined, digits = 4): string {
  if (v === undefined || v === null) return "–";
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (Number.isInteger(v) && Math.abs(v) < 1e9) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(digits - 1);
  return Number(v.toPrecision(digits)).toString();
}

/** A signed number, "+1.23" / "−0.5". */
export function signed(v: number, digits = 3): string {
  const s = fmt(Math.abs(v), digits);
  return v > 0 ? `+${s}` : v < 0 ? `−${s}` : s;
}

/** 1234567 -> "1,234,567". */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

function cellHtml(c: Cell): string {
  return typeof c === "string" ? escapeHtml(c) : c.html;
}

function cellText(c: Cell): string {
  return typeof c === "string" ? c : c.text;
}

function clip(s: string, width: number): string {
  return s.length <= width ? s : s.slice(0, width - 1) + "…";
}

const STYLE = "border-collapse:collapse;font-variant-numeric:tabular-nums;margin:0.3em 0";
const TH = "text-align:left;padding:2px 10px;border-bottom:1px solid #999";
const TD = "padding:2px 10px;border-bottom:1px solid #e5e5e5";

export function htmlTable(t: Table): string {
  const align = (j: number) => (t.numeric?.[j] ? "text-align:right;" : "text-align:left;");
  const head = t.headers.map((h, j) => `<th style="${TH};${align(j)}">${escapeHtml(h)}</th>`).join("");
  const body = t.rows.map((r) => `<tr>${r.map((c, j) => `<td style="${TD};${align(j)}">${cellHtml(c)}</td>`).join("")}</tr>`).join("");
  const notes = (t.notes ?? []).map((n) => `<div style="color:#555;font-size:90%">${escapeHtml(n)}</div>`).join("");
  return (
    `<div class="mtlkit-report"><div style="font-weight:600">${escapeHtml(t.title)}</div>` +
    `<table class="mtlkit-table" style="${STYLE}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${notes}</div>`
  );
}

/** Column widths that fit `limit`: the widest columns give way first, down to 8 characters. */
function fitWidths(natural: number[], limit: number): number[] {
  const w = [...natural];
  const gaps = 2 * (w.length - 1);
  let total = w.reduce((a, b) => a + b, 0) + gaps;
  while (total > limit) {
    const widest = w.indexOf(Math.max(...w));
    if (w[widest] <= 8) break;
    w[widest]--;
    total--;
  }
  return w;
}

/** Aligned columns, at most TEXT_ROWS rows and about TEXT_WIDTH characters a line. */
export function textTable(t: Table): string {
  const shown = t.rows.length > TEXT_ROWS ? t.rows.slice(0, TEXT_ROWS) : t.rows;
  const raw = [t.headers, ...shown.map((r) => r.map(cellText))];
  const widths = fitWidths(
    t.headers.map((_, j) => Math.max(...raw.map((r) => (r[j] ?? "").length))),
    TEXT_WIDTH,
  );
  const lines = raw.map((r) =>
    r
      .map((c, j) => {
        const s = clip(c, widths[j]);
        return t.numeric?.[j] ? s.padStart(widths[j]) : s.padEnd(widths[j]);
      })
      .join("  ")
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => "─".repeat(w)).join("  "));
  if (shown.length < t.rows.length) lines.push(`… ${t.rows.length - shown.length} more rows`);
  return [clip(t.title, TEXT_WIDTH * 2), ...lines, ...(t.notes ?? []).map((n) => clip(n, TEXT_WIDTH * 2))].join("\n");
}

/** The bundle of one or more tables: HTML tables (with extra HTML after them) and their text. */
export function tablesBundle(tables: Table[], extraHtml = ""): MimeBundle {
  return {
    "text/html": tables.map(htmlTable).join("") + extraHtml,
    "text/plain": tables.map(textTable).join("\n\n"),
  };
}
