/**
 * Values to MIME bundles. A bundle always carries text/plain; rich types add
 * their formats. Known types: anything with a [Symbol.for("Jupyter.display")]()
 * method (Deno's convention), danfo DataFrame/Series, plotly figures, tfjs
 * tensors. Plotly bundles get text/html that draws the figure offline.
 */
import * as fs from "fs";
import { inspect } from "util";
import { randomBytes } from "crypto";
import { normalizeLayout, normalizeTrace } from "../lib/viz/figure";

export type MimeBundle = Record<string, unknown>;

export const JUPYTER_DISPLAY = Symbol.for("Jupyter.display");
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";
const MAX_ROWS = 20;

export function plainText(value: unknown): string {
  if (typeof value === "string") return inspect(value);
  return inspect(value, { depth: 4, maxArrayLength: 50, maxStringLength: 2000, breakLength: 100 });
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function ctorName(v: object): string {
  return (v as { constructor?: { name?: string } }).constructor?.name ?? "";
}

interface FrameLike {
  columns: string[];
  index: (string | number)[];
  values: unknown[];
  shape: number[];
}

function isDanfo(v: object): v is FrameLike {
  const n = ctorName(v);
  return (
    (n === "DataFrame" || n === "Series") &&
    Array.isArray((v as FrameLike).columns) &&
    Array.isArray((v as FrameLike).index) &&
    Array.isArray((v as FrameLike).values)
  );
}

function rowsToShow(n: number): number[] {
  if (n <= MAX_ROWS) return [...Array(n).keys()];
  const half = MAX_ROWS / 2;
  return [...[...Array(half).keys()], -1, ...[...Array(half).keys()].map((i) => n - half + i)];
}

function cell(v: unknown): string {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, "");
  if (v === null || v === undefined) return "NaN";
  return String(v);
}

/** HTML table + aligned text for a danfo DataFrame or Series. */
function danfoBundle(v: FrameLike): MimeBundle {
  const series = ctorName(v) === "Series";
  const columns = v.columns;
  const rows = series ? v.values.map((x) => [x]) : (v.values as unknown[][]);
  const show = rowsToShow(rows.length);
  const head = `<tr><th></th>${columns.map((c) => `<th>${escapeHtml(String(c))}</th>`).join("")}</tr>`;
  const body = show
    .map((i) =>
      i < 0
        ? `<tr><th>…</th>${columns.map(() => "<td>…</td>").join("")}</tr>`
        : `<tr><th>${escapeHtml(String(v.index[i]))}</th>${rows[i].map((x) => `<td>${escapeHtml(cell(x))}</td>`).join("")}</tr>`,
    )
    .join("");
  const shape = series ? `${rows.length} rows` : `${rows.length} rows × ${columns.length} columns`;
  const htmlTable =
    `<div class="mtlkit-dataframe"><table class="dataframe" border="1"><thead>${head}</thead>` +
    `<tbody>${body}</tbody></table><p>${shape}</p></div>`;
  const textRows = [["", ...columns.map(String)]];
  for (const i of show) textRows.push(i < 0 ? ["…", ...columns.map(() => "…")] : [String(v.index[i]), ...rows[i].map(cell)]);
  const widths = textRows[0].map((_, j) => Math.max(...textRows.map((r) => (r[j] ?? "").length)));
  const text = textRows.map((r) => r.map((c, j) => c.padStart(widths[j])).join("  ")).join("\n") + `\n\n[${shape}]`;
  return { "text/plain": text, "text/html": htmlTable };
}

interface TensorLike {
  shape: number[];
  dtype: string;
  isDisposed?: boolean;
  toString(verbose?: boolean): string;
}

function isTensor(v: object): v is TensorLike {
  return (
    Array.isArray((v as TensorLike).shape) &&
    typeof (v as TensorLike).dtype === "string" &&
    typeof (v as { dataSync?: unknown }).dataSync === "function" &&
    typeof (v as { rank?: unknown }).rank === "number"
  );
}

function tensorBundle(t: TensorLike): MimeBundle {
  const title = `${ctorName(t) || "Tensor"} ${t.dtype} [${t.shape.join(", ")}]`;
  if (t.isDisposed) return { "text/plain": `${title} (disposed)` };
  // tfjs abbreviates large tensors itself ("...") when printing.
  const body = t.toString().split("\n").slice(1).join("\n");
  return {
    "text/plain": `${title}\n${body}`,
    "text/html": `<div class="mtlkit-tensor"><b>${escapeHtml(title)}</b><pre>${escapeHtml(body)}</pre></div>`,
  };
}

interface FigureLike {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
}

function isPlotlyFigure(v: object): v is FigureLike {
  const f = v as Partial<FigureLike>;
  if (!Array.isArray(f.data) || f.data.length === 0) return false;
  if (!f.data.every((t) => t && typeof t === "object" && !Array.isArray(t))) return false;
  const traceLike = f.data.every((t) => typeof t.type === "string" || "x" in t || "y" in t || "values" in t);
  return traceLike && (f.layout === undefined || (typeof f.layout === "object" && f.layout !== null));
}

