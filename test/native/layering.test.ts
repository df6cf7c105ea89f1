/**
 * lib/native is the ground floor: kernels only, importing nothing from the folders above it except
 * lib/errors.ts (a leaf: it imports nothing), so its errors are MtlErrors like every other.
 */
import * as fs from "fs";
import * as path from "path";
import { expect, it } from "vitest";

it("lib/native imports only tfjs, Node, its own modules and lib/errors", () => {
  const dir = path.resolve(__dirname, "..", "..", "lib", "native");
  const upward: string[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    for (const m of text.matchAll(/(?:from|import|require\()\s*["'](\.\.\/[^"']*)["']/g))
      if (m[1] !== "../errors") upward.push(`${file}: ${m[1]}`);
  }
  expect(upward).toEqual([]);
  const errors = fs.readFileSync(path.resolve(dir, "..", "errors.ts"), "utf8");
  expect(errors.match(/^import .*/gm) ?? []).toEqual([]);
});
