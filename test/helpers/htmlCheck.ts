/**
 * Checks an exported notebook page (`mtlkit run`'s HTML) the way a reader sees it: opened from
 * disk in headless Chromium (driven by puppeteer-core, ./chromium.ts), offline, after plotly has drawn.
 *
 * Whole page: no raw `$…$` / `$$` or pipe-table text in the rendered text outside code; no
 * KaTeX error; KaTeX's fonts loaded from the file itself; no request leaves the page's file.
 * Every plotly figure: drawn, with a title, a title on every axis that shows tick labels, the
 * title inside the figure, tick labels that do not overlap, and each axis title outside its
 * tick labels' band.
 * With the executed notebook: per Markdown cell (and `text/markdown` output) whose source has
 * math, `.katex` elements; with a pipe table, a `<table>`; every bullet in its own `<li>`, whole
 * (wrapped lines included) and in the source's order.
 */
import { launchChromium } from "./chromium";

/** The part of an nbformat 4 notebook the check reads. */
export interface CheckedNotebook {
  cells: Array<{
    cell_type: string;
    source?: string | string[];
    outputs?: Array<{ output_type: string; data?: Record<string, unknown> }>;
  }>;
}

/** What one plotly figure looked like once drawn. */
export interface FigureReport {
  /** The figure's position among the page's figures (0-based) and its notebook cell. */
  index: number;
  cell: number | null;
  drawn: boolean;
  title: string;
  /** Per axis shown with tick labels (`x`, `y2`…): its rendered title ("" when none). */
  axes: Record<string, string>;
}

export interface HtmlCheckReport {
  /** Every failed expectation, each naming where (cell, figure) and what; empty when the page passes. */
  problems: string[];
  figures: FigureReport[];
  /** Rendered formulas (`.katex` elements) and Markdown tables on the page. */
  katex: number;
  tables: number;
}

export interface HtmlCheckOptions {
  /** The executed notebook the page was made from, for the per-cell checks. */
  notebook?: CheckedNotebook;
  /** How long plotly may take to draw every figure (default 90 s). */
  timeoutMs?: number;
}

/** One Markdown text of the notebook and where the page renders it. */
interface MarkdownSource {
  where: string;
  /** CSS selector of its rendering. */
  selector: string;
  /** Which match of the selector (for several text/markdown outputs of one cell). */
  nth: number;
  text: string;
}

const joinText = (v: unknown): string => (Array.isArray(v) ? v.join("") : typeof v === "string" ? v : "");

/** The notebook's Markdown: its Markdown cells and the text/markdown outputs shown as Markdown. */
function markdownSources(nb: CheckedNotebook): MarkdownSource[] {
  const out: MarkdownSource[] = [];
  nb.cells.forEach((cell, i) => {
    if (cell.cell_type === "markdown")
      out.push({ where: `cell ${i} (markdown)`, selector: `.cell.markdown[data-cell="${i}"]`, nth: 0, text: joinText(cell.source) });
    if (cell.cell_type !== "code") return;
    let nth = 0;
    for (const o of cell.outputs ?? []) {
      const data = o.data ?? {};
      // the export shows the richest format; Markdown only when nothing richer came with it
      const richer = ["text/html", "application/vnd.plotly.v1+json", "image/svg+xml", "image/png", "image/jpeg", "image/gif"].some(
        (m) => m in data,
      );
      if ("text/markdown" in data && !richer) {
        out.push({
          where: `cell ${i} (text/markdown output ${nth})`,
          selector: `.cell.code[data-cell="${i}"] .output.markdown`,
          nth,
          text: joinText(data["text/markdown"]),
        });
        nth++;
      }
    }
  });
  return out;
}

