/**
 * The HTML export renders: Markdown through markdown-it (GFM tables, wrapped bullets), math
 * through KaTeX at export time with its fonts inside the page, code highlighted, and plotly
 * figures built with plain-string titles drawing those titles. Checked on the markup, then in
 * headless Chromium on a notebook executed by `mtlkit run`; the Chromium check is also shown to
 * fail on a page with the old export's faults.
 */
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { plotlyHtml } from "../../kernel/display";
import { matrixHeatmap } from "../../lib/viz/matrices";
import { katexCss } from "../../kernel/runner/katexAssets";
import { latexToHtml, markdownToHtml } from "../../kernel/runner/markdown";
import { notebookToHtml } from "../../kernel/runner/html";
import { Notebook } from "../../kernel/runner/notebook";
import { haveChromium } from "../helpers/chromium";
import { bulletItems, checkExportedHtml } from "../helpers/htmlCheck";
import { installKernelSpec, mtlkitRun, mtlkitWorkDir, writeNotebook } from "./helpers";

const MARKDOWN = [
  "# Fixture",
  "",
  "The weighted loss is $L = \\sum_i w_i L_i$, and a price of $5 and $10 stays text.",
  "",
  "$$\\nabla_{\\theta} L = \\sum_i w_i \\nabla_{\\theta} L_i$$",
  "",
  "| method | Δm (%) |",
  "|:--|--:|",
  "| equal | 1.5 |",
  "| GradNorm | -0.3 |",
  "",
  "- first bullet, which is long enough that its author wrapped it",
  "  onto a second, indented line",
  "- second bullet, lazily wrapped",
  "without indentation",
  "- third bullet with $x^2$ math",
].join("\n");

describe("Markdown, math and code as HTML", () => {
  it("renders GFM tables, wrapped bullets whole and in order, and math with KaTeX", () => {
    const html = markdownToHtml(MARKDOWN);
    expect(html).toContain("<h1>Fixture</h1>");
    expect(html).toMatch(/<table>[\s\S]*<th style="text-align:left">method<\/th>[\s\S]*<td style="text-align:right">-0.3<\/td>/);
    expect(html).not.toContain("|---");
    const items = [...html.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => m[1].replace(/<[^>]+>[\s\S]*<\/span>/, "MATH"));
    expect(items[0]).toBe("first bullet, which is long enough that its author wrapped it\nonto a second, indented line");
    expect(items[1]).toBe("second bullet, lazily wrapped\nwithout indentation");
    expect(items[2]).toMatch(/^third bullet with MATH/);
    // inline and display math become KaTeX markup; a dollar amount stays text
    expect(html.match(/class="katex"/g)?.length).toBe(3);
    expect(html).toContain('class="katex-display"');
    expect(html).toContain("a price of $5 and $10 stays text.");
    expect(html).not.toMatch(/\$L =|\$\$/);
  });

  it("shows a formula KaTeX cannot parse as an error, not as raw text", () => {
    expect(markdownToHtml("bad $\\frac{1}{$ here")).toContain("katex-error");
  });

  it("renders text/latex with or without its own delimiters", () => {
    for (const src of ["$$E = mc^2$$", "\\[E = mc^2\\]", "E = mc^2"]) expect(latexToHtml(src)).toContain('class="katex-display"');
    expect(latexToHtml("$E = mc^2$")).not.toContain("katex-display");
    expect(latexToHtml("\\begin{align} a &= b \\\\ c &= d \\end{align}")).toContain('class="katex"');
  });

  it("highlights code cells and fenced code in the notebook's language", () => {
    const nb: Notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "mtlkit", display_name: "mtlkit", language: "typescript" } },
      cells: [
        { cell_type: "code", metadata: {}, source: "const n: number = 1; // one", outputs: [], execution_count: 1 },
        { cell_type: "markdown", metadata: {}, source: "```ts\nlet s = 'x';\n```" },
      ],
    };
    const html = notebookToHtml(nb, "t");
    expect(html).toMatch(/<span class="hljs-keyword">const<\/span> .*n.*: <span class="hljs-built_in">number<\/span>/);
    expect(html).toContain('<span class="hljs-comment">// one</span>');
    expect(html).toContain('<span class="hljs-keyword">let</span> s = <span class="hljs-string">&#x27;x&#x27;</span>');
    expect(html).toMatch(/\.hljs-keyword[,{]/); // the theme travels with the page
    expect(html).toContain('data-cell="1"');
  });

  it("draws saved figures from their JSON with plotly.js 3 titles, inlining plotly.js once", () => {
    const figure = (title: string) => ({
      output_type: "display_data" as const,
      metadata: {},
      data: {
        "application/vnd.plotly.v1+json": { data: [{ type: "bar", x: ["a"], y: [1] }], layout: { title, xaxis: { title: "task" } } },
        "text/html": "<div>what a plotly.js 2 session sent</div>",
        "text/plain": "Figure",
      },
    });
    const nb: Notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [{ cell_type: "code", metadata: {}, source: "", outputs: [figure("First"), figure("Second")], execution_count: 1 }],
    };
    const html = notebookToHtml(nb, "t");
    expect(html).not.toContain("what a plotly.js 2 session sent");
    expect(html).toContain('"title":{"text":"First"}');
    expect(html).toContain('"title":{"text":"task","standoff":10}');
    expect(html.split("plotly.js v").length - 1).toBe(1);
    expect(html.match(/window\.Plotly\.newPlot\(el/g)?.length).toBe(2);
  });

  it("inlines KaTeX's CSS and woff2 fonts only in pages that hold math", () => {
    const css = katexCss();
    expect(css).not.toMatch(/url\(fonts\//);
    const families = new Set([...css.matchAll(/font-family:(KaTeX_[A-Za-z0-9]+)/g)].map((m) => m[1]));
    expect(families.size).toBeGreaterThan(10);
    expect(css.match(/url\(data:font\/woff2;base64,/g)?.length).toBe(css.match(/@font-face/g)?.length);
    expect(css.length).toBeLessThan(600_000);
    const page = (source: string) =>
      notebookToHtml({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "markdown", metadata: {}, source }] }, "t");
    expect(page("$x$")).toContain("data:font/woff2;base64,");
    expect(page("no math, $5")).not.toContain("KaTeX_Main");
  });

  it("reads bullet items across wrapped lines, without math, links or code fences", () => {
    expect(bulletItems(MARKDOWN).map((w) => w.join(" "))).toEqual([
      "first bullet which is long enough that its author wrapped it onto second indented line",
      "second bullet lazily wrapped without indentation",
      "third bullet with math",
    ]);
    expect(bulletItems("1. see [the docs](https://x.y/z)\n\n```\n- not a bullet\n```\n* bee &amp; cat")).toEqual([
      ["see", "the", "docs"],
      ["bee", "cat"],
    ]);
  });
});

