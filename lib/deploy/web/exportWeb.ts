/**
 * `mtl.deploy.exportWeb(modelDir, outDir)` and `mtlkit export-web <modelDir> --out <dir>`: turns a
 * saved model into a static web page that predicts every task in the browser with TensorFlow.js.
 * No server code: the folder holds
 *
 *   index.html      the page (inputs box, a table of predictions per task)
 *   tf.min.js       TensorFlow.js's browser bundle, copied from the installed @tensorflow/tfjs
 *   mtlkit-web.js   mtlkit's model and prediction code for the browser (./runtime, bundled)
 *   model.js        the saved model: model.json's contents and the weights, base64
 *
 * The weights are embedded in a script rather than fetched, because browsers refuse `fetch` of
 * file:// URLs: so the page works when opened straight from disk, and from any static server
 * (base64 costs a third more bytes, which is fine for the models mtlkit trains; see docs/deploy.md).
 * The folder is written atomically (temporary folder, then rename), world-readable so a web
 * server can serve it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { check, MtlError } from "../../errors";
import { writeFolderAtomic } from "../../util/fsAtomic";
import { readModelFiles } from "../load";
import { exampleSize, SINGLE_INPUT } from "../inputs";
import { buildRuntimeBundle } from "./bundle";
import type { EmbeddedModel } from "./page";

/** Options of {@link exportWeb} (and of `mtlkit export-web`'s flags): what the page shows first. */
export interface ExportWebOptions {
  /** Raw input rows the page starts with (default: one row of the training means, or of zeros). */
  examples?: number[][];
  /** The page's title (default: the architecture and the tasks). */
  title?: string;
}

/** The files an export writes; a folder holding exactly these (or nothing) may be replaced. */
export const WEB_FILES = ["index.html", "tf.min.js", "mtlkit-web.js", "model.js"] as const;

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function pageHtml(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin: 1.2rem 0 .4rem; }
  #status { color: #555; } #error { color: #b00020; white-space: pre-wrap; }
  textarea { width: 100%; font: 13px ui-monospace, monospace; }
  table { border-collapse: collapse; } th, td { border-bottom: 1px solid #ddd; padding: .25rem .7rem; text-align: left; }
  td.prediction { font-weight: 600; } td.detail { color: #555; font-size: 13px; }
</style>
</head>
<body data-state="loading">
<h1>${escapeHtml(title)}</h1>
<p id="status">Loading the model…</p>
<label for="rows">Inputs, one example per line (<span id="columns"></span>):</label>
<textarea id="rows" rows="6" spellcheck="false"></textarea>
<p><button id="predict" type="button">Predict</button></p>
<div id="error" role="alert"></div>
<div id="results"></div>
<script src="tf.min.js"></script>
<script src="model.js"></script>
<script src="mtlkit-web.js"></script>
</body>
</html>
`;
}

/** Refuses to replace a folder that holds anything but a previous export. */
function checkReplaceable(dir: string): void {
  if (!existsSync(dir)) return;
  check(statSync(dir).isDirectory(), "exportWeb", () => `'${dir}' exists and is not a folder.`);
  const foreign = readdirSync(dir).filter((f) => !(WEB_FILES as readonly string[]).includes(f));
  check(
    foreign.length === 0,
    "exportWeb",
    () => `'${dir}' holds other files (${foreign.slice(0, 3).join(", ")}); choose a new or empty folder.`,
  );
}

function tfjsBrowserBundle(): string {
  const path = join(dirname(require.resolve("@tensorflow/tfjs/package.json")), "dist", "tf.min.js");
  check(existsSync(path), "exportWeb", () => `TensorFlow.js's browser bundle ${path} is missing; reinstall @tensorflow/tfjs.`);
  return path;
}

/**
 * Writes the web page of the saved model in `modelDir` into `outDir` (see the file list above) and
 * returns the path of its index.html. The model is verified as `mtl.loadModel` verifies it.
 */
export async function exportWeb(modelDir: string, outDir: string, options: ExportWebOptions = {}): Promise<string> {
  check(typeof outDir === "string" && outDir.length > 0, "exportWeb", () => "needs an output folder.");
  const { file, weights } = readModelFiles(modelDir);
  const field = file.model.inputs[SINGLE_INPUT];
  check(
    field !== undefined,
    "exportWeb",
    () => `the page takes one input '${SINGLE_INPUT}'; this model takes ${Object.keys(file.model.inputs).join(", ")}.`,
  );
  const width = exampleSize(field);
  const examples = options.examples ?? [
    field.standardize ? field.standardize.mean.map((m) => Number(m.toPrecision(6))) : new Array<number>(width).fill(0),
  ];
  check(Array.isArray(examples) && examples.length > 0, "exportWeb", () => "option 'examples' must list at least one row.");
  examples.forEach((row, r) =>
    check(
      Array.isArray(row) && row.length === width && row.every((v) => typeof v === "number" && Number.isFinite(v)),
      "exportWeb",
      () =>
        `example row ${r} must hold ${width} finite numbers (input '${SINGLE_INPUT}'), got ${Array.isArray(row) ? row.length : typeof row} values.`,
    ),
  );
  const title = options.title ?? `${file.model.architecture} model: ${file.model.tasks.join(", ")}`;
  check(typeof title === "string", "exportWeb", () => "option 'title' must be a string.");

  const embedded: EmbeddedModel = { file, weights: Buffer.from(weights).toString("base64"), examples: examples.map((r) => [...r]), title };
  const contents: Record<(typeof WEB_FILES)[number], string | Uint8Array> = {
    "index.html": pageHtml(title),
    "tf.min.js": readFileSync(tfjsBrowserBundle()),
    "mtlkit-web.js": await buildRuntimeBundle(),
    // JSON is valid JavaScript; "</script" cannot occur inside a script file, but U+2028/9 are escaped by JSON.stringify.
    "model.js": `window.MTLKIT_MODEL = ${JSON.stringify(embedded)};\n`,
  };

  const target = resolve(outDir);
  checkReplaceable(target);
  try {
    // A web page is for others to read: world-readable, unlike mtlkit's private files.
    writeFolderAtomic(target, contents, { folder: 0o755, file: 0o644 });
  } catch (e) {
    throw e instanceof MtlError ? e : new MtlError("exportWeb", `could not write '${target}': ${(e as Error).message}`);
  }
  return join(target, "index.html");
}
