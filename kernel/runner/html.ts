/**
 * A notebook as one standalone HTML page: inputs, outputs (richest format
 * first), and plotly figures that draw offline (plotly.js inlined once).
 */
import { escapeHtml, PLOTLY_MIME, plotlyHtml, plotlyJs } from "../display";
import { Cell, joinSource, MultilineString, Notebook, Output } from "./notebook";

// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the ANSI colour codes this strips.
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;
const PLOTLY_MARKER = "plotly.js v";

function text(v: unknown): string {
  return typeof v === "string" || Array.isArray(v) ? joinSource(v as MultilineString) : JSON.stringify(v);
}

/** A small Markdown subset: headings, lists, code, emphasis, links, paragraphs. */
export function markdownToHtml(md: string): string {
  const inline = (s: string) =>
    escapeHtml(s)
      .replace(/`([^`]+)`/g, "<code>$1</code>")
      .replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/\*([^*]+)\*/g, "<em>$1</em>")
      .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_m, t: string, href: string) =>
        /^(https?:|#|\.|\/)/.test(href) ? `<a href="${href}">${t}</a>` : t,
      );
  const out: string[] = [];
  const lines = md.split("\n");
  let para: string[] = [];
  let list: string[] | null = null;
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(" "))}</p>`);
    para = [];
    if (list) out.push(`<ul>${list.map((i) => `<li>${inline(i)}</li>`).join("")}</ul>`);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code: string[] = [];
      while (++i < lines.length && !lines[i].startsWith("```")) code.push(lines[i]);
      out.push(`<pre><code>${escapeHtml(code.join("\n"))}</code></pre>`);
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    const li = /^\s*[-*]\s+(.*)$/.exec(line);
    if (h) {
      flush();
      out.push(`<h${h[1].length}>${inline(h[2])}</h${h[1].length}>`);
    } else if (li) {
      if (para.length) flush();
      (list ??= []).push(li[1]);
    } else if (!line.trim()) {
      flush();
    } else {
      para.push(line.trim());
    }
  }
  flush();
  return out.join("\n");
}

interface PageState {
  plotlyIncluded: boolean;
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
  if ("text/html" in data) {
    const html = text(data["text/html"]);
    if (html.includes(PLOTLY_MARKER)) state.plotlyIncluded = true;
    return `<div class="output html">${html}</div>`;
  }
  if (PLOTLY_MIME in data) {
    const html = plotlyHtml(data[PLOTLY_MIME] as object, !state.plotlyIncluded);
    state.plotlyIncluded = true;
    return `<div class="output html">${html}</div>`;
  }
  if ("image/svg+xml" in data) return `<div class="output svg">${text(data["image/svg+xml"])}</div>`;
  for (const img of ["image/png", "image/jpeg", "image/gif"]) {
    if (img in data) return `<div class="output"><img src="data:${img};base64,${text(data[img]).replace(/\s/g, "")}"></div>`;
  }
  if ("text/markdown" in data) return `<div class="output markdown">${markdownToHtml(text(data["text/markdown"]))}</div>`;
  if ("text/latex" in data) return `<pre class="output latex">${escapeHtml(text(data["text/latex"]))}</pre>`;
  if ("text/plain" in data) return `<pre class="output">${escapeHtml(text(data["text/plain"]))}</pre>`;
  return "";
}

function renderCell(cell: Cell, state: PageState): string {
  const src = joinSource(cell.source);
  if (cell.cell_type === "markdown") return `<div class="cell markdown">${markdownToHtml(src)}</div>`;
  if (cell.cell_type === "raw") return `<pre class="cell raw">${escapeHtml(src)}</pre>`;
  const count = cell.execution_count ?? " ";
  const outputs = (cell.outputs ?? []).map((o) => renderOutput(o, state)).join("\n");
  return (
    `<div class="cell code"><div class="input"><span class="prompt">In [${count}]:</span>` +
    `<pre><code>${escapeHtml(src)}</code></pre></div>\n<div class="outputs">${outputs}</div></div>`
  );
}

const CSS = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
.cell{margin:1em 0}.input{display:flex;gap:.5em}.prompt{color:#307fc1;font-family:monospace;min-width:5em}
.input pre{flex:1;background:#f7f7f7;border:1px solid #e0e0e0;padding:.5em;margin:0;overflow:auto}
.outputs{margin-left:5.5em}.output{margin:.3em 0;overflow:auto}pre.output{white-space:pre-wrap}
.stderr{background:#fdd}.error{background:#fee;color:#a00}table.dataframe{border-collapse:collapse}
table.dataframe td,table.dataframe th{border:1px solid #ccc;padding:.2em .5em;text-align:right}`;

export function notebookToHtml(nb: Notebook, title: string): string {
  const state: PageState = { plotlyIncluded: false };
  const body = nb.cells.map((c) => renderCell(c, state)).join("\n");
  // Outputs that draw with window.Plotly but came without the library (e.g. a
  // kernel session that had sent it earlier) get it in the page head.
  const needsLib = !state.plotlyIncluded && body.includes("Plotly.newPlot");
  const head = needsLib ? `<script type="text/javascript">${plotlyJs()}</script>` : "";
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${CSS}</style>${head}</head>
<body>\n${body}\n</body></html>\n`;
}
