/**
 * Rich displays of mtlkit's results: each kind gives an HTML table and a short
 * text/plain through Symbol.for("Jupyter.display"), the same text through
 * util.inspect (console.log), escapes HTML, and leaves the data unchanged.
 * With MTLKIT_DISPLAY_PAGE=file.html the bundles are also written to one page
 * (for a look in a browser).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { inspect } from "util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { deltaM, deltaMOverSeeds } from "../../lib/eval/deltaM";
import { negativeTransfer } from "../../lib/eval/negativeTransfer";
import { escapeHtml, TEXT_ROWS } from "../../lib/display";

const DISPLAY = Symbol.for("Jupyter.display");
type Bundle = Record<string, unknown>;

function bundleOf(v: unknown): Bundle {
  const hook = (v as Record<symbol, unknown>)[DISPLAY];
  expect(typeof hook).toBe("function");
  return (hook as () => Bundle).call(v);
}

const shown: Array<[string, Bundle]> = [];

/** The checks every kind passes; returns the bundle. */
function checkKind(kind: string, value: unknown, maxTextChars = 2500): Bundle {
  const b = bundleOf(value);
  const html = b["text/html"] as string;
  const text = b["text/plain"] as string;
  expect(html, kind).toContain("<table");
  expect(typeof text, kind).toBe("string");
  expect(text.length, kind).toBeGreaterThan(0);
  expect(text.length, `${kind}: text/plain is bounded`).toBeLessThanOrEqual(maxTextChars);
  expect(text.split("\n").length, kind).toBeLessThanOrEqual(TEXT_ROWS + 8);
  // console.log prints the same short text, not a raw dump.
  expect(inspect(value), kind).toBe(text);
  shown.push([kind, b]);
  return b;
}

let root = "";
let tasks: mtl.Task[] = [];
let trainer: mtl.Trainer;
let data: mtl.MultiTaskData;

beforeAll(async () => {
  await mtl.tf.setBackend("cpu");
  root = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-display-"));
  tasks = [mtl.tasks.classification("species", { classes: ["a", "b", "c"] }), mtl.tasks.regression("mass")];
  const x = Array.from({ length: 48 }, (_, i) => [Math.sin(i), Math.cos(i), (i % 7) / 7]);
  const species = x.map((_, i) => i % 3);
  const mass = x.map((r) => r[0] * 2 + r[1]);
  data = mtl.fromArrays({ x, targets: { [tasks[0].name]: species, mass }, tasks });
  const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed: 1 });
  trainer = new mtl.Trainer({ model, tasks, epochs: 3, batchSize: 16, seed: 1 });
  await trainer.fit(data, { validation: data });
}, 60_000);

afterAll(() => {
  const page = process.env.MTLKIT_DISPLAY_PAGE;
  if (page) {
    const body = shown
      .map(([k, b]) => `<h3>${k}</h3>\n${b["text/html"] as string}\n<pre>${escapeHtml(String(b["text/plain"]))}</pre>`)
      .join("\n");
    fs.mkdirSync(path.dirname(page), { recursive: true });
    fs.writeFileSync(
      page,
      `<!doctype html><meta charset="utf-8"><body style="font-family:sans-serif;font-size:13px;max-width:1100px">\n${body}\n</body>`,
    );
  }
  fs.rmSync(root, { recursive: true, force: true });
});

