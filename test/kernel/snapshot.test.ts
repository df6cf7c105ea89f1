/**
 * The kernel's start-up snapshot (kernel/snapshot.ts): a V8 heap image holding the TypeScript
 * compiler and the installed declarations already parsed and bound. It must be used when valid,
 * give the very answers a kernel without it gives, never answer from a declaration file that
 * changed since, and never keep a kernel from starting.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelClient } from "../../kernel/runner/client";
import { CLI, REPO, tmpDir, workDir } from "./helpers";

const SNAPSHOT_JS = path.join(REPO, "dist", "kernel", "snapshot.js");
const ENGINE_JS = path.join(REPO, "dist", "kernel", "engine.js");

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function newDir(prefix: string): string {
  const d = tmpDir(prefix);
  dirs.push(d);
  return d;
}

/** Cells, completions and inspections through the engine, as a kernel runs them; JSON on stdout. */
const PROBE = `
const { Engine } = require(${JSON.stringify(ENGINE_JS)});
const { snapshotStats } = require(${JSON.stringify(SNAPSHOT_JS)});
const cells = JSON.parse(process.env.PROBE_CELLS);
const e = new Engine(process.cwd());
(async () => {
  const out = { outcomes: [], completions: [], inspections: [] };
  for (const c of cells) {
    // Test steps between cells: rewrite a file keeping its size and mtime, or wait.
    if (c.startsWith("//!write ")) {
      const [file, text] = JSON.parse(c.slice(9));
      const st = require("fs").statSync(file);
      require("fs").writeFileSync(file, text);
      require("fs").utimesSync(file, st.atime, st.mtime);
      continue;
    }
    if (c.startsWith("//!sleep ")) {
      await new Promise((r) => setTimeout(r, Number(c.slice(9))));
      continue;
    }
    const r = await e.execute(c, "Cell");
    out.outcomes.push(r.status === "ok" ? { status: "ok", value: r.hasValue ? String(r.value) : null } : { status: r.status, ename: r.ename, traceback: r.traceback });
  }
  for (const [code, pos] of [["Math.ma", 7], ["process.memoryU", 15], ["fs.readFileS", 12], ["[1, 2].flatM", 12]]) out.completions.push(e.complete(code, pos).matches);
  for (const [code, pos] of [["Math.max(1, 2)", 6], ["fs.readFileSync", 5], ["process.cwd()", 9], ["Promise.allSettled", 10]]) out.inspections.push(e.inspect(code, pos));
  out.stats = snapshotStats;
  out.snapshot = Boolean(globalThis[Symbol.for("mtlkit.kernelSnapshot")]);
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})();
`;

interface ProbeOut {
  outcomes: unknown[];
  completions: string[][];
  inspections: unknown[];
  stats: { taken: number; stale: number };
  snapshot: boolean;
}

let probeScript = "";

