/**
 * mtlkit's results shown through the kernel: a notebook (in a folder outside the
 * package) whose cells end with backend info, an evaluation, a history, a model,
 * Δm, negative transfer and a checkpoint listing gets execute_results with an
 * HTML table and a short text/plain.
 */
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cells, installKernelSpec, mtlkitRun, tmpDir, writeNotebook } from "./helpers";

let jupyterDir = "";
let work = "";

beforeAll(() => {
  jupyterDir = installKernelSpec();
  work = tmpDir("mtlkit-displays-");
});

afterAll(() => {
  for (const d of [jupyterDir, work]) fs.rmSync(d, { recursive: true, force: true });
});

it("a notebook shows mtlkit's results as HTML tables", () => {
  const nb = path.join(work, "displays.ipynb");
  writeNotebook(nb, [
    { source: 'import * as mtl from "mtlkit";\nconst info = await mtl.useBestBackend({ webgpu: false });' },
    {
      source: [
        'const tasks = [mtl.tasks.classification("kind", { classes: 2 }), mtl.tasks.regression("size")];',
        "const x = Array.from({ length: 32 }, (_, i) => [Math.sin(i), Math.cos(i)]);",
        "const data = mtl.fromArrays({ x, targets: { kind: x.map((r) => (r[0] > 0 ? 1 : 0)), size: x.map((r) => r[1]) }, tasks });",
        "const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });",
        "const trainer = new mtl.Trainer({ model, tasks, epochs: 2, batchSize: 16, seed: 1 });",
        "await trainer.fit(data);",
      ].join("\n"),
    },
    { source: "info" },
    { source: "trainer.evaluate(data)" },
    { source: "trainer.history" },
    { source: "model" },
    { source: "mtl.evaluation.deltaM({ a: { accuracy: 0.9 } }, { a: { accuracy: 0.8 } }, { higherIsBetter: { a: { accuracy: true } } })" },
    {
      source:
        "const run = (v: number) => ({ a: { accuracy: v } });\nmtl.evaluation.negativeTransfer([run(0.9), run(0.91)], [run(0.8), run(0.82)], { higherIsBetter: { a: { accuracy: true } } })",
    },
    {
      source: `await trainer.save(${JSON.stringify(path.join(work, "ckpt"))});\nmtl.listCheckpoints(${JSON.stringify(path.join(work, "ckpt"))})`,
    },
  ]);
  const r = mtlkitRun(jupyterDir, work, [nb, "--out", path.join(work, "out")]);
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const c = cells(path.join(work, "out", "displays.ipynb"));
  const expected = [
    "Backend: ",
    "Evaluation of 2 tasks",
    "Training history: 4 steps, 2 epochs",
    "hardSharing model",
    "Δm = +12.5 %",
    "Negative transfer:",
    "1 checkpoint in ",
  ];
  expected.forEach((title, i) => {
    const out = c[2 + i].outputs.find((o) => o.output_type === "execute_result");
    expect(out, `cell ${2 + i}: ${JSON.stringify(c[2 + i].outputs).slice(0, 500)}`).toBeDefined();
    const html = [out!.data!["text/html"]].flat().join("");
    const text = [out!.data!["text/plain"]].flat().join("");
    expect(html).toContain("<table");
    expect(text.startsWith(title), `${text.slice(0, 80)} should start with ${title}`).toBe(true);
    expect(text.length).toBeLessThan(2500);
  });
}, 180_000);
