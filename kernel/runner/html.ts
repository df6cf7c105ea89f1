/**
 * A notebook as one standalone HTML page that renders offline: inputs highlighted, Markdown
 * and math rendered at export time (markdown-it, KaTeX; see ./markdown), outputs in their
 * richest format, and plotly figures drawn by plotly.js inlined once. KaTeX's stylesheet and
 * fonts are inlined too, on pages that hold math.
 */
import * as fs from "fs";
import { Layout, normalizeLayout, normalizeTrace, Trace } from "../../lib/viz/figure";
import { escapeHtml, PLOTLY_MIME, plotlyHtml, plotlyJs } from "../display";
import { katexCss } from "./katexAssets";
import { highlightCode, latexToHtml, markdownToHtml } from "./markdown";
import { Cell, joinSource, MultilineString, Notebook, Output } from "./notebook";

export { markdownToHtml } from "./markdown";

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes this strips.
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const PLOTLY_MARKER = "plotly.js v";

function text(v: unknown): string {
  return typeof v === "string" || Array.isArray(v) ? joinSource(v as MultilineString) : JSON.stringify(v);
}

interface PageState {
  plotlyIncluded: boolean;
  /** The notebook's language, for highlighting code cells. */
  language: string;
}

function renderOutput(o: Output, state: PageState): string {
  if (o.output_type === "stream") {
    const cls = o.name === "stderr" ? "stderr" : "stdout";
    return `<pre class="output ${cls}">${escapeHtml(text(o.text))}</pre>`;
  }
  if (o.output_type === "error") {
    const tb = ((o.traceback as string[]) ?? []).join("\n").replace(ANSI, "");
    return `<pre class="output error">${escapeHtml(tb || `${String(o.ename)}: ${String(o.evalue)}`)}</pre>`;
  }
  const data = (o.data ?? {}) as Record<string, unknown>;
  // A figure is drawn from its JSON rather than from the kernel's text/html, so that figures
  // saved with plotly.js 2's plain-string titles still show them, and plotly.js is inlined once.
  if (PLOTLY_MIME in data && typeof data[PLOTLY_MIME] === "object" && data[PLOTLY_MIME] !== null) {
    const fig = data[PLOTLY_MIME] as { data?: Trace[]; layout?: Layout; config?: unknown };
    const normalized = { ...fig, data: (fig.data ?? []).map(normalizeTrace), layout: normalizeLayout(fig.layout ?? {}, fig.data ?? []) };
    const html = plotlyHtml(normalized, !state.plotlyIncluded);
    state.plotlyIncluded = true;
    return `<div class="output html">${html}</div>`;
  }
  if ("text/html" in data) {
    const html = text(data["text/html"]);
    if (html.includes(PLOTLY_MARKER)) state.plotlyIncluded = true;
    return `<div class="output html">${html}</div>`;
  }
  if ("image/svg+xml" in data) return `<div class="output svg">${text(data["image/svg+xml"])}</div>`;
  for (const img of ["image/png", "image/jpeg", "image/gif"]) {
    if (img in data) return `<div class="output"><img src="data:${img};base64,${text(data[img]).replace(/\s/g, "")}"></div>`;
  }
  if ("text/markdown" in data) return `<div class="output markdown">${markdownToHtml(text(data["text/markdown"]))}</div>`;
  if ("text/latex" in data) return `<div class="output latex">${latexToHtml(text(data["text/latex"]))}</div>`;
  if ("text/plain" in data) return `<pre class="output">${escapeHtml(text(data["text/plain"]))}</pre>`;
  return "";
}

/** A cell; `data-cell` is its index in the notebook, so a check can find each cell's rendering. */
function renderCell(cell: Cell, index: number, state: PageState): string {
  const src = joinSource(cell.source);
  if (cell.cell_type === "markdown") return `<div class="cell markdown" data-cell="${index}">${markdownToHtml(src)}</div>`;
  if (cell.cell_type === "raw") return `<pre class="cell raw" data-cell="${index}">${escapeHtml(src)}</pre>`;
  const count = cell.execution_count ?? " ";
  const outputs = (cell.outputs ?? []).map((o) => renderOutput(o, state)).join("\n");
  return (
    `<div class="cell code" data-cell="${index}"><div class="input"><span class="prompt">In [${count}]:</span>` +
    `<pre><code class="hljs language-${escapeHtml(state.language)}">${highlightCode(src, state.language)}</code></pre></div>\n` +
    `<div class="outputs">${outputs}</div></div>`
  );
}

/** The notebook's language (language_info, then kernelspec), lower case; TypeScript by default. */
function notebookLanguage(nb: Notebook): string {
  const info = nb.metadata.language_info as { name?: unknown } | undefined;
  const spec = nb.metadata.kernelspec as { language?: unknown } | undefined;
  const name = typeof info?.name === "string" ? info.name : typeof spec?.language === "string" ? spec.language : "typescript";
  return name.toLowerCase();
}

let highlightCss: string | null = null;

/** highlight.js's GitHub theme, read once. */
function codeCss(): string {
  highlightCss ??= fs.readFileSync(require.resolve("highlight.js/styles/github.min.css"), "utf8");
  return highlightCss;
}

const CSS = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
.cell{margin:1em 0}.input{display:flex;gap:.5em}.prompt{color:#307fc1;font-family:monospace;min-width:5em}
.input pre{flex:1;border:1px solid #e0e0e0;margin:0;overflow:auto}.input pre code.hljs{background:#f7f7f7;padding:.5em}
.outputs{margin-left:5.5em}.output{margin:.3em 0;overflow:auto}pre.output{white-space:pre-wrap}
.stderr{background:#fdd}.error{background:#fee;color:#a00}table.dataframe{border-collapse:collapse}
table.dataframe td,table.dataframe th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
.markdown table{border-collapse:collapse;margin:.5em 0}.markdown th,.markdown td{border:1px solid #ccc;padding:.25em .6em}
.markdown th{background:#f3f3f3}.markdown pre{background:#f7f7f7;padding:.5em;overflow:auto}.katex-block{overflow-x:auto}
.katex-error{color:#c00}.output.latex{overflow-x:auto}`;

/**
 * The whole page: `<style>` with the page's CSS, highlight.js's theme and (when the page holds
 * math) KaTeX's CSS with its fonts; then one element per cell.
 */
export function notebookToHtml(nb: Notebook, title: string): string {
  const state: PageState = { plotlyIncluded: false, language: notebookLanguage(nb) };
  const body = nb.cells.map((c, i) => renderCell(c, i, state)).join("\n");
  const math = body.includes('class="katex');
  // Outputs that draw with window.Plotly but came without the library (e.g. a
  // kernel session that had sent it earlier) get it in the page head.
  const needsLib = !state.plotlyIncluded && body.includes("Plotly.newPlot");
  const head = needsLib ? `<script type="text/javascript">${plotlyJs()}</script>` : "";
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${CSS}\n${codeCss()}</style>${math ? `\n<style>${katexCss()}</style>` : ""}${head}</head>
<body>\n${body}\n</body></html>\n`;
}
