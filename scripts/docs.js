#!/usr/bin/env node
/**
 * `npm run docs`: the documentation site in out/docs/.
 *  1. TypeDoc (typedoc.json): the API reference from lib/index.ts's doc comments, with README.md as the
 *     front page and docs/*.md as pages. Any warning fails the build (treatWarningsAsErrors), an
 *     undocumented public export included.
 *  2. The tutorials' HTML in out/docs/tutorials/, with an index page the header links to: each is the
 *     executed notebook `npm start` wrote into out/ when it is there, else the notebook rendered without
 *     outputs by the runner's HTML writer (the index says which).
 * Needs the build (dist/kernel/runner). Usage: node scripts/docs.js [--out DIR] (default out/docs).
 */
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");

function escapeHtml(s) {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function typedoc(out) {
  // typedoc's package "exports" hide its bin from require.resolve; its folder is found through package.json's neighbour.
  const bin = path.join(path.dirname(require.resolve("typedoc/package.json", { paths: [ROOT] })), "bin", "typedoc");
  const r = spawnSync(process.execPath, [bin, "--out", out], { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`TypeDoc failed (exit ${r.status ?? r.signal}); see its messages above`);
}

/** The tutorials' pages; returns one entry per notebook with whether its page shows a run. */
function tutorials(out) {
  const { readNotebook } = require(path.join(ROOT, "dist", "kernel", "runner", "notebook.js"));
  const { notebookToHtml } = require(path.join(ROOT, "dist", "kernel", "runner", "html.js"));
  const dir = path.join(out, "tutorials");
  fs.mkdirSync(dir, { recursive: true });
  const entries = [];
  for (const file of fs
    .readdirSync(path.join(ROOT, "notebooks"))
    .filter((f) => f.endsWith(".ipynb"))
    .sort()) {
    const name = file.replace(/\.ipynb$/, "");
    const executed = path.join(ROOT, "out", `${name}.html`);
    const page = path.join(dir, `${name}.html`);
    const nb = readNotebook(path.join(ROOT, "notebooks", file));
    const heading = nb.cells.find((c) => c.cell_type === "markdown");
    const title = (heading ? [].concat(heading.source).join("") : name).split("\n")[0].replace(/^#+\s*/, "") || name;
    if (fs.existsSync(executed)) fs.copyFileSync(executed, page);
    else fs.writeFileSync(page, notebookToHtml(nb, title));
    entries.push({ name, title, executed: fs.existsSync(executed) });
  }
  const items = entries
    .map(
      (e) =>
        `<li><a href="${e.name}.html">${escapeHtml(e.title)}</a>${e.executed ? "" : " <em>(not run: its cells without outputs)</em>"}</li>`,
    )
    .join("\n");
  const note = entries.some((e) => !e.executed)
    ? "<p>Run <code>npm start</code>, then <code>npm run docs</code>, for the executed tutorials with their outputs.</p>"
    : "";
  fs.writeFileSync(
    path.join(dir, "index.html"),
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>mtlkit tutorials</title></head>\n<body>\n<p><a href="../index.html">mtlkit documentation</a></p>\n<h1>Tutorials</h1>\n${note}\n<ol start="0">\n${items}\n</ol>\n</body></html>\n`,
  );
  return entries;
}

/**
 * TypeDoc writes its header's navigation links verbatim on every page, so "tutorials/index.html" would
 * point below each page's own folder; make it relative to each page's depth.
 */
function fixTutorialLinks(out) {
  const walk = (dir, depth) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "tutorials") walk(file, depth + 1);
      } else if (entry.name.endsWith(".html") && depth > 0) {
        const html = fs.readFileSync(file, "utf8");
        const fixed = html.split('href="tutorials/index.html"').join(`href="${"../".repeat(depth)}tutorials/index.html"`);
        if (fixed !== html) fs.writeFileSync(file, fixed);
      }
    }
  };
  walk(out, 0);
}

function main() {
  const at = process.argv.indexOf("--out");
  const out = path.resolve(at > 0 ? process.argv[at + 1] : path.join(ROOT, "out", "docs"));
  typedoc(out);
  const entries = tutorials(out);
  fixTutorialLinks(out);
  console.log(
    `docs: ${path.relative(process.cwd(), path.join(out, "index.html"))} (${entries.length} tutorials, ${entries.filter((e) => e.executed).length} executed)`,
  );
}

module.exports = { main };
if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}
