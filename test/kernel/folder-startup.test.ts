/**
 * The kernel's start-up shortcuts: the V8 code cache for big modules
 * (kernel/codeCache.ts) and built-in declarations parsed without doc comments.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { withoutDocComments } from "../../kernel/tslab-hooks";
import { REPO, tmpDir } from "./helpers";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe("doc comments of built-in declarations", () => {
  it("are dropped with their line breaks kept; code and strings stay", () => {
    const src = [
      "/**",
      " * Returns the larger.",
      " * @param a first",
      " */",
      "declare function max(a: number, b: number): number;",
      '    /** one line */ declare const pattern: "src/**/*.ts";',
      'declare const glob: "/**/x";',
      "// a line comment /** not a doc */",
    ].join("\n");
    const out = withoutDocComments(src);
    expect(out.split("\n").length).toBe(src.split("\n").length);
    expect(out).not.toContain("Returns the larger");
    expect(out).not.toContain("one line");
    expect(out).toContain("declare function max(a: number, b: number): number;");
    expect(out).toContain('declare const pattern: "src/**/*.ts";');
    expect(out).toContain('declare const glob: "/**/x";');
    expect(out).toContain("// a line comment /** not a doc */");
  });
});

describe("the code cache", () => {
  const loader = path.join(REPO, "dist", "kernel", "codeCache.js");

  function load(cacheDir: string, file: string): { hit: boolean; value: number; files: string[] } {
    const script =
      `const c = require(${JSON.stringify(loader)});` +
      `const m = c.requireWithCodeCache(${JSON.stringify(file)});` +
      `const value = m.exports.twice(21); m.saveLater(0);` +
      `setTimeout(() => { console.log(JSON.stringify({ hit: m.hit, value, files: require("fs").readdirSync(${JSON.stringify(cacheDir)}) })); }, 200);`;
    const r = spawnSync(process.execPath, ["-e", script], { env: { ...process.env, MTLKIT_CACHE_DIR: cacheDir }, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as { hit: boolean; value: number; files: string[] };
  }

  it("is written by the first process, used by the next, and rewritten when V8 rejects it", () => {
    const dir = tmpDir("mtlkit-codecache-");
    dirs.push(dir);
    const cacheDir = path.join(dir, "cache");
    const file = path.join(dir, "mod.js");
    fs.writeFileSync(file, "exports.twice = (x) => 2 * x;\n" + "// filler\n".repeat(1000));
    fs.mkdirSync(cacheDir);
    const first = load(cacheDir, file);
    expect(first).toEqual({ hit: false, value: 42, files: [expect.stringMatching(/^mod-[0-9a-f]{16}\.v8cache$/)] });
    const second = load(cacheDir, file);
    expect(second.hit).toBe(true);
    expect(second.value).toBe(42);
    // Garbage in the cache: V8 rejects it, the module still loads, and the cache is rewritten.
    const store = path.join(cacheDir, first.files[0]);
    fs.writeFileSync(store, Buffer.from("not a code cache"));
    expect(load(cacheDir, file)).toMatchObject({ hit: false, value: 42 });
    expect(load(cacheDir, file).hit).toBe(true);
    expect(fs.statSync(store).mode & 0o777).toBe(0o600);
  });
});
