/**
 * A 10,000-step fit in a notebook, through `mtlkit run` and through nbclient: the cell's result and
 * idle status arrive, the progress display is redrawn at most ~10 times a second, and it ends on
 * the final state (epoch 500/500 at 100 %).
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cells, CLI, haveJupyter, installKernelSpec, mtlkitWorkDir, NbOutput, PYTHON, requireTool, writeNotebook } from "./helpers";

let jupyterDir = "";
let work = "";

beforeAll(() => {
  jupyterDir = installKernelSpec();
  work = mtlkitWorkDir("progress-notebook-");
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true })); // (its node_modules/mtlkit links back to the repo)

// 40 rows in batches of 2: 20 steps per epoch, 500 epochs. The first cell counts the library's
// redraws by wrapping the kernel's display hook (the wire count can only be lower: updates coalesce).
const notebook = [
  {
    source: [
      'const hook = (globalThis as any)[Symbol.for("mtlkit.display")];',
      "let redraws = 0;",
      '(globalThis as any)[Symbol.for("mtlkit.display")] = (b: unknown, o: unknown) => (redraws++, hook(b, o));',
      'import * as mtl from "mtlkit";',
      "const rng = new mtl.Rng(1);",
      "const x = Array.from({ length: 40 }, () => [rng.normal(), rng.normal()]);",
      'const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];',
      "const data = mtl.fromArrays({ x, targets: { a: x.map((r) => r[0]), b: x.map((r) => r[1]) }, tasks });",
      "const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });",
      "const trainer = new mtl.Trainer({ model, tasks, batchSize: 2, epochs: 500 });",
    ].join("\n"),
  },
  { source: "const t0 = Date.now();\nawait trainer.fit(data);\nconst seconds = (Date.now() - t0) / 1000;" },
  { source: "JSON.stringify({ steps: trainer.history.steps.length, seconds, redraws })" },
];

interface FitReport {
  steps: number;
  seconds: number;
  redraws: number;
}

/** Runs a program without blocking, so that the two clients below run side by side. */
function run(
  file: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { ...process.env, ...env }, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

const report = (text: string) => JSON.parse(text.slice(1, -1)) as FitReport; // text/plain of a string is quoted

/** The progress display of the fit cell, as the notebook keeps it (updates applied). */
function finalProgress(outputs: NbOutput[]): string {
  const shown = outputs.filter((o) => o.output_type === "display_data").map((o) => [o.data?.["text/html"]].flat().join(""));
  expect(shown).toHaveLength(1);
  return shown[0];
}

describe.concurrent("a 10,000-step fit in a notebook", () => {
  it("through mtlkit run: the result arrives, the display redraws at most ~10 times a second and ends at 100 %", async () => {
    const nb = path.join(work, "fit.ipynb");
    writeNotebook(nb, notebook);
    const out = path.join(work, "out");
    const env = { JUPYTER_PATH: jupyterDir, MTLKIT_HISTORY_FILE: path.join(work, "history.jsonl") };
    const r = await run(process.execPath, [CLI, "run", nb, "--out", out], env, 150_000);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const c = cells(path.join(out, "fit.ipynb"));
    const progress = finalProgress(c[1].outputs);
    expect(progress).toContain('<progress value="1.0000"');
    expect(progress).toContain("epoch 500/500  step 10000 ");
    const result = c[2].outputs.find((o) => o.output_type === "execute_result");
    const fit = report([result?.data?.["text/plain"]].flat().join(""));
    expect(fit.steps).toBe(10_000);
    expect(fit.redraws).toBeLessThanOrEqual(Math.ceil(fit.seconds * 10) + 3);
    console.log(`mtlkit run: ${fit.steps} steps in ${fit.seconds} s, ${fit.redraws} redraws`);
  }, 160_000);

  it.runIf(requireTool("Jupyter (python3-nbclient)", haveJupyter()))(
    "through nbclient: every cell gets its result and idle status, with a bounded number of display updates on the wire",
    async () => {
      const nb = path.join(work, "fit-nbclient.ipynb");
      writeNotebook(nb, notebook);
      const script = [
        "import sys, json, nbformat",
        "from nbclient import NotebookClient",
        "counts = {}",
        "class Counting(NotebookClient):",
        "    def process_message(self, msg, cell, cell_index):",
        "        t = msg['msg_type']",
        "        if t == 'status': t = 'status.' + msg['content']['execution_state']",
        "        counts[t] = counts.get(t, 0) + 1",
        "        return super().process_message(msg, cell, cell_index)",
        "nb = nbformat.read(sys.argv[1], as_version=4)",
        // raise_on_iopub_timeout: a missing idle status fails the run instead of being waited out
        "Counting(nb, timeout=140, iopub_timeout=15, raise_on_iopub_timeout=True, kernel_name='mtlkit', resources={'metadata': {'path': sys.argv[2]}}).execute()",
        "print(json.dumps({'counts': counts, 'cells': [c.outputs for c in nb.cells]}))",
      ].join("\n");
      const r = await run(
        PYTHON,
        ["-c", script, nb, work],
        { JUPYTER_PATH: jupyterDir, MTLKIT_HISTORY_FILE: path.join(work, "h.jsonl") },
        150_000,
      );
      expect(r.status, r.stderr.slice(-3000)).toBe(0);
      const { counts, cells: outputs } = JSON.parse(r.stdout.trim().split("\n").pop()!) as {
        counts: Record<string, number>;
        cells: NbOutput[][];
      };
      expect(counts["status.idle"]).toBeGreaterThanOrEqual(3);
      expect(counts.execute_result).toBe(1);
      const progress = finalProgress(outputs[1]);
      expect(progress).toContain('<progress value="1.0000"');
      expect(progress).toContain("epoch 500/500  step 10000 ");
      const fit = report(String(outputs[2].find((o) => o.output_type === "execute_result")?.data?.["text/plain"]));
      expect(fit.steps).toBe(10_000);
      expect(counts.update_display_data).toBeLessThanOrEqual(Math.ceil(fit.seconds * 10) + 3);
      console.log(`nbclient: ${fit.steps} steps in ${fit.seconds} s, ${counts.update_display_data} update_display_data on the wire`);
    },
    160_000,
  );
});