describe("rich displays", () => {
  it("backend info: what runs and every candidate", () => {
    const info = mtl.backends.backendInfo();
    const b = checkKind("backend info", info);
    expect(b["text/plain"]).toMatch(new RegExp(`^Backend: ${info.backend} on `));
    for (const c of info.candidates) expect(b["text/html"]).toContain(`>${c.name}`);
    // The data is unchanged: JSON and keys see no display properties.
    expect(Object.keys(info)).toEqual([
      "backend",
      "device",
      "candidates",
      "tfjsVersion",
      "native",
      "syncReads",
      ...("adapter" in info ? ["adapter"] : []),
    ]);
    expect(JSON.parse(JSON.stringify(info)).backend).toBe(info.backend);
  });

  it("an evaluation: one row per task and metric", () => {
    const ev = mtl.evaluation.evaluate(trainer.model, data, tasks);
    const b = checkKind("evaluation", ev);
    const html = b["text/html"] as string;
    expect(html.match(/<tr>/g)!.length).toBe(1 + ev.rows.length);
    expect(b["text/plain"]).toContain("accuracy");
    // trainer.evaluate's per-task record shows the same table.
    const short = trainer.evaluate(data);
    expect(bundleOf(short)["text/html"]).toBe(html);
    expect(Object.keys(short)).toEqual(tasks.map((t) => t.name));
  });

  it("a history: per task loss first/last/min with an SVG curve", () => {
    const b = checkKind("history", trainer.history);
    const html = b["text/html"] as string;
    expect(html.match(/<svg/g)!.length).toBe(tasks.length);
    expect(html).toMatch(/<polyline [^>]*points="[\d., ]+"/);
    expect(b["text/plain"]).toMatch(/Training history: 9 steps, 3 epochs/);
    expect(b["text/plain"]).not.toContain("<svg");
  });

  it("a model: layers by part and parameters shared and per task", () => {
    const model = trainer.model;
    const counts = model.parameterCounts();
    const b = checkKind("model", model);
    const text = b["text/plain"] as string;
    expect(text).toContain("shared");
    expect(text).toContain(`task mass`);
    expect(text).toContain(`${counts.total.toLocaleString("en-US")} total = ${counts.shared.toLocaleString("en-US")} shared`);
  });

  it("a large model's text stays bounded", () => {
    const many = Array.from({ length: 40 }, (_, i) => mtl.tasks.regression(`t${i}`));
    const model = mtl.hardSharing({ inputSize: 3, trunk: [4, 4], tasks: many, seed: 1 });
    const b = checkKind("model with 40 tasks", model, 4000);
    expect(b["text/plain"]).toMatch(/… \d+ more rows/);
    shown.pop();
    model.dispose();
  });

  it("Δm, Δm over seeds and negative transfer; names are escaped in HTML", () => {
    const odd = '<b>&"x"';
    const dirs = { a: { accuracy: true }, [odd]: { mse: false } };
    const run = (acc: number, mse: number) => ({ a: { accuracy: acc }, [odd]: { mse } });
    const d = deltaM(run(0.9, 0.5), run(0.8, 0.4), { higherIsBetter: dirs });
    const db = checkKind("Δm", d);
    expect(db["text/plain"]).toMatch(/^Δm = −6\.25 %/);
    expect(db["text/plain"]).toContain(odd);
    expect(db["text/html"]).toContain("&lt;b&gt;&amp;&quot;x&quot;");
    expect(db["text/html"]).not.toContain("<b>&");
    const s = deltaMOverSeeds([run(0.9, 0.5), run(0.92, 0.45), run(0.88, 0.42)], [run(0.8, 0.4), run(0.82, 0.41)], {
      higherIsBetter: dirs,
    });
    expect(checkKind("Δm over seeds", s)["text/plain"]).toMatch(/^Δm over 3 seeds: /);
    const nt = negativeTransfer([run(0.9, 2), run(0.91, 2.1), run(0.92, 2.2)], [run(0.8, 1), run(0.81, 1.1), run(0.79, 1.2)], {
      higherIsBetter: dirs,
    });
    const b = checkKind("negative transfer", nt);
    expect(b["text/plain"]).toMatch(/^Negative transfer: 1 helps, 1 hurts, 0 inconclusive/);
    expect(b["text/html"]).toMatch(/title="[^"<>]*"/);
  });

  it("checkpoints listed with step, epoch and time", async () => {
    const dir = path.join(root, "ckpt");
    await trainer.save(dir);
    const list = mtl.listCheckpoints(dir);
    expect([...list]).toEqual(list.slice());
    const b = checkKind("checkpoints", list);
    expect(b["text/plain"]).toMatch(/1 checkpoint in /);
    expect(b["text/plain"]).toMatch(/step-\d{8} \(newest\)\s+9\s+3/);
  });
});