function probe(cwd: string, cells: string[], blob: string | null): ProbeOut {
  // One script for every run: its path shows in tracebacks, which are compared.
  if (!probeScript) {
    probeScript = path.join(newDir("mtlkit-probe-"), "probe.js");
    fs.writeFileSync(probeScript, PROBE);
  }
  const script = probeScript;
  const args = blob ? ["--snapshot-blob", blob, script] : [script];
  const r = spawnSync(process.execPath, args, {
    cwd,
    env: { ...process.env, PROBE_CELLS: JSON.stringify(cells) },
    encoding: "utf8",
    timeout: 120_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as ProbeOut;
}

/** Build a blob for kernels in `folders` at `blob` (dist's buildBlob, in a child process). */
function buildBlob(folders: string[], blob: string): void {
  const script = `require(${JSON.stringify(SNAPSHOT_JS)}).buildBlob(${JSON.stringify(folders)}, ${JSON.stringify(blob)}).catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 180_000 });
  expect(r.status, r.stderr).toBe(0);
}

const CELLS = [
  'const n: number = "one";',
  'import * as fs from "fs";',
  'const size: string = fs.statSync(".").size;',
  "const xs = [1, 2, 3].map((x) => x * 2);\nxs.length",
  "process.version.startsWith('v')",
  "Promise.allSettled([1]).then((r) => r.length)",
  "let u: URL = new URL('http://x'); u.host",
  'function boom(n: number): number {\n  if (n > 1) throw new RangeError("too big");\n  return n;\n}',
  "boom(1) + boom(2)",
];

describe("the kernel's start-up snapshot", () => {
  let cacheDir: string;
  let blob: string;

  /** `mtlkit kernel snapshot --folder DIR` into our cache folder; the blob's path. */
  function snapshotFor(folder: string): string {
    const r = spawnSync(process.execPath, [CLI, "kernel", "snapshot", "--folder", folder], {
      env: { ...process.env, MTLKIT_CACHE_DIR: cacheDir },
      encoding: "utf8",
      timeout: 240_000,
    });
    expect(r.status, r.stderr).toBe(0);
    return /Kernel start-up snapshot: (\S+)/.exec(r.stdout)?.[1] ?? "";
  }

  beforeAll(() => {
    cacheDir = newDir("mtlkit-snapcache-");
    blob = snapshotFor(REPO);
  }, 250_000);

  it("is written atomically with its manifest, and found valid for the next kernel", () => {
    expect(path.dirname(blob)).toBe(cacheDir);
    const files = fs.readdirSync(cacheDir).filter((f) => f.startsWith("kernel-") || f.startsWith("."));
    expect(files.sort()).toEqual([path.basename(blob), path.basename(blob).replace(/\.blob$/, ".json")]);
    expect(fs.statSync(blob).mode & 0o777).toBe(0o600);
    const check = `const s = require(${JSON.stringify(SNAPSHOT_JS)}); console.log(JSON.stringify(s.usableBlob()));`;
    const r = spawnSync(process.execPath, ["-e", check], {
      cwd: REPO,
      env: { ...process.env, MTLKIT_CACHE_DIR: cacheDir },
      encoding: "utf8",
    });
    expect(JSON.parse(r.stdout)).toEqual({ blob, reason: "valid" });
    // A folder that sees other @types folders gets a blob of its own (none built for it yet).
    const elsewhere = newDir("mtlkit-nb-");
    const r2 = spawnSync(process.execPath, ["-e", check], {
      cwd: elsewhere,
      env: { ...process.env, MTLKIT_CACHE_DIR: cacheDir },
      encoding: "utf8",
    });
    expect(JSON.parse(r2.stdout).blob).toBeNull();
    // Turned off, or under TSC_* variables the compiler would have read at load time: not used.
    const off = spawnSync(process.execPath, ["-e", check], {
      env: { ...process.env, MTLKIT_CACHE_DIR: cacheDir, MTLKIT_KERNEL_SNAPSHOT: "0" },
      encoding: "utf8",
    });
    expect(JSON.parse(off.stdout).blob).toBeNull();
    const tsc = spawnSync(process.execPath, ["-e", check], {
      env: { ...process.env, MTLKIT_CACHE_DIR: cacheDir, TSC_WATCHFILE: "UseFsEvents" },
      encoding: "utf8",
    });
    expect(JSON.parse(tsc.stdout).blob).toBeNull();
  });

  it("is not used once a file its manifest lists has changed", () => {
    // Another cache folder with the same blob and a manifest that also lists a file of ours.
    const other = newDir("mtlkit-snapcache-");
    const listed = path.join(other, "listed.d.ts");
    fs.writeFileSync(listed, "declare const a: number;\n");
    fs.symlinkSync(blob, path.join(other, path.basename(blob)));
    const manifestFile = blob.replace(/\.blob$/, ".json");
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8")) as {
      files: { fileName: string; size: number; mtimeMs: number; ctimeMs: number }[];
    };
    const st = fs.statSync(listed);
    manifest.files.push({ fileName: listed, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    fs.writeFileSync(path.join(other, path.basename(manifestFile)), JSON.stringify(manifest));
    const check = `console.log(JSON.stringify(require(${JSON.stringify(SNAPSHOT_JS)}).usableBlob()));`;
    const env = { ...process.env, MTLKIT_CACHE_DIR: other };
    expect(JSON.parse(spawnSync(process.execPath, ["-e", check], { cwd: REPO, env, encoding: "utf8" }).stdout).blob).toBe(
      path.join(other, path.basename(blob)),
    );
    // Same size, same mtime, other content: the ctime still tells.
    fs.writeFileSync(listed, "declare const a: string;\n");
    fs.utimesSync(listed, st.atime, st.mtime);
    const after = JSON.parse(spawnSync(process.execPath, ["-e", check], { cwd: REPO, env, encoding: "utf8" }).stdout) as {
      blob: string | null;
      reason: string;
    };
    expect(after.blob).toBeNull();
    expect(after.reason).toContain("listed.d.ts changed");
  });

  it("is keyed by what it depends on: V8 flags, built-in docs, @types folders; options that shape parsing", () => {
    const snap = require(SNAPSHOT_JS) as typeof import("../../kernel/snapshot");
    const env = { ...process.env, MTLKIT_CACHE_DIR: cacheDir };
    const base = snap.blobPath(env, undefined, REPO);
    expect(snap.blobPath(env, undefined, REPO)).toBe(base);
    expect(snap.blobPath(env, 2048, REPO)).not.toBe(base);
    expect(snap.blobPath({ ...env, NODE_OPTIONS: "--stack-trace-limit=50" }, undefined, REPO)).not.toBe(base);
    expect(snap.blobPath({ ...env, MTLKIT_KERNEL_DOCS: "1" }, undefined, REPO)).not.toBe(base);
    expect(snap.blobPath(env, undefined, newDir("mtlkit-nb-"))).not.toBe(base);
    // The SourceFiles are reused only under the same parse/bind options; module resolution does not matter.
    const ts = require(snap.typescriptPath()) as typeof import("typescript");
    const options = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, strict: false };
    const key = snap.parseBindKey(ts, options);
    expect(snap.parseBindKey(ts, { ...options, paths: { x: ["y"] }, rootDir: "/elsewhere", typeRoots: ["/t"] })).toBe(key);
    for (const change of [
      { target: ts.ScriptTarget.ES2020 },
      { alwaysStrict: true },
      { jsx: ts.JsxEmit.ReactJSX },
      { allowUnreachableCode: false },
    ]) {
      expect(snap.parseBindKey(ts, { ...options, ...change })).not.toBe(key);
    }
    expect(snap.parseBindKey(ts, options, true)).not.toBe(key);
  });

  for (const where of ["a folder of its own", "mtlkit's package"]) {
    it(`gives a kernel in ${where} the same errors, completions and inspections as without it`, () => {
      const cwd = where === "mtlkit's package" ? workDir("snapshot-") : newDir("mtlkit-nb-");
      if (where === "mtlkit's package") dirs.push(cwd);
      const fromSnapshot = probe(cwd, CELLS, snapshotFor(cwd));
      const plain = probe(cwd, CELLS, null);
      expect(fromSnapshot.snapshot).toBe(true);
      expect(plain.snapshot).toBe(false);
      // The built-in declarations came from the snapshot, none was stale, none parsed again.
      expect(fromSnapshot.stats.taken).toBeGreaterThan(100);
      expect(fromSnapshot.stats.stale).toBe(0);
      expect(plain.stats.taken).toBe(0);
      const { stats: _a, snapshot: _b, ...same } = fromSnapshot;
      const { stats: _c, snapshot: _d, ...expected } = plain;
      expect(same).toEqual(expected);
      // And the answers are the right ones: type errors reported, Node's and the ES library's types known.
      expect(same.outcomes[0]).toMatchObject({ status: "error", ename: "TSError" });
      expect(JSON.stringify(same.outcomes[0])).toContain("Type 'string' is not assignable to type 'number'");
      expect(JSON.stringify(same.outcomes[2])).toContain("Type 'number' is not assignable to type 'string'");
      expect(same.outcomes[1]).toEqual({ status: "ok", value: null });
      expect(same.outcomes.slice(3)).toEqual([
        { status: "ok", value: "3" },
        { status: "ok", value: "true" },
        { status: "ok", value: "[object Promise]" },
        { status: "ok", value: "x" },
        { status: "ok", value: null },
        expect.objectContaining({ status: "error", ename: "RangeError" }),
      ]);
      // A runtime error's traceback has its frames, at the cell's TypeScript lines.
      expect(JSON.stringify(same.outcomes[8])).toMatch(/at (Proxy\.)?boom \(Cell:2:/);
      expect(same.completions[0]).toContain("max");
      expect(same.completions[1]).toContain("memoryUsage");
      expect(same.completions[2]).toContain("readFileSync");
      expect(same.completions[3]).toContain("flatMap");
      expect(JSON.stringify(same.inspections[0])).toContain("max(...values: number[]): number");
      expect(JSON.stringify(same.inspections[1])).toContain("readFileSync");
    });
  }

  it("never answers from a declaration file that changed since it was built", () => {
    // A folder whose @types has a package of ours: the snapshot holds it parsed.
    const folder = newDir("mtlkit-stale-");
    const dts = path.join(folder, "node_modules", "@types", "fake", "index.d.ts");
    fs.mkdirSync(path.dirname(dts), { recursive: true });
    fs.writeFileSync(dts, "declare const fakeValue: number;\n");
    const own = path.join(newDir("mtlkit-staleblob-"), "kernel-test.blob");
    buildBlob([folder], own);
    const cell = ['let s: typeof fakeValue = "text";'];
    const before = probe(folder, cell, own);
    expect(before.snapshot).toBe(true);
    expect(before.stats).toMatchObject({ stale: 0 });
    expect(before.stats.taken).toBeGreaterThan(1);
    expect(JSON.stringify(before.outcomes[0])).toContain("Type 'string' is not assignable to type 'number'");
    // Same size and mtime, other content: parsed again, and the answer follows the file.
    const st = fs.statSync(dts);
    fs.writeFileSync(dts, "declare const fakeValue: string;\n");
    fs.utimesSync(dts, st.atime, st.mtime);
    const after = probe(folder, cell, own);
    expect(after.stats.stale).toBe(1);
    expect(after.outcomes[0]).toEqual({ status: "ok", value: null });
    expect(after).toMatchObject({ outcomes: probe(folder, cell, null).outcomes });

    // While a kernel runs: an edit is seen within the 2 s a snapshot file's check is trusted.
    fs.writeFileSync(dts, "declare const fakeValue: number;\n");
    const own2 = path.join(newDir("mtlkit-staleblob-"), "kernel-test.blob");
    buildBlob([folder], own2);
    const during = probe(
      folder,
      [...cell, `//!write ${JSON.stringify([dts, "declare const fakeValue: string;\n"])}`, "//!sleep 2500", ...cell],
      own2,
    );
    expect(JSON.stringify(during.outcomes[0])).toContain("Type 'string' is not assignable to type 'number'");
    expect(during.outcomes[1]).toEqual({ status: "ok", value: null });
    expect(during.stats.stale).toBe(1);
  });

  it("starts the kernel from it, and a blob that cannot start one is dropped without a word", async () => {
    const run = async (dir: string, debug: boolean) => {
      const spec = {
        name: "mtlkit",
        dir: path.dirname(CLI),
        argv: [process.execPath, CLI, "kernel", "start", "--connection-file", "{connection_file}"],
        display_name: "mtlkit",
        language: "typescript",
        interrupt_mode: "message" as const,
        env: { MTLKIT_CACHE_DIR: dir, MTLKIT_KERNEL_DEBUG: debug ? "1" : "0" },
      };
      const client = new KernelClient(spec, REPO);
      try {
        await client.start();
        const r = await client.execute("const k: number = 40;\nk + 2");
        const result = r.messages.find((m) => m.header.msg_type === "execute_result");
        return { value: (result?.content.data as Record<string, string> | undefined)?.["text/plain"], stderr: client.stderr };
      } finally {
        await client.shutdown();
      }
    };
    const good = await run(cacheDir, true);
    expect(good.value).toBe("42");
    expect(good.stderr).toContain(`starting the kernel from ${blob}`);
    expect(good.stderr).toMatch(/first program: \d{3} declaration files from the snapshot, 0 changed/);

    // A damaged blob (its manifest still valid): V8 refuses it, the kernel starts without it.
    const broken = newDir("mtlkit-snapcache-");
    const bad = path.join(broken, path.basename(blob));
    fs.writeFileSync(bad, Buffer.alloc(4096, 7));
    fs.copyFileSync(blob.replace(/\.blob$/, ".json"), bad.replace(/\.blob$/, ".json"));
    const fallback = await run(broken, false);
    expect(fallback.value).toBe("42");
    expect(fallback.stderr).not.toMatch(/snapshot|Assertion failed|magic/i);
    expect(fs.existsSync(bad)).toBe(false);
  }, 120_000);
});
