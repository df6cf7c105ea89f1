/** The cell rewrite that works around tslab's converter bugs keeps meaning and lines. */
import { describe, expect, it } from "vitest";
import { rewritePropertyNames } from "../../kernel/cellRewrite";

describe("rewritePropertyNames", () => {
  it("quotes shorthand properties, property-assignment names and renamed bindings", () => {
    expect(rewritePropertyNames("({ a })")).toBe('({ "a": a })');
    expect(rewritePropertyNames("const o = { a, b: 2 };")).toBe('const o = { "a": a, "b": 2 };');
    expect(rewritePropertyNames("const { tasks: t, data } = obj;")).toBe('const { "tasks": t, data } = obj;');
    expect(rewritePropertyNames("({ a = 1 } = o);")).toBe('({ "a": a = 1 } = o);');
  });

  it("leaves other code, strings and line structure alone", () => {
    const code = 'const s = "{ a }";\nfunction f(x: { a: number }) {\n  return x.a;\n}\nf';
    expect(rewritePropertyNames(code)).toBe(code);
    const multi = "const m = {\n  a,\n  b: 1,\n};";
    expect(rewritePropertyNames(multi).split("\n")).toHaveLength(multi.split("\n").length);
  });

  it("means the same in JavaScript", () => {
    const a = 1;
    const src = rewritePropertyNames("({ a, b: a + 1 })");
    expect(new Function("a", `return ${src};`)(a)).toEqual({ a: 1, b: 2 });
  });
});
