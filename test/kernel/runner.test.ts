/**
 * `mtlkit run` end to end: real kernels over ZeroMQ, executed notebooks on disk,
 * the HTML export, and that page opened in headless Chromium.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { cells, CHROMIUM, haveJupyter, installKernelSpec, mtlkitRun as runIn, requireTool, workDir, writeNotebook } from "./helpers";

let jupyterDir = "";
let work = "";

const mtlkitRun = (args: string[], timeoutMs?: number) => runIn(jupyterDir, work, args, timeoutMs);

beforeAll(() => {
  jupyterDir = installKernelSpec();
  work = workDir();
});

describe("mtlkit run", () => {
  it("executes a notebook: outputs, counts, errors, a figure and a DataFrame, and exports HTML", () => {
    const nb = path.join(work, "tour.ipynb");
    writeNotebook(nb, [
      { source: "# A title\nSome *text*.", markdown: true },
      { source: "console.log('hello'); 1 + 1" },
      { source: 'display(html`<b id="bold">bold</b>`)' },
      { source: "({ data: [{ type: 'bar', x: ['a', 'b'], y: [1, 3] }], layout: { title: { text: 'Bars' } } })" },
      { source: "import * as dfd from 'danfojs-node';\nnew dfd.DataFrame({ task: ['segmentation', 'depth'], loss: [0.5, 0.25] })" },
      { source: "function boom(): never {\n  throw new Error('expected failure');\n}\nboom()" },
      { source: "'after the error'" },
    ]);
    const out = path.join(work, "out");
    const r = mtlkitRun([nb, "--out", out, "--allow-errors"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/tour\.ipynb\s+6\s+[\d.]+\s+ok/);
    const c = cells(path.join(out, "tour.ipynb"));
    expect(c.slice(1).map((x) => x.execution_count)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(c[1].outputs.map((o) => o.output_type)).toEqual(["stream", "execute_result"]);
    expect(c[1].outputs[0].text?.join("")).toBe("hello\n");
    expect(c[1].outputs[1].data?.["text/plain"]).toEqual(["2"]);
    expect(c[3].outputs[0].data).toHaveProperty("application/vnd.plotly.v1+json");
    expect(c[4].outputs[0].data).toHaveProperty("text/html");
    expect(c[5].outputs[0].output_type).toBe("error");
    expect(c[5].outputs[0].traceback?.join("\n")).toMatch(/at boom \(Cell \[5\]:2:/);
    expect(c[6].outputs[0].data?.["text/plain"]).toEqual(["'after the error'"]);
    const html = fs.readFileSync(path.join(out, "tour.html"), "utf8");
    expect(html).toContain("Plotly.newPlot");
    expect(html).toContain("plotly.js v");
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect(html).toContain("<h1>A title</h1>");

    if (requireTool("chromium", fs.existsSync(CHROMIUM))) {
      const profile = fs.mkdtempSync(path.join(work, "chromium-"));
      const dom = spawnSync(
        CHROMIUM,
        [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-quic",
          "--no-first-run",
          "--disable-component-update",
          "--disable-sync",
          `--user-data-dir=${profile}`,
          "--virtual-time-budget=10000",
          "--dump-dom",
          `file://${path.join(out, "tour.html")}`,
        ],
        { encoding: "utf8", timeout: 90_000, maxBuffer: 256 << 20 },
      );
      expect(dom.status, dom.stderr.slice(-2000)).toBe(0);
      // plotly drew: its SVG root and the bar trace are in the live DOM
      expect(dom.stdout).toMatch(/<svg[^>]*class="main-svg"/);
      expect(dom.stdout).toContain('class="trace bars"');
      expect(dom.stdout).toMatch(/<table class="dataframe"[\s\S]*<td>segmentation<\/td>/);
      expect(dom.stdout).toContain('id="bold"');
    }
  }, 200_000);

  it("stops at an error without --allow-errors and exits non-zero", () => {
    const nb = path.join(work, "fails.ipynb");
    writeNotebook(nb, [{ source: "1" }, { source: "null.x" }, { source: "'never'" }]);
    const r = mtlkitRun([nb, "--out", path.join(work, "out2")]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/fails\.ipynb\s+2\s+[\d.]+\s+error/);
    const c = cells(path.join(work, "out2", "fails.ipynb"));
    expect(c[1].outputs[0].output_type).toBe("error");
    expect(c[2].execution_count).toBeNull();
  }, 120_000);

  it("interrupts a cell that runs past --timeout", () => {
    const nb = path.join(work, "slow.ipynb");
    writeNotebook(nb, [{ source: "'fast'" }, { source: "let n = 0;\nwhile (true) { n++; }" }, { source: "'never'" }]);
    const t0 = Date.now();
    // (the runner lets the kernel warm up before it starts timing cells)
    const r = mtlkitRun([nb, "--out", path.join(work, "out3"), "--timeout", "5"]);
    expect(Date.now() - t0).toBeLessThan(90_000);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/slow\.ipynb\s+2\s+[\d.]+\s+timeout/);
    const c = cells(path.join(work, "out3", "slow.ipynb"));
    expect(c[1].outputs[0].ename).toBe("Interrupted");
  }, 120_000);

  it("reports a kernel that exits mid-run at its cell, and saves what ran", () => {
    const nb = path.join(work, "dies.ipynb");
    writeNotebook(nb, [{ source: "1" }, { source: "process.exit(3)" }, { source: "2" }]);
    const r = mtlkitRun([nb, "--inplace"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/dies\.ipynb\s+2\s+[\d.]+\s+kernel died/);
    expect(r.stdout).toContain("dies.ipynb: cell 2: kernel mtlkit died (exit code 3)");
    const c = cells(nb);
    expect(c[0].outputs[0].data?.["text/plain"]).toEqual(["1"]);
    expect(c[1].outputs.at(-1)?.ename).toBe("KernelDied");
    expect(c[2].outputs).toEqual([]);
    expect(fs.existsSync(path.join(work, "dies.html"))).toBe(true);
  }, 120_000);

  describe.runIf(requireTool("Jupyter (python3-ipykernel)", haveJupyter()))("with IPython's kernel", () => {
    it("runs a Python notebook", () => {
      const nb = path.join(work, "py.ipynb");
      writeNotebook(nb, [{ source: "print('from python')\n6 * 7" }, { source: "1/0" }], "python3");
      const r = mtlkitRun([nb, "--out", path.join(work, "out4"), "--allow-errors", "--kernel", "python3"]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const c = cells(path.join(work, "out4", "py.ipynb"));
      expect(c[0].execution_count).toBe(1);
      expect(c[0].outputs.map((o) => o.output_type)).toEqual(["stream", "execute_result"]);
      expect(c[0].outputs[1].data?.["text/plain"]).toEqual(["42"]);
      expect(c[1].outputs[0].ename).toBe("ZeroDivisionError");
    }, 120_000);
  });
});
