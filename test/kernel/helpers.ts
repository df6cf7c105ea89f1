/** Shared setup for kernel tests: a temp Jupyter data dir with the mtlkit kernelspec. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const REPO = path.resolve(__dirname, "..", "..");
export const PYTHON = "/usr/bin/python3";
export const CHROMIUM = "/usr/bin/chromium";
export const CLI = path.join(REPO, "dist", "kernel", "cli.js");

/** True when the Jupyter packages these tests drive are importable by /usr/bin/python3. */
export function haveJupyter(): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  const r = spawnSync(PYTHON, ["-c", "import jupyter_client, jupyter_kernel_test, nbclient, ipykernel"], { stdio: "ignore" });
  return r.status === 0;
}

/**
 * Whether to run tests that need an external tool. With MTLKIT_REQUIRE_JUPYTER=1
 * (CI) a missing tool is an error, never a skip.
 */
export function requireTool(name: string, present: boolean): boolean {
  if (present) return true;
  if (process.env.MTLKIT_REQUIRE_JUPYTER === "1") {
    throw new Error(`${name} is required (MTLKIT_REQUIRE_JUPYTER=1) but is not installed`);
  }
  return false;
}

/** One output of an executed notebook's cell, as the tests read it. */
export interface NbOutput {
  output_type: string;
  data?: Record<string, unknown>;
  name?: string;
  text?: string[];
  ename?: string;
  evalue?: string;
  traceback?: string[];
}
export interface NbCell {
  execution_count: number | null;
  outputs: NbOutput[];
}

/** The cells of a notebook file. */
export function cells(file: string): NbCell[] {
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { cells: NbCell[] }).cells;
}

/** A fresh folder under node_modules/.cache inside the repo, so that notebooks there can import its dependencies. */
export function workDir(prefix = "run-"): string {
  const base = path.join(REPO, "node_modules", ".cache", "mtlkit-kernel-tests");
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, prefix));
}

/** `mtlkit run ARGS` with kernelspecs from `jupyterDir` and a history file inside `work`. */
export function mtlkitRun(jupyterDir: string, work: string, args: string[], timeoutMs = 120_000) {
  return spawnSync(process.execPath, [CLI, "run", ...args], {
    env: { ...process.env, JUPYTER_PATH: jupyterDir, MTLKIT_HISTORY_FILE: path.join(work, "history.jsonl") },
    encoding: "utf8",
    timeout: timeoutMs,
  });
}

/** Like workDir, and notebooks run there can `import * as mtl from "mtlkit"` (this checkout, linked). */
export function mtlkitWorkDir(prefix = "run-"): string {
  const dir = workDir(prefix);
  fs.mkdirSync(path.join(dir, "node_modules"));
  fs.symlinkSync(REPO, path.join(dir, "node_modules", "mtlkit"), "dir");
  return dir;
}

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A Jupyter data dir holding the mtlkit kernelspec, installed with the real CLI. */
export function installKernelSpec(): string {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const dir = tmpDir("mtlkit-jupyter-");
  const r = spawnSync(process.execPath, [CLI, "kernel", "install", "--jupyter-dir", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kernel install failed: ${r.stderr}`);
  return dir;
}

export interface CellSpec {
  source: string;
  tags?: string[];
  markdown?: boolean;
}

export function writeNotebook(file: string, cells: CellSpec[], kernel = "mtlkit"): void {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: kernel, display_name: kernel, language: kernel === "mtlkit" ? "typescript" : "python" } },
    cells: cells.map((c, i) =>
      c.markdown
        ? { cell_type: "markdown", id: `c${i}`, metadata: {}, source: c.source }
        : {
            cell_type: "code",
            id: `c${i}`,
            metadata: c.tags ? { tags: c.tags } : {},
            source: c.source,
            outputs: [],
            execution_count: null,
          },
    ),
  };
  fs.writeFileSync(file, JSON.stringify(nb, null, 1));
}

/** Whether process `pid` is running (a zombie, dead but not yet reaped, counts as gone). */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Polls `f` every 100 ms until it holds or `ms` have passed; returns its last answer. */
export async function waitUntil(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return f();
}
