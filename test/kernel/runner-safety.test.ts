/**
 * `mtlkit run` safety (issue 19): a cell stuck in native code, output folders that
 * cannot be written, --out/--inplace, which kernel runs by default, malformed
 * notebooks and cell ids. Real kernels over ZeroMQ, the real CLI.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listProcesses } from "../../kernel/runner/processTree";
import { cells, installKernelSpec, mtlkitRun as runIn, PYTHON, requireTool, tmpDir, workDir, writeNotebook } from "./helpers";

let jupyterDir = "";
let work = "";
const mtlkitRun = (args: string[], timeoutMs?: number, jd = jupyterDir) => runIn(jd, work, args, timeoutMs);

/** Processes whose command line contains `marker`. */
function withMarker(marker: string): number[] {
  const found: number[] = [];
  for (const p of listProcesses()) {
    try {
      if (fs.readFileSync(`/proc/${p.pid}/cmdline`, "utf8").includes(marker)) found.push(p.pid);
    } catch {
      // exited
    }
  }
  return found;
}

/** Leftovers of a failed run must not outlive the test file. */
const toClean: { groups: number[]; marker: string }[] = [];

beforeAll(() => {
  jupyterDir = installKernelSpec();
  work = workDir("safety-");
});

afterAll(() => {
  for (const t of toClean) {
    for (const g of t.groups) {
      try {
        process.kill(-g, "SIGKILL");
      } catch {}
    }
    for (const pid of withMarker(t.marker)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
});

describe("a cell stuck in native code", () => {
  it("is killed with its kernel after the grace period; outputs are saved, the next notebook runs, nothing is left behind", () => {
    // A sleep duration no other process uses, to find the sleep afterwards.
    const seconds = `600.${process.pid}${Date.now() % 1000}`;
    const marker = `sleep ${seconds}`;
    const stuck = path.join(work, "stuck.ipynb");
    writeNotebook(stuck, [
      { source: "console.log('before');\n[process.pid, process.ppid]" },
      { source: `require("child_process").execSync("${marker}")` },
      { source: "'never'" },
    ]);
    const next = path.join(work, "next.ipynb");
    writeNotebook(next, [{ source: "6 * 7" }]);
    const out = path.join(work, "out-stuck");
    const t0 = Date.now();
    const r = mtlkitRun([stuck, next, "--out", out, "--timeout", "5", "--grace", "3"], 100_000);
    const tracked = { groups: [] as number[], marker };
    toClean.push(tracked);
    expect(r.signal, `the runner did not exit:\n${r.stdout}\n${r.stderr}`).toBeNull();
    expect(Date.now() - t0).toBeLessThan(80_000);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/stuck\.ipynb\s+2\s+[\d.]+\s+timeout/);
    expect(r.stdout).toMatch(/stuck\.ipynb: cell 2: .*did not stop within 3 s of the interrupt; the kernel was killed/);
    expect(r.stdout).toMatch(/next\.ipynb\s+1\s+[\d.]+\s+ok/);

    const c = cells(path.join(out, "stuck.ipynb"));
    const [kernelPid, supervisorPid] = JSON.parse(String(c[0].outputs[1].data?.["text/plain"]).replace(/'/g, '"')) as number[];
    tracked.groups.push(kernelPid, supervisorPid);
    expect(c[0].outputs[0].text).toEqual(["before\n"]);
    expect(c[1].outputs.at(-1)?.ename).toBe("CellTimeout");
    expect(c[1].outputs.at(-1)?.evalue).toContain("the kernel was killed");
    expect(c[2].outputs).toEqual([]);
    expect(cells(path.join(out, "next.ipynb"))[0].outputs[0].data?.["text/plain"]).toEqual(["42"]);

    // mtlkit's supervisor runs the kernel in its own process group (pgid = the kernel's pid);
    // the runner started the supervisor in another one (pgid = its pid).
    const left = listProcesses().filter(
      (p) => !p.zombie && ([kernelPid, supervisorPid].includes(p.pid) || [kernelPid, supervisorPid].includes(p.pgid)),
    );
    expect(left).toEqual([]);
    expect(withMarker(marker)).toEqual([]);
  }, 120_000);
});

describe("where the executed notebooks go", () => {
  it("refuses to run without --out or --inplace, and leaves the notebook alone", () => {
    const nb = path.join(work, "untouched.ipynb");
    writeNotebook(nb, [{ source: "1" }]);
    const before = fs.readFileSync(nb, "utf8");
    const r = mtlkitRun([nb]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("run needs --out DIR (where executed copies go) or --inplace (overwrite the notebooks)");
    expect(fs.readFileSync(nb, "utf8")).toBe(before);
    expect(mtlkitRun([nb, "--inplace", "--out", path.join(work, "x")]).stderr).toContain("choose one of --out DIR and --inplace");
  });

  it("checks --out before running anything: a path under a regular file (ENOTDIR)", () => {
    const file = path.join(work, "a-file");
    fs.writeFileSync(file, "not a folder");
    const ran = path.join(work, "ran-enotdir");
    const nb = path.join(work, "writes-marker.ipynb");
    writeNotebook(nb, [{ source: `require("fs").writeFileSync(${JSON.stringify(ran)}, "ran")` }]);
    const t0 = Date.now();
    const r = mtlkitRun([nb, "--out", path.join(file, "out")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Error in --out ${path.join(file, "out")}: cannot write into ${path.join(file, "out")} (ENOTDIR`);
    expect(r.stderr).toContain("nothing was run");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(fs.existsSync(ran)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  // As root, permissions do not stop writes; /sys does (EACCES or EPERM, even for root).
  const readOnly = "/sys/kernel/mtlkit-out";
  const canWriteSys = (() => {
    try {
      fs.mkdirSync(readOnly);
      fs.rmdirSync(readOnly);
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(canWriteSys || !fs.existsSync("/sys/kernel"))("checks --out before running anything: a read-only place", () => {
    const nb = path.join(work, "ro.ipynb");
    writeNotebook(nb, [{ source: "1" }]);
    const r = mtlkitRun([nb, "--out", readOnly]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`Error in --out ${readOnly}: cannot write into ${readOnly} \\((EACCES|EPERM|EROFS)`));
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("never loses a run's outputs when writing fails at the end: they go to a temporary folder, and later notebooks still run", () => {
    const out = path.join(work, "out-vanishes");
    const nb = path.join(work, "breaks-out.ipynb");
    // The cell replaces the (checked, writable) output folder with a regular file.
    writeNotebook(nb, [
      { source: "console.log('precious output')" },
      {
        source: `const fs = require("fs");\nfs.rmSync(${JSON.stringify(out)}, { recursive: true });\nfs.writeFileSync(${JSON.stringify(out)}, "in the way")`,
      },
    ]);
    const later = path.join(work, "later.ipynb");
    writeNotebook(later, [{ source: "'later ran'" }]);
    const r = mtlkitRun([nb, later, "--out", out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/breaks-out\.ipynb\s+2\s+[\d.]+\s+not saved/);
    expect(r.stdout).toMatch(/later\.ipynb\s+1\s+[\d.]+\s+not saved/);
    const saved = r.stdout.match(/breaks-out\.ipynb: could not write into \S+ \((ENOTDIR|EEXIST)[^)]*\); saved to (\S+) instead/);
    expect(saved, r.stdout).not.toBeNull();
    const c = cells(path.join(saved![2], "breaks-out.ipynb"));
    expect(c[0].outputs[0].text).toEqual(["precious output\n"]);
    expect(fs.existsSync(path.join(saved![2], "breaks-out.html"))).toBe(true);
    const savedLater = r.stdout.match(/later\.ipynb: could not write into \S+ \([^)]*\); saved to (\S+) instead/);
    expect(cells(path.join(savedLater![1], "later.ipynb"))[0].outputs[0].data?.["text/plain"]).toEqual(["'later ran'"]);
    for (const m of [saved![2], savedLater![1]]) fs.rmSync(m, { recursive: true, force: true });
  }, 120_000);

  it("--inplace overwrites the notebook", () => {
    const nb = path.join(work, "inplace.ipynb");
    writeNotebook(nb, [{ source: "'in place'" }]);
    const r = mtlkitRun([nb, "--inplace"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(cells(nb)[0].outputs[0].data?.["text/plain"]).toEqual(["'in place'"]);
    expect(fs.existsSync(path.join(work, "inplace.html"))).toBe(true);
  }, 60_000);
});

describe("which kernel runs", () => {
  it("without --kernel, this installation's own kernel, whatever mtlkit kernelspec is installed; --kernel NAME still picks the installed one", () => {
    // Another checkout's "mtlkit" kernelspec, first on JUPYTER_PATH: a kernel that exits at once.
    const other = tmpDir("mtlkit-other-checkout-");
    fs.mkdirSync(path.join(other, "kernels", "mtlkit"), { recursive: true });
    const spec = { argv: [process.execPath, "-e", "process.exit(7)"], display_name: "other checkout", language: "typescript" };
    fs.writeFileSync(path.join(other, "kernels", "mtlkit", "kernel.json"), JSON.stringify(spec));
    const nb = path.join(work, "own-kernel.ipynb");
    writeNotebook(nb, [{ source: "process.argv[1]" }]);
    const own = mtlkitRun([nb, "--out", path.join(work, "out-own")], undefined, other);
    expect(own.status, own.stdout + own.stderr).toBe(0);
    const resolved = String(cells(path.join(work, "out-own", "own-kernel.ipynb"))[0].outputs[0].data?.["text/plain"]);
    expect(resolved).toBe(`'${path.join(path.resolve(__dirname, "..", ".."), "dist", "kernel", "cli.js")}'`);
    const chosen = mtlkitRun([nb, "--out", path.join(work, "out-chosen"), "--kernel", "mtlkit"], undefined, other);
    expect(chosen.status).toBe(1);
    expect(chosen.stdout).toMatch(/own-kernel\.ipynb: kernel mtlkit died \(exit code 7\)/);
  }, 60_000);
});

describe("malformed notebooks", () => {
  it("get one clear error naming the file and the cell; the other notebooks still run", () => {
    const bad = (name: string, content: string) => {
      const f = path.join(work, name);
      fs.writeFileSync(f, content);
      return f;
    };
    const nullNb = bad("null.ipynb", "null");
    const cellsOk = [{ cell_type: "code", metadata: {}, source: "1", outputs: [], execution_count: null }];
    const noSource = bad(
      "no-source.ipynb",
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: [...cellsOk, { cell_type: "code", metadata: {}, outputs: [] }],
      }),
    );
    const nullCell = bad(
      "null-cell.ipynb",
      JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [...cellsOk, ...cellsOk, null] }),
    );
    const good = path.join(work, "good.ipynb");
    writeNotebook(good, [{ source: "'good'" }]);
    const r = mtlkitRun([nullNb, noSource, nullCell, good, "--out", path.join(work, "out-bad")]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`null.ipynb: Error in notebook ${nullNb}: the file holds null, not a notebook object`);
    expect(r.stdout).toContain(
      `no-source.ipynb: Error in notebook ${noSource}: cell 1 has no source (a string or a list of strings), found nothing`,
    );
    expect(r.stdout).toContain(`null-cell.ipynb: Error in notebook ${nullCell}: cell 2 is null, not a cell object`);
    expect(r.stdout).toMatch(/good\.ipynb\s+1\s+[\d.]+\s+ok/);
    expect(r.stdout + r.stderr).not.toContain("Cannot read properties");
  }, 60_000);
});

describe("cell ids", () => {
  it("an executed notebook has an id in every cell, nbformat_minor 5, and validates with nbformat without warnings", () => {
    const nb = path.join(work, "no-ids.ipynb");
    writeNotebook(nb, [{ source: "# Title", markdown: true }, { source: "console.log('x'); 1" }, { source: "null.x" }]);
    const raw = JSON.parse(fs.readFileSync(nb, "utf8"));
    raw.nbformat_minor = 4;
    for (const c of raw.cells) delete c.id;
    fs.writeFileSync(nb, JSON.stringify(raw));
    const out = path.join(work, "out-ids");
    const r = mtlkitRun([nb, "--out", out, "--allow-errors"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const executed = JSON.parse(fs.readFileSync(path.join(out, "no-ids.ipynb"), "utf8"));
    expect(executed.nbformat_minor).toBeGreaterThanOrEqual(5);
    const ids = executed.cells.map((c: { id: string }) => c.id);
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(/^[a-zA-Z0-9-_]{1,64}$/);
    if (requireTool("nbformat (python3)", spawnSync(PYTHON, ["-c", "import nbformat"]).status === 0)) {
      const check = spawnSync(
        PYTHON,
        [
          "-c",
          "import sys, warnings, nbformat\nwarnings.simplefilter('error')\nnb = nbformat.read(sys.argv[1], as_version=nbformat.NO_CONVERT)\nnbformat.validate(nb)\nprint('valid')",
          path.join(out, "no-ids.ipynb"),
        ],
        { encoding: "utf8" },
      );
      expect(check.stdout + check.stderr).toBe("valid\n");
    }
  }, 60_000);
});