function figureText(fig: FigureLike): string {
  const kinds = [...new Set(fig.data.map((t) => String(t.type ?? "scatter")))];
  const title = fig.layout?.title;
  const t = typeof title === "string" ? title : (title as { text?: string } | undefined)?.text;
  return `Figure: ${fig.data.length} trace${fig.data.length === 1 ? "" : "s"} (${kinds.join(", ")})${t ? ` — ${t}` : ""}`;
}

/** The bundle for a value; null for undefined. */
export function toMimeBundle(value: unknown): MimeBundle | null {
  if (value === undefined) return null;
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    const hook = (value as Record<symbol, unknown>)[JUPYTER_DISPLAY];
    if (typeof hook === "function") {
      const bundle = (hook as () => unknown).call(value);
      if (bundle && typeof bundle === "object") {
        const b = { ...(bundle as MimeBundle) };
        if (!("text/plain" in b)) {
          b["text/plain"] = PLOTLY_MIME in b ? figureText(b[PLOTLY_MIME] as FigureLike) : plainText(value);
        }
        return b;
      }
    }
    if (typeof value === "object") {
      if (isDanfo(value)) return danfoBundle(value);
      if (isTensor(value)) return tensorBundle(value);
      if (isPlotlyFigure(value)) {
        // A raw { data, layout } gets the same plotly.js 3 title form as mtl.viz.figure's.
        const fig = { data: value.data.map(normalizeTrace), layout: normalizeLayout(value.layout ?? {}, value.data) };
        return { [PLOTLY_MIME]: fig, "text/plain": figureText(fig) };
      }
    }
  }
  return { "text/plain": plainText(value) };
}

/** JSON that is safe inside an HTML <script>. */
export function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

let plotlySource: string | null = null;

export function plotlyJs(): string {
  if (plotlySource === null) {
    const file = require.resolve("plotly.js-dist-min/plotly.min.js");
    plotlySource = fs.readFileSync(file, "utf8").replace(/<\/(script)/gi, "<\\/$1");
  }
  return plotlySource;
}

/** HTML that draws a plotly figure; includes plotly.js itself when `inlineLibrary`. */
export function plotlyHtml(fig: { data?: unknown; layout?: unknown; config?: unknown }, inlineLibrary: boolean): string {
  const id = `mtlkit-plot-${randomBytes(6).toString("hex")}`;
  const layout = (fig.layout ?? {}) as { height?: number };
  const height = typeof layout.height === "number" ? layout.height : 420;
  const lib = inlineLibrary ? `<script type="text/javascript">${plotlyJs()}</script>\n` : "";
  const draw =
    `(function(){var el=document.getElementById(${JSON.stringify(id)});var fig=${scriptJson(fig)};` +
    `var tries=0;function draw(){if(window.Plotly){window.Plotly.newPlot(el,fig.data||[],fig.layout||{},` +
    `Object.assign({responsive:true},fig.config||{}));}else if(tries++<200){setTimeout(draw,50);}}draw();})();`;
  return `<div id="${id}" class="mtlkit-plotly" style="width:100%;height:${height}px;"></div>\n${lib}<script type="text/javascript">${draw}</script>`;
}

/**
 * Adds text/html to bundles that carry a plotly figure, inlining plotly.js in
 * the first one of the session (later ones reuse window.Plotly).
 */
export class PlotlyInliner {
  private inlined = false;

  enrich(bundle: MimeBundle): MimeBundle {
    const fig = bundle[PLOTLY_MIME];
    if (!fig || typeof fig !== "object" || "text/html" in bundle) return bundle;
    const html = plotlyHtml(fig as FigureLike, !this.inlined);
    this.inlined = true;
    return {
      ...bundle,
      "text/html": html,
      "text/plain": bundle["text/plain"] ?? figureText(fig as FigureLike),
    };
  }

  reset(): void {
    this.inlined = false;
  }
}

function templateText(strings: TemplateStringsArray | string, values: unknown[]): string {
  if (typeof strings === "string") return strings;
  return strings.reduce((acc, s, i) => acc + s + (i < values.length ? String(values[i]) : ""), "");
}

function displayable(bundle: MimeBundle): object {
  return { [JUPYTER_DISPLAY]: () => bundle };
}

function base64(data: Uint8Array | string): string {
  return typeof data === "string" ? data : Buffer.from(data).toString("base64");
}

/** The html``/md``/latex``/svg``/png()/jpeg() helpers. */
export const helpers = {
  html: (s: TemplateStringsArray | string, ...v: unknown[]) => {
    const t = templateText(s, v);
    return displayable({ "text/html": t, "text/plain": t });
  },
  md: (s: TemplateStringsArray | string, ...v: unknown[]) => {
    const t = templateText(s, v);
    return displayable({ "text/markdown": t, "text/plain": t });
  },
  latex: (s: TemplateStringsArray | string, ...v: unknown[]) => {
    const t = templateText(s, v);
    return displayable({ "text/latex": t, "text/plain": t });
  },
  svg: (s: TemplateStringsArray | string, ...v: unknown[]) => {
    const t = templateText(s, v);
    return displayable({ "image/svg+xml": t, "text/plain": "<SVG image>" });
  },
  png: (data: Uint8Array | string) => displayable({ "image/png": base64(data), "text/plain": "<PNG image>" }),
  jpeg: (data: Uint8Array | string) => displayable({ "image/jpeg": base64(data), "text/plain": "<JPEG image>" }),
};