/** Source text outside fenced code blocks and inline code spans. */
function proseOf(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** `$…$` / `$$…$$` with Pandoc's rule (no space inside the delimiters, no digit right after). */
const INLINE_MATH = /\$(?!\s)[^$\n]*?[^\s\\$]\$(?!\d)|\$[^\s$\\]\$(?!\d)/;
const DISPLAY_MATH = /\$\$[\s\S]+?\$\$/;
const TABLE_DELIMITER_ROW = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$/m;

/** The words (2+ letters) of a text, in order. */
function words(s: string): string[] {
  return s.match(/[A-Za-z]{2,}/g) ?? [];
}

/** Whether `needle` appears in `hay` as a subsequence. */
function subsequence(needle: string[], hay: string[]): boolean {
  let j = 0;
  for (const w of hay) if (j < needle.length && w === needle[j]) j++;
  return j === needle.length;
}

/**
 * The bullet items of a Markdown text, in source order, as their words without math, link
 * targets, HTML tags or entities. An item runs over its wrapped (lazy or indented) lines and
 * ends at a blank line followed by an unindented line, a new item, a heading or a fence.
 */
export function bulletItems(md: string): string[][] {
  const items: string[] = [];
  let current: string | null = null;
  let blank = false;
  let fence: string | null = null;
  const close = () => {
    if (current !== null) items.push(current);
    current = null;
  };
  for (const line of md.split("\n")) {
    const f = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      if (f && f[1] === fence) fence = null;
      continue;
    }
    if (f) {
      close();
      fence = f[1];
      continue;
    }
    const start = /^\s*(?:[-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line);
    if (start && !/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      close();
      current = start[1];
      blank = false;
    } else if (!line.trim()) {
      blank = true;
    } else if (current !== null && (!blank || /^\s{2,}/.test(line)) && !/^\s*(#|\|)/.test(line)) {
      current += ` ${line.trim()}`;
      blank = false;
    } else {
      close();
    }
  }
  close();
  const clean = (s: string) =>
    s
      .replace(/\$\$[\s\S]*?\$\$/g, " ")
      .replace(new RegExp(INLINE_MATH.source, "g"), " ")
      .replace(/\]\([^)]*\)/g, "] ")
      .replace(/<[^>]+>/g, " ")
      .replace(/&[a-zA-Z]+;|&#\d+;/g, " ");
  return items.map((s) => words(clean(s))).filter((w) => w.length > 0);
}

/** What the page reports about itself, gathered in the browser. */
interface PageFacts {
  rawMath: string[];
  pipeText: string[];
  katexErrors: string[];
  katex: number;
  tables: number;
  katexFontsLoaded: boolean;
  figures: Array<FigureReport & { titleFits: boolean; overlaps: string[] }>;
  sources: Array<{ found: boolean; katex: number; tables: number; items: string[] }>;
}

/** Runs in the page: collects the facts the Node side judges. */
function collectFacts(sources: Array<{ selector: string; nth: number }>): PageFacts {
  const SKIP = "pre, code, script, style, svg, .katex, .katex-error, .mtlkit-plotly, .js-plotly-plot";
  const INLINE = /\$(?!\s)[^$\n]*?[^\s\\$]\$(?!\d)|\$[^\s$\\]\$(?!\d)|\$\$/;
  const rawMath: string[] = [];
  for (const block of Array.from(document.querySelectorAll("p, li, td, th, h1, h2, h3, h4, h5, h6, blockquote, .output.latex"))) {
    if (block.closest(SKIP)) continue;
    const clone = block.cloneNode(true) as Element;
    clone.querySelectorAll(SKIP).forEach((e) => e.remove());
    clone.querySelectorAll("p, li, ul, ol, table").forEach((e) => e.remove()); // nested blocks are checked on their own
    const m = INLINE.exec(clone.textContent ?? "");
    if (m) rawMath.push((clone.textContent ?? "").slice(Math.max(0, m.index - 30), m.index + 50).replace(/\s+/g, " "));
  }
  const pipeText: string[] = [];
  for (const md of Array.from(document.querySelectorAll(".markdown"))) {
    const clone = md.cloneNode(true) as Element;
    clone.querySelectorAll("pre, code, table, .katex").forEach((e) => e.remove());
    for (const line of (clone.textContent ?? "").split("\n")) {
      if (/^\s*\|.*\|.*\|\s*$/.test(line) || /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)+\|?\s*$/.test(line))
        pipeText.push(line.trim().slice(0, 80));
    }
  }
  const katexErrors = Array.from(document.querySelectorAll(".katex-error")).map((e) =>
    `${e.getAttribute("title") ?? ""}: ${e.textContent ?? ""}`.slice(0, 160),
  );
  const katex = document.querySelectorAll(".katex").length;
  const katexFontsLoaded = Array.from(document.fonts as unknown as Iterable<FontFace>).some(
    (f) => f.family.replace(/["']/g, "") === "KaTeX_Main" && f.status === "loaded",
  );
  type Gd = HTMLElement & { _fullLayout?: Record<string, unknown> & { _subplots?: { xaxis?: string[]; yaxis?: string[] } } };
  const figures = Array.from(document.querySelectorAll<Gd>(".mtlkit-plotly, .js-plotly-plot"))
    .filter((el, i, all) => all.indexOf(el) === i)
    .map((gd, index) => {
      const cellEl = gd.closest("[data-cell]");
      const cell = cellEl ? Number(cellEl.getAttribute("data-cell")) : null;
      const full = gd._fullLayout;
      const svg = gd.querySelector("svg.main-svg");
      if (!full || !svg) return { index, cell, drawn: false, title: "", axes: {}, titleFits: true, overlaps: [] };
      const title = (gd.querySelector(".gtitle")?.textContent ?? "").trim();
      const svgBox = svg.getBoundingClientRect();
      const gtitle = gd.querySelector(".gtitle");
      const tb = gtitle?.getBoundingClientRect();
      const titleFits = !tb || (tb.left >= svgBox.left - 1 && tb.right <= svgBox.right + 1 && tb.top >= svgBox.top - 1);
      const axes: Record<string, string> = {};
      const overlaps: string[] = [];
      for (const id of [...(full._subplots?.xaxis ?? []), ...(full._subplots?.yaxis ?? [])]) {
        const ax = full[`${id[0]}axis${id.slice(1)}`] as { visible?: boolean; showticklabels?: boolean } | undefined;
        if (!ax || ax.visible === false || ax.showticklabels === false) continue;
        const axisTitle = gd.querySelector(`.${id}title`);
        axes[id] = (axisTitle?.textContent ?? "").trim();
        const labels = Array.from(gd.querySelectorAll<SVGTextElement>(`.${id}tick text, text.${id}tick`)).filter(
          (t) => (t.textContent ?? "").trim() !== "" && t.getBoundingClientRect().width > 0,
        );
        const rotation = (t: Element) => {
          const m = /rotate\((-?[\d.]+)/.exec(t.getAttribute("transform") ?? "");
          return m ? Number(m[1]) : 0;
        };
        const horizontal = id[0] === "x";
        // a label's tick position along the axis: plotly translates each label to its tick
        const position = (t: Element, box: DOMRect) => {
          const m = /translate\((-?[\d.]+)[ ,]+(-?[\d.]+)\)/.exec(t.getAttribute("transform") ?? "");
          if (m) return Number(horizontal ? m[1] : m[2]);
          return horizontal ? (box.left + box.right) / 2 : (box.top + box.bottom) / 2;
        };
        const boxes = labels.map((t) => {
          const box = t.getBoundingClientRect();
          return { t, box, at: position(t, box), angle: rotation(t), height: t.getBBox().height };
        });
        boxes.sort((a, b) => a.at - b.at);
        for (let i = 1; i < boxes.length; i++) {
          const a = boxes[i - 1];
          const b = boxes[i];
          const name = `axis ${id}: tick labels "${a.t.textContent}" and "${b.t.textContent}" overlap`;
          if (a.angle === 0 && b.angle === 0) {
            const gap = horizontal ? b.box.left - a.box.right : b.box.top - a.box.bottom;
            if (gap < -1) overlaps.push(name);
          } else {
            // rotated labels: the distance between neighbouring ticks across the text direction
            const across = Math.abs((b.at - a.at) * Math.sin((a.angle * Math.PI) / 180));
            if (across < 0.8 * Math.min(a.height, b.height)) overlaps.push(name);
          }
        }
        // the axis title must lie beyond the band its tick labels fill (left of a y axis' labels, below an x axis')
        const titleBox = axes[id] && boxes.length ? axisTitle!.getBoundingClientRect() : null;
        if (titleBox) {
          const [lo, hi] = horizontal ? (["top", "bottom"] as const) : (["left", "right"] as const);
          const bandLo = Math.min(...boxes.map(({ box }) => box[lo]));
          const bandHi = Math.max(...boxes.map(({ box }) => box[hi]));
          if (titleBox[lo] < bandHi - 1 && bandLo < titleBox[hi] - 1)
            overlaps.push(`axis ${id}: title "${axes[id]}" runs into the tick labels' band`);
        }
      }
      return { index, cell, drawn: true, title, axes, titleFits, overlaps };
    });
  const found = sources.map(({ selector, nth }) => {
    const el = document.querySelectorAll(selector)[nth];
    if (!el) return { found: false, katex: 0, tables: 0, items: [] };
    const items = Array.from(el.querySelectorAll("li")).map((li) => {
      const clone = li.cloneNode(true) as Element;
      clone.querySelectorAll(".katex, .katex-error").forEach((e) => e.remove());
      return clone.textContent ?? "";
    });
    return { found: true, katex: el.querySelectorAll(".katex").length, tables: el.querySelectorAll("table").length, items };
  });
  return {
    rawMath,
    pipeText,
    katexErrors,
    katex,
    tables: document.querySelectorAll(".markdown table").length,
    katexFontsLoaded,
    figures,
    sources: found,
  };
}

/** Opens `htmlFile` in headless Chromium and checks it (see the module comment). */
export async function checkExportedHtml(htmlFile: string, options: HtmlCheckOptions = {}): Promise<HtmlCheckReport> {
  const sources = options.notebook ? markdownSources(options.notebook) : [];
  const browser = await launchChromium();
  const problems: string[] = [];
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    // collectFacts is sent as source; the test transpiler may wrap its inner functions in
    // __name(fn, "name") (esbuild's keepNames), which the page does not define.
    await page.evaluateOnNewDocument("globalThis.__name = globalThis.__name || ((f) => f);");
    const requests: string[] = [];
    await page.setRequestInterception(true);
    page.on("request", (request) => {
      const url = request.url();
      if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) return void request.continue();
      requests.push(url);
      void request.abort();
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e instanceof Error ? e.message : String(e)));
    await page.goto(`file://${htmlFile}`, { waitUntil: "load", timeout: options.timeoutMs ?? 90_000 });
    // a figure that never draws is reported below, one by one
    await page
      .waitForFunction(
        () =>
          Array.from(document.querySelectorAll(".mtlkit-plotly")).every(
            (el) => (el as { _fullLayout?: unknown })._fullLayout && el.querySelector("svg.main-svg"),
          ),
        { timeout: options.timeoutMs ?? 90_000, polling: 200 },
      )
      .catch(() => undefined);
    // fonts, then two frames and a pause for plotly's automargin redraws
    await page.evaluate(async () => {
      await document.fonts.ready;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      await new Promise((r) => setTimeout(r, 300));
    });
    const facts = await page.evaluate(
      collectFacts,
      sources.map(({ selector, nth }) => ({ selector, nth })),
    );

    for (const url of requests) problems.push(`page requested ${url} (the export must render offline)`);
    for (const e of pageErrors) problems.push(`script error on the page: ${e}`);
    for (const t of facts.rawMath) problems.push(`raw math text visible: "${t}"`);
    for (const t of facts.pipeText) problems.push(`pipe-table text visible: "${t}"`);
    for (const t of facts.katexErrors) problems.push(`KaTeX could not render: ${t}`);
    if (facts.katex > 0 && !facts.katexFontsLoaded) problems.push("KaTeX's fonts did not load from the page");
    for (const f of facts.figures) {
      const where = `figure ${f.index}${f.cell === null ? "" : ` (cell ${f.cell})`}`;
      if (!f.drawn) {
        problems.push(`${where}: plotly did not draw it`);
        continue;
      }
      if (!f.title) problems.push(`${where}: no title rendered`);
      else if (!f.titleFits) problems.push(`${where}: title "${f.title}" is cut off by the figure's edge`);
      for (const [axis, title] of Object.entries(f.axes))
        if (!title) problems.push(`${where}${f.title ? ` "${f.title}"` : ""}: axis ${axis} has no title`);
      for (const o of f.overlaps) problems.push(`${where}: ${o}`);
    }
    sources.forEach((src, i) => {
      const seen = facts.sources[i];
      if (!seen.found) {
        problems.push(`${src.where}: not found on the page`);
        return;
      }
      const prose = proseOf(src.text);
      if ((INLINE_MATH.test(prose) || DISPLAY_MATH.test(prose)) && seen.katex === 0)
        problems.push(`${src.where}: has math but no .katex element`);
      if (TABLE_DELIMITER_ROW.test(prose) && seen.tables === 0) problems.push(`${src.where}: has a pipe table but no <table>`);
      let next = 0;
      for (const item of bulletItems(src.text)) {
        const at = seen.items.findIndex((li, j) => j >= next && subsequence(item, words(li)));
        if (at < 0) {
          problems.push(`${src.where}: bullet "${item.slice(0, 8).join(" ")}…" is not one whole <li> in source order`);
        } else {
          next = at + 1;
        }
      }
    });
    return {
      problems,
      figures: facts.figures.map(({ index, cell, drawn, title, axes }) => ({ index, cell, drawn, title, axes })),
      katex: facts.katex,
      tables: facts.tables,
    };
  } finally {
    await browser.close();
  }
}
