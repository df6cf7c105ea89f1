/**
 * The runner's pieces without a kernel: notebook validation, cell ids, the process-tree kill,
 * and the tutorials' own cell ids.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { MtlError } from "../../lib/errors";
import { CELL_ID, ensureCellIds, Notebook, validateNotebook } from "../../kernel/runner/notebook";
import { killProcessTree, listProcesses, processTree } from "../../kernel/runner/processTree";
import { PYTHON, REPO, requireTool } from "./helpers";

const code = (source: unknown, extra: Record<string, unknown> = {}) => ({
  cell_type: "code",
  metadata: {},
  source,
  outputs: [],
  execution_count: null,
  ...extra,
});
const nb = (cells: unknown[], extra: Record<string, unknown> = {}) => ({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells, ...extra });

describe("validateNotebook", () => {
  const error = (raw: unknown) => {
    try {
      validateNotebook("x.ipynb", raw);
    } catch (e) {
      expect(e).toBeInstanceOf(MtlError);
      return (e as Error).message;
    }
    return "valid";
  };

  it("accepts nbformat 4 notebooks, sources as strings or lists of lines", () => {
    expect(error(nb([code("1"), code(["a\n", "b"]), { cell_type: "markdown", metadata: {}, source: "# t" }]))).toBe("valid");
  });

  it("names the file and the cell index for each malformed part", () => {
    expect(error(null)).toBe("Error in notebook x.ipynb: the file holds null, not a notebook object");
    expect(error([])).toBe("Error in notebook x.ipynb: the file holds object, not a notebook object");
    expect(error(nb([], { nbformat: 3 }))).toMatch(/only nbformat 4 notebooks are supported \(found nbformat 3\)/);
    expect(error(nb([], { nbformat_minor: "5" }))).toMatch(/nbformat_minor must be a whole number/);
    expect(error(nb([], { metadata: null }))).toMatch(/metadata must be an object \(found null\)/);
    expect(error(nb([], { cells: undefined }))).toMatch(/cells must be a list \(found nothing\)/);
    expect(error(nb([code("1"), null]))).toBe("Error in notebook x.ipynb: cell 1 is null, not a cell object");
    expect(error(nb([code("1"), code(undefined)]))).toMatch(/cell 1 has no source \(a string or a list of strings\), found nothing/);
    expect(error(nb([code(null)]))).toMatch(/cell 0 has no source .*found null/);
    expect(error(nb([code(["a", 3])]))).toMatch(/cell 0 has no source/);
    expect(error(nb([{ cell_type: "widget", metadata: {}, source: "" }]))).toMatch(/cell 0 has cell_type "widget"/);
    expect(error(nb([code("1", { metadata: null })]))).toMatch(/cell 0 has no metadata object/);
    expect(error(nb([code("1", { metadata: { tags: "x" } })]))).toMatch(/cell 0 has metadata.tags that is not a list of strings/);
    expect(error(nb([code("1", { outputs: undefined })]))).toMatch(/cell 0 is a code cell without an outputs list/);
    expect(error(nb([code("1", { execution_count: "1" })]))).toMatch(/cell 0 has execution_count "1"/);
    expect(error(nb([code("1", { id: "has space" })]))).toMatch(/cell 0 has an invalid id "has space"/);
  });
});

describe("ensureCellIds", () => {
  it("adds valid, unique ids derived from position and source, keeps existing ones, and raises nbformat_minor to 5", () => {
    const make = () => nb([code("same"), code("same"), code("x", { id: "keep-me" })], { nbformat_minor: 4 }) as unknown as Notebook;
    const a = make();
    expect(ensureCellIds(a)).toBe(2);
    const ids = a.cells.map((c) => c.id!);
    expect(ids[2]).toBe("keep-me");
    expect(new Set(ids).size).toBe(3);
    for (const id of ids) expect(id).toMatch(CELL_ID);
    expect(a.nbformat_minor).toBe(5);
    expect(Object.keys(a.cells[0])[1]).toBe("id");
    const b = make();
    ensureCellIds(b);
    expect(b.cells.map((c) => c.id)).toEqual(ids); // stable
    expect(ensureCellIds(b)).toBe(0);
  });

  it("avoids an id another cell already has", () => {
    const first = nb([code("a")]) as unknown as Notebook;
    ensureCellIds(first);
    const clash = nb([code("b", { id: first.cells[0].id }), code("a")]) as unknown as Notebook;
    ensureCellIds(clash);
    expect(clash.cells[1].id).not.toBe(clash.cells[0].id);
    expect(clash.cells[1].id).toMatch(CELL_ID);
  });
});

describe("the tutorials", () => {
  const dir = path.join(REPO, "notebooks");
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ipynb"));

  it("have an id in every cell (unique, valid) and nbformat_minor ≥ 5", () => {
    for (const f of files) {
      const book = validateNotebook(f, JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")));
      const ids = book.cells.map((c) => c.id);
      expect(
        ids.every((id) => typeof id === "string" && CELL_ID.test(id)),
        f,
      ).toBe(true);
      expect(new Set(ids).size, f).toBe(ids.length);
      expect(book.nbformat_minor, f).toBeGreaterThanOrEqual(5);
    }
  });

  it.runIf(requireTool("nbformat (python3)", fs.existsSync(PYTHON) && spawnSync(PYTHON, ["-c", "import nbformat"]).status === 0))(
    "validate with nbformat, warnings as errors",
    () => {
      const script =
        "import sys, warnings, nbformat\nwarnings.simplefilter('error')\nfor f in sys.argv[1:]:\n    nbformat.validate(nbformat.read(f, as_version=nbformat.NO_CONVERT))\nprint('valid')";
      const r = spawnSync(PYTHON, ["-c", script, ...files.map((f) => path.join(dir, f))], { encoding: "utf8" });
      expect(r.stdout + r.stderr).toBe("valid\n");
    },
    60_000,
  );
});

describe.runIf(process.platform !== "win32")("killProcessTree", () => {
  it("kills a process, its children in their own process group, and grandchildren reparented to init", async () => {
    // root (own group) → child in a new group → grandchild `sleep` that outlives its parent's exit.
    const marker = `${Date.now()}${process.pid}`;
    const script = `
      const { spawn } = require("child_process");
      const child = spawn(process.execPath, ["-e", \`require("child_process").spawn("sleep", ["300.${marker}"], { stdio: "ignore" }); setInterval(() => {}, 1000)\`], { detached: true, stdio: "ignore" });
      console.log(child.pid);
      setInterval(() => {}, 1000);`;
    const root = spawn(process.execPath, ["-e", script], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
    const childPid = Number(await new Promise<string>((r) => root.stdout!.once("data", (d) => r(String(d)))));
    let tree: number[] = [];
    for (let i = 0; i < 100 && tree.length < 3; i++) {
      await new Promise((r) => setTimeout(r, 50));
      tree = processTree(root.pid!).map((p) => p.pid);
    }
    expect(tree).toHaveLength(3);
    const groups = new Set(processTree(root.pid!).map((p) => p.pgid));
    expect(groups.size).toBe(2); // the root's group and the child's own
    expect(await killProcessTree(root.pid!)).toEqual([]);
    // Dead processes may linger as zombies until their parent (us, or init) reaps them.
    const left = listProcesses().filter((p) => !p.zombie && (tree.includes(p.pid) || groups.has(p.pgid) || p.pid === childPid));
    expect(left).toEqual([]);
  });
});
