/**
 * The exported page's behaviour (runs in the browser, bundled into mtlkit-web.js): rebuilds the
 * embedded model, shows a box of input rows (prefilled with the exported examples) and every task's
 * prediction for them, and exposes `window.mtlkit` for scripts:
 *
 *   await window.mtlkit.ready;                       // the model is loaded and the examples predicted
 *   const result = await window.mtlkit.predict([[5.1, 3.5, 1.4, 0.2]]);   // raw rows, as in Node
 *
 * The backend is tfjs's cpu backend (exact float32, and fast enough for models of this size);
 * `?backend=webgl` (or any tfjs backend the page has) selects another.
 */
import * as tf from "@tensorflow/tfjs";
import type { BaseModel } from "../../architectures/types";
import { MtlError } from "../../errors";
import type { SavedModelFile } from "../format";
import { SINGLE_INPUT } from "../inputs";
import { InputRows, predict, TaskPrediction } from "../predict";

/** What model.js puts in `window.MTLKIT_MODEL`. */
export interface EmbeddedModel {
  /** model.json's contents. */
  file: SavedModelFile;
  /** The weights shards, concatenated, base64. */
  weights: string;
  /** Input rows the page starts with (raw features). */
  examples: number[][];
  /** The page's title. */
  title: string;
}

/** What the page exposes as `window.mtlkit`. */
export interface PageApi {
  ready: Promise<void>;
  predict(rows: InputRows): Promise<Record<string, TaskPrediction>>;
  backend(): string;
}

const softmax = (z: number[]): number[] => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));
const fmt = (x: number): string =>
  Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(3) : x.toFixed(4).replace(/\.?0+$/, "");

/** A readable summary of one row's prediction for a task of the given kind. */
export function describeRow(kind: string, p: TaskPrediction, row: number): { prediction: string; detail: string } {
  const out = p.outputs[row];
  const pred = p.predictions[row];
  const name = (i: number) => p.labels?.[i] ?? String(i);
  if (kind === "classification") {
    const probs = softmax(out);
    const top = probs
      .map((q, i) => [q, i] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, 3);
    return { prediction: name(pred as number), detail: top.map(([q, i]) => `${name(i)} ${fmt(q)}`).join(", ") };
  }
  if (kind === "binary") {
    return { prediction: p.labels ? name(pred as number) : String(pred), detail: `p(${p.labels?.[1] ?? "1"}) = ${fmt(sigmoid(out[0]))}` };
  }
  if (kind === "multiLabel") {
    const on = (pred as number[]).map((v, i) => (v ? name(i) : "")).filter(Boolean);
    return { prediction: on.join(", ") || "(none)", detail: out.map((z, i) => `${name(i)} ${fmt(sigmoid(z))}`).join(", ") };
  }
  if (kind === "sequenceTagging") {
    return { prediction: (pred as number[]).map((t) => name(t)).join(" "), detail: `${(pred as number[]).length} positions` };
  }
  const values = Array.isArray(pred) ? pred : [pred];
  return { prediction: values.map(fmt).join(", "), detail: "" };
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function parseRows(text: string, width: number): number[][] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith("#"))
    .map((line, r) => {
      const cells = line
        .split(/[,\s;]+/)
        .filter((c) => c.length > 0)
        .map(Number);
      if (cells.length !== width || cells.some((v) => !Number.isFinite(v)))
        throw new MtlError("the page's input rows", `row ${r + 1} must hold ${width} numbers, got "${line}".`);
      return cells;
    });
}

function renderResults(container: HTMLElement, model: BaseModel, rows: number[][], result: Record<string, TaskPrediction>): void {
  container.replaceChildren();
  model.tasks.forEach((task) => {
    const p = result[task.name];
    const section = element("section", undefined, "task");
    section.dataset.task = task.name;
    section.append(element("h2", `${task.name} (${task.kind})`));
    const table = element("table");
    const head = element("tr");
    for (const h of ["row", "prediction", "details"]) head.append(element("th", h));
    table.append(head);
    rows.forEach((_, r) => {
      const { prediction, detail } = describeRow(task.kind, p, r);
      const tr = element("tr");
      tr.append(element("td", String(r + 1)), element("td", prediction, "prediction"), element("td", detail, "detail"));
      table.append(tr);
    });
    section.append(table);
    container.append(section);
  });
}

/** Loads the embedded model, builds the page, and returns the API it also sets as `window.mtlkit`. */
export function startPage(embedded: EmbeddedModel, loadEmbedded: (file: SavedModelFile, weights: string) => BaseModel): PageApi {
  let model: BaseModel | undefined;
  const status = document.getElementById("status")!;
  const input = document.getElementById("rows") as HTMLTextAreaElement;
  const results = document.getElementById("results")!;
  const error = document.getElementById("error")!;
  const field = embedded.file.model.inputs[SINGLE_INPUT];
  const width = field.shape.reduce((a, b) => a * b, 1);
  const names = field.names ?? Array.from({ length: width }, (_, i) => `x${i}`);
  document.getElementById("columns")!.textContent = names.length <= 40 ? names.join(", ") : `${width} numbers per row`;
  input.value = embedded.examples.map((r) => r.join(", ")).join("\n");

  const run = async (): Promise<void> => {
    error.textContent = "";
    try {
      const rows = parseRows(input.value, width);
      const result = await predict(model!, rows);
      renderResults(results, model!, rows, result);
    } catch (e) {
      error.textContent = (e as Error).message;
    }
  };

  const ready = (async () => {
    const wanted = new URLSearchParams(location.search).get("backend") ?? "cpu";
    if (!(await tf.setBackend(wanted)))
      throw new MtlError("the page's ?backend=", `the tfjs backend '${wanted}' is not available in this browser.`);
    await tf.ready();
    model = loadEmbedded(embedded.file, embedded.weights);
    const tasks = model.tasks.map((t) => `${t.name} (${t.kind})`).join(", ");
    status.textContent = `${model.architecture} · ${model.parameterCounts().total} parameters · tasks: ${tasks} · tfjs ${tf.version.tfjs} on ${tf.getBackend()}`;
    document.getElementById("predict")!.addEventListener("click", () => void run());
    await run();
    document.body.dataset.state = "ready";
  })();
  ready.catch((e: Error) => {
    error.textContent = `The model could not be loaded: ${e.message}`;
    document.body.dataset.state = "failed";
  });

  return {
    ready,
    async predict(rows: InputRows) {
      await ready;
      return predict(model!, rows);
    },
    backend: () => tf.getBackend(),
  };
}
