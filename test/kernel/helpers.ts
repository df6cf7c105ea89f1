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
