/**
 * The public API is a reviewed design: api/mtlkit.api.md lists every name `import * as mtl from "mtlkit"`
 * gives, with its kind, and this test fails when lib/index.ts's exports differ from it. A deliberate
 * change is recorded with `npm run api:update` and shows in the commit's diff.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { apiEntries, apiReport, REPORT } from "../../scripts/api-report";

const ROOT = path.resolve(__dirname, "..", "..");

describe("the public API", () => {
  const entries = apiEntries();

  it("is the one recorded in api/mtlkit.api.md", () => {
    const recorded = fs.existsSync(REPORT) ? fs.readFileSync(REPORT, "utf8") : "";
    expect(
      apiReport(entries),
      "mtlkit's exports differ from api/mtlkit.api.md. If the change is deliberate, run `npm run api:update`, " +
        "review the difference (git diff api/) and commit it with a line in CHANGELOG.md.",
    ).toBe(recorded);
  }, 60_000);

  it("documents every public name (TypeDoc reads these comments into the API reference)", () => {
    expect(entries.filter((e) => !e.documented).map((e) => `${e.namespace}.${e.name} (${e.declaration.replace(/:\d+$/, "")})`)).toEqual([]);
  });

  it("gives every function, class and constant one path only", () => {
    const paths = new Map<string, string[]>();
    for (const e of entries) {
      if (e.kind.startsWith("namespace")) continue;
      paths.set(e.declaration, [...(paths.get(e.declaration) ?? []), `${e.namespace}.${e.name}`]);
    }
    expect([...paths.values()].filter((p) => p.length > 1)).toEqual([]);
  });

  it("exports every error class from lib/errors.ts, each an MtlError", async () => {
    const mtl = await import("../../lib");
    const errorClasses = entries.filter((e) => e.kind === "class" && /Error$|Interrupted$/.test(e.name));
    expect(errorClasses.map((e) => e.name)).toContain("MtlError");
    for (const e of errorClasses) {
      expect(e.namespace, `${e.name} is exported from ${e.namespace}, not with the other errors`).toBe("mtl");
      expect(e.declaration.startsWith("lib/errors.ts:"), `${e.name} is declared in ${e.declaration}, not lib/errors.ts`).toBe(true);
      const cls = (mtl as unknown as Record<string, new (...args: never[]) => unknown>)[e.name];
      expect(cls === mtl.MtlError || cls.prototype instanceof mtl.MtlError, `${e.name} is not an MtlError`).toBe(true);
    }
  });

  it("lib/ throws MtlErrors, not plain Errors", () => {
    // Exceptions: MtlError itself; SkipStep, the training step's internal signal; an Error lib/backend.ts
    // throws and catches itself to report a backend as unavailable.
    const allowed = new Set(["lib/backend.ts"]);
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (file.endsWith(".ts") && !allowed.has(path.relative(ROOT, file))) {
          fs.readFileSync(file, "utf8")
            .split("\n")
            .forEach((line, i) => {
              if (
                /throw new (Type|Range)?Error\(|class \w+ extends Error\b/.test(line) &&
                !/class (SkipStep|MtlError) extends Error/.test(line)
              ) {
                found.push(`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
              }
            });
        }
      }
    };
    walk(path.join(ROOT, "lib"));
    expect(found).toEqual([]);
  });
});
