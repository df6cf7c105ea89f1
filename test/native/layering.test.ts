/** lib/native is the ground floor: kernels only, importing nothing from the folders above it. */
import * as fs from "fs";
import * as path from "path";
import { expect, it } from "vitest";

it("lib/native imports only tfjs, Node and its own modules", () => {
  const dir = path.resolve(__dirname, "..", "..", "lib", "native");
  const upward: string[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    for (const m of text.matchAll(/(?:from|import|require\()\s*["'](\.\.\/[^"']*)["']/g)) upward.push(`${file}: ${m[1]}`);
  }
  expect(upward).toEqual([]);
});