describe.runIf(haveChromium())("the export in headless Chromium", () => {
  let jupyterDir = "";
  let work = "";
  beforeAll(() => {
    jupyterDir = installKernelSpec();
    work = mtlkitWorkDir("html-");
  });

  it("passes the check on an executed notebook: math, tables, bullets, code and figures with string titles", async () => {
    const nb = path.join(work, "fixture.ipynb");
    const labels = ["ADJ", "ADV", "DET", "NOUN", "NUM", "PRON", "VERB", "CONJ", "PRT", "ADP", "X", "."].map((t) => `${t} (tag)`);
    writeNotebook(nb, [
      { source: MARKDOWN, markdown: true },
      { source: 'import * as mtl from "mtlkit";\nconst losses: number[] = [3, 1.5, 1.1, 0.9];' },
      // plain-string titles, as plotly.js 2 took them: plotly.js 3 only draws them through mtl.viz.figure's normalisation
      {
        source:
          "mtl.viz.figure([{ type: 'scatter', x: [0, 1, 2, 3], y: losses, name: 'loss' }, { type: 'scatter', x: [0, 1, 2, 3], y: [1, 2, 3, 4], xaxis: 'x2', yaxis: 'y2' }],\n" +
          "  { title: 'Training loss', xaxis: { title: 'step', domain: [0, 0.45] }, yaxis: { title: 'loss' }, xaxis2: { title: 'epoch', domain: [0.55, 1] }, yaxis2: { title: 'count', anchor: 'x2' } })",
      },
      {
        source: `mtl.viz.matrixHeatmap(${JSON.stringify(labels.map((_, i) => labels.map((_, j) => (i === j ? 1 : -0.25))))}, ${JSON.stringify(labels)}, { title: 'Twelve tags', xTitle: 'predicted', yTitle: 'true' })`,
      },
      {
        source:
          "display(md`A reading: the ratio is $r = 2.5$.\\n\\n| task | share |\\n|---|---|\\n| a | 0.5 |\\n\\n- one reading that wraps\\n  to a second line\\n- another`)",
      },
      { source: "display(latex`$$\\\\Delta m = \\\\frac{1}{T}\\\\sum_t \\\\delta_t$$`)" },
      {
        source:
          "({ data: [{ type: 'bar', x: ['a', 'b'], y: [1, 2] }], layout: { title: 'Raw plotly object', xaxis: { title: 'task' }, yaxis: { title: 'value' } } })",
      },
    ]);
    const out = path.join(work, "out");
    const r = mtlkitRun(jupyterDir, work, [nb, "--out", out], 180_000);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const executed = JSON.parse(fs.readFileSync(path.join(out, "fixture.ipynb"), "utf8"));
    const report = await checkExportedHtml(path.join(out, "fixture.html"), { notebook: executed });
    expect(report.problems).toEqual([]);
    expect(report.figures.map((f) => f.title)).toEqual(["Training loss", "Twelve tags", "Raw plotly object"]);
    expect(report.figures[0].axes).toEqual({ x: "step", x2: "epoch", y: "loss", y2: "count" });
    expect(report.figures[1].axes).toEqual({ x: "predicted", y: "true" });
    expect(report.katex).toBe(5); // three in the Markdown cell, one in the md`` output, one text/latex
    expect(report.tables).toBe(2);
  }, 240_000);

  it("fails a page with the old export's faults: raw math and pipes, split bullets, dropped titles, overlapping ticks", async () => {
    // what the hand-written Markdown subset and plotly.js 3 made of the fixture
    const labels = Array.from({ length: 30 }, (_, i) => `a long category label ${i}`);
    const tags = ["ADJ", "ADV", "DET", "NOUN", "NUM", "PRON", "VERB", "CONJ", "PRT", "ADP", "X", "."].map((t) => `${t} (tag)`);
    const heatmap = matrixHeatmap(
      tags.map(() => tags.map(() => 0)),
      tags,
      { title: "Rows", xTitle: "predicted" },
    );
    const page = [
      '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>',
      '<div class="cell markdown" data-cell="0"><p>The weighted loss is $L = \\sum_i w_i L_i$.</p>',
      "<p>| method | Δm (%) | |:--|--:| | equal | 1.5 |</p>",
      "<p>onto a second, indented line</p><ul><li>first bullet, which is long enough that its author wrapped it</li><li>second bullet, lazily wrapped</li></ul></div>",
      '<div class="cell code" data-cell="1"><div class="outputs">',
      plotlyHtml(
        {
          data: [{ type: "scatter", x: [0, 1], y: [1, 0] }],
          layout: { title: "Training loss", xaxis: { title: "step" }, yaxis: { title: "loss" } },
        },
        true,
      ),
      plotlyHtml(
        {
          data: [{ type: "bar", x: labels, y: labels.map((_, i) => i) }],
          layout: {
            title: { text: "Crowded" },
            width: 300,
            xaxis: { tickangle: 0, title: { text: "label" } },
            yaxis: { title: { text: "n" } },
          },
        },
        false,
      ),
      plotlyHtml(
        { data: heatmap.data, layout: { ...heatmap.layout, yaxis: { ...(heatmap.layout.yaxis as object), title: { text: "true" } } } },
        false,
      ),
      "</div></div></body></html>",
    ].join("\n");
    const file = path.join(work, "broken.html");
    fs.writeFileSync(file, page);
    const notebook = {
      cells: [
        { cell_type: "markdown", source: MARKDOWN },
        { cell_type: "code", source: "", outputs: [] },
      ],
    };
    const report = await checkExportedHtml(file, { notebook });
    const problems = report.problems.join("\n");
    expect(problems).toMatch(/raw math text visible: ".*\$L = \\sum_i/);
    expect(problems).toMatch(/pipe-table text visible/);
    expect(problems).toMatch(/cell 0 \(markdown\): has math but no \.katex element/);
    expect(problems).toMatch(/cell 0 \(markdown\): has a pipe table but no <table>/);
    expect(problems).toMatch(/bullet "first bullet which is long enough that its…" is not one whole <li>/);
    expect(problems).toMatch(/bullet "second bullet lazily wrapped without indentation…" is not one whole <li>/);
    expect(problems).toMatch(/figure 0 \(cell 1\): no title rendered/);
    expect(problems).toMatch(/figure 0 \(cell 1\): axis x has no title/);
    expect(problems).toMatch(/figure 0 \(cell 1\): axis y has no title/);
    expect(problems).toMatch(
      /figure 1 \(cell 1\): axis x: tick labels "a long category label \d+" and "a long category label \d+" overlap/,
    );
    // plotly.js keeps an axis title without a standoff inside the margin, over long labels (normalizeLayout sets one)
    expect(problems).toMatch(/figure 2 \(cell 1\): axis y: title "true" runs into the tick labels' band/);
    expect(problems).not.toMatch(/figure 2 .*(no title|has no title)/);
  }, 120_000);
});
