/**
 * Debian's jupyter_kernel_test against the mtlkit kernel (kernel_conformance.py),
 * plus nbclient running a notebook with an error in the middle.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { haveJupyter, installKernelSpec, PYTHON, REPO, requireTool, tmpDir, writeNotebook } from "./helpers";

const run = requireTool("Jupyter (python3-jupyter-kernel-test, python3-nbclient)", haveJupyter());

describe.runIf(run)("Jupyter conformance", () => {
  it("passes jupyter_kernel_test with every feature sampled", () => {
    const jupyterDir = installKernelSpec();
    const history = path.join(tmpDir("mtlkit-hist-"), "history.jsonl");
    const r = spawnSync(PYTHON, ["-m", "unittest", "-v", "kernel_conformance"], {
      cwd: __dirname,
      env: { ...process.env, JUPYTER_PATH: jupyterDir, MTLKIT_HISTORY_FILE: history, PYTHONDONTWRITEBYTECODE: "1" },
      encoding: "utf8",
      timeout: 300_000,
      maxBuffer: 64 << 20,
    });
    const log = (r.stderr ?? "").slice(-6000);
    expect(r.status, log).toBe(0);
    expect(r.stderr).toMatch(/\nOK( \(skipped=\d+\))?\n/);
    // Only the package-import check may skip, and only before lib/ is built.
    const skipped = (r.stderr.match(/\.\.\. skipped/g) ?? []).length;
    expect(skipped, log).toBeLessThanOrEqual(fs.existsSync(path.join(REPO, "dist/lib/index.d.ts")) ? 0 : 1);
  }, 320_000);

  it("nbclient runs a notebook with allow_errors to the end", () => {
    const jupyterDir = installKernelSpec();
    const dir = tmpDir("mtlkit-nbclient-");
    const nbFile = path.join(dir, "errors.ipynb");
    writeNotebook(nbFile, [
      { source: "const a = 1;\na + 1" },
      { source: "throw new Error('in the middle')" },
      { source: "const b: number = 'type error';" },
      { source: "console.log('after the errors'); a * 10" },
      { source: "display(html`<b>still running</b>`)" },
    ]);
    const script = [
      "import sys, json, nbformat",
      "from nbclient import NotebookClient",
      "nb = nbformat.read(sys.argv[1], as_version=4)",
      "NotebookClient(nb, timeout=60, kernel_name='mtlkit', allow_errors=True, resources={'metadata': {'path': sys.argv[2]}}).execute()",
      "print(json.dumps([[c.get('execution_count'), [o['output_type'] for o in c.outputs]] for c in nb.cells]))",
    ].join("\n");
    const r = spawnSync(PYTHON, ["-c", script, nbFile, dir], {
      env: { ...process.env, JUPYTER_PATH: jupyterDir, MTLKIT_HISTORY_FILE: path.join(dir, "h.jsonl") },
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    const cells = JSON.parse(r.stdout.trim().split("\n").pop()!) as [number, string[]][];
    expect(cells).toEqual([
      [1, ["execute_result"]],
      [2, ["error"]],
      [3, ["error"]],
      [4, ["stream", "execute_result"]],
      [5, ["display_data"]],
    ]);
  }, 150_000);
});
