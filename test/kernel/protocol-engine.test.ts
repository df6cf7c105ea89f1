/**
 * The engine on its own (no kernel process): recovery from compiler failures, every top-level
 * await form, grouped diagnostics, and cells whose source is not kept.
 */
import * as fs from "fs";
import * as path from "path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Engine, Outcome } from "../../kernel/engine";
import { tmpDir } from "./helpers";

let dir = "";
let engine: Engine;
const savedCwd = process.cwd();

beforeAll(() => {
  // Outside node_modules: TypeScript watches failed module lookups only there.
  dir = tmpDir("mtlkit-engine-");
  process.chdir(dir);
  engine = new Engine(dir);
});

afterAll(() => {
  engine.close();
  process.chdir(savedCwd);
  fs.rmSync(dir, { recursive: true, force: true });
});

const value = (o: Outcome) => {
  if (o.status !== "ok") throw new Error(`${o.ename}: ${o.evalue}\n${o.traceback.join("\n")}`);
  return o.hasValue ? o.value : undefined;
};

describe("engine recovery", () => {
  afterEach(() => {
    delete process.env.MTLKIT_TEST_FAULTS;
  });

  it("an import that failed works once the package is installed, and earlier variables survive", async () => {
    value(await engine.execute("let kept = 41", "Cell [1]"));
    const missing = await engine.execute('import { p } from "fakepkg";\np', "Cell [2]");
    expect(missing.status === "error" && missing.evalue).toMatch(/Cannot find module 'fakepkg'/);
    // What `npm i fakepkg` does; TypeScript's watcher of the failed lookup fires meanwhile,
    // which left tslab's converter throwing "Unexpected pending rebuildTimer" for good.
    const pkg = path.join(dir, "node_modules", "fakepkg");
    fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "fakepkg", main: "index.js", types: "index.d.ts" }));
    fs.writeFileSync(path.join(pkg, "index.js"), "exports.p = 7;\n");
    fs.writeFileSync(path.join(pkg, "index.d.ts"), "export declare const p: number;\n");
    await new Promise((r) => setTimeout(r, 1500));
    expect(value(await engine.execute('import { p } from "fakepkg";\np', "Cell [3]"))).toBe(7);
    // `npm run build` rewriting a declaration file with the same bytes.
    fs.writeFileSync(path.join(pkg, "index.d.ts"), "export declare const p: number;\n");
    await new Promise((r) => setTimeout(r, 1500));
    expect(value(await engine.execute("p * 6", "Cell [4]"))).toBe(42);
    expect(value(await engine.execute("kept + 1", "Cell [5]"))).toBe(42);
  }, 60_000);

  it("a converter that throws on convert, complete or inspect is rebuilt; later cells run", async () => {
    process.env.MTLKIT_TEST_FAULTS = "convert,complete,inspect";
    value(await engine.execute("let before = 'kept'", "Cell [6]"));
    const r = await engine.execute("// mtlkit-fault:convert\n1", "Cell [7]");
    expect(r.status).toBe("error");
    expect(r.status === "error" && r.ename).toBe("CompilerError");
    expect(r.status === "error" && r.evalue).toMatch(/injected convert fault/);
    expect(value(await engine.execute("before + '!'", "Cell [8]"))).toBe("kept!");
    expect(() => engine.complete("// mtlkit-fault:complete\nbef", 28)).toThrow(/injected complete fault/);
    expect(engine.complete("bef", 3).matches).toContain("before");
    expect(() => engine.inspect("// mtlkit-fault:inspect\nbefore", 26)).toThrow(/injected inspect fault/);
    expect(engine.inspect("before", 3)?.text).toMatch(/before: string/);
    expect(value(await engine.execute("before.length", "Cell [9]"))).toBe(4);
  }, 60_000);
});

describe("top-level await", () => {
  const forms: [string, unknown][] = [
    ["await (async () => 5)()", 5],
    ["(await (async () => 6)())", 6],
    ["await (Promise.resolve(7))", 7],
    ["1 + await (async () => 7)()", 8],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the cell's own template literal.
    ["`v${await (async () => 9)()}`", "v9"],
    ["true ? await (async () => 10)() : 0", 10],
    ["false ? 0 : await Promise.resolve(11)", 11],
    ["const x12 = await (async () => 12)();\nx12", 12],
    ["let s13 = 0;\nfor await (const v of (async function* () { yield 6; yield 7 })()) s13 += v;\ns13", 13],
    ["[await (async () => 14)()][0]", 14],
    ["const f15 = async () => 15;\n(await f15())", 15],
    ["async function g16() { return 16 }\nawait g16()", 16],
    ["({ v: await (async () => 17)() }).v", 17],
  ];
  for (const [code, expected] of forms) {
    it(JSON.stringify(code), async () => {
      expect(value(await engine.execute(code, "Cell"))).toEqual(expected);
    });
  }

  it("an await inside a function is not a top-level await", async () => {
    expect(value(await engine.execute("const h = async () => await (async () => 3)();\ntypeof h", "Cell"))).toBe("function");
  });
});

describe("diagnostics", () => {
  it("one error's message chain is one entry, at its place", async () => {
    const r = await engine.execute('const m = new Map<string, number>([["a", "b"]]);\n[1, 2].map((x: string) => x);', "Cell [1]");
    if (r.status !== "error") throw new Error("expected a type error");
    const heads = r.traceback.filter((l) => /^Cell \[1\]:\d+:\d+ - error TS\d+/.test(l));
    expect(heads).toEqual([
      "Cell [1]:1:11 - error TS2769: No overload matches this call.",
      "Cell [1]:2:12 - error TS2345: Argument of type '(x: string) => string' is not assignable to parameter of type '(value: number, index: number, array: number[]) => string'.",
    ]);
    // The chain follows its head, indented, and the source line is shown once per error.
    const second = r.traceback.indexOf(heads[1]);
    expect(r.traceback.slice(second + 1, second + 3)).toEqual([
      "  Types of parameters 'x' and 'value' are incompatible.",
      "  Type 'number' is not assignable to type 'string'.",
    ]);
    expect(r.traceback.filter((l) => l === "  [1, 2].map((x: string) => x);")).toHaveLength(1);
    expect(r.traceback.filter((l) => l.includes("Overload 2 of 4"))).toHaveLength(1);
  });
});

describe("cells whose source is not kept", () => {
  it("a cell run with keepSource false leaves no record; a kept one does", async () => {
    const records = () => (engine as unknown as { cells: Map<string, { source: string }> }).cells;
    const big = `"${"x".repeat(100_000)}".length`;
    expect(value(await engine.execute(big, "Cell", { keepSource: false }))).toBe(100_000);
    expect([...records().values()].some((r) => r.source === big)).toBe(false);
    const failing = await engine.execute(`throw new Error("no source " + ${big})`, "Cell [2]", { keepSource: false });
    // The failing cell's own traceback still shows its line.
    expect(failing.status === "error" && failing.traceback.join("\n")).toContain("Cell [2], line 1:");
    expect([...records().values()].some((r) => r.source.includes("no source"))).toBe(false);
    value(await engine.execute(big, "Cell"));
    expect([...records().values()].some((r) => r.source === big)).toBe(true);
  });
});
