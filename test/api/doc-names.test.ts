/**
 * The docs and tutorials name only what mtlkit exports: every `mtl.a.b` in README.md, docs/*.md,
 * kernel/README.md and the notebooks resolves on the public API (api-report's entries), so a renamed or
 * removed export cannot leave a stale example behind.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { expect, it } from "vitest";
import { apiEntries } from "../../scripts/api-report";

const ROOT = path.resolve(__dirname, "..", "..");

function sources(): Array<[string, string]> {
  const files = [
    "README.md",
    "kernel/README.md",
    ...fs
      .readdirSync(path.join(ROOT, "docs"))
      .filter((f) => f.endsWith(".md"))
      .map((f) => `docs/${f}`),
  ];
  const out: Array<[string, string]> = files.map((f) => [f, fs.readFileSync(path.join(ROOT, f), "utf8")]);
  for (const nb of fs.readdirSync(path.join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb"))) {
    const cells = (JSON.parse(fs.readFileSync(path.join(ROOT, "notebooks", nb), "utf8")) as { cells: Array<{ source: string | string[] }> })
      .cells;
    out.push([`notebooks/${nb}`, cells.map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source)).join("\n")]);
  }
  return out;
}

it("every mtl.* name in the docs and notebooks is exported", () => {
  const entries = apiEntries();
  const byNamespace = new Map<string, Map<string, string>>();
  for (const e of entries) {
    if (!byNamespace.has(e.namespace)) byNamespace.set(e.namespace, new Map());
    byNamespace.get(e.namespace)!.set(e.name, e.kind);
  }
  const unknown: string[] = [];
  for (const [file, text] of sources()) {
    for (const m of text.matchAll(/(?<![\w.$])mtl((?:\.[A-Za-z_$][\w$]*)+)/g)) {
      const parts = m[1].slice(1).split(".");
      let namespace = "mtl";
      for (const part of parts) {
        const kind = byNamespace.get(namespace)?.get(part);
        if (kind === undefined) {
          unknown.push(`${file}: mtl${m[1]} (no '${part}' in ${namespace})`);
          break;
        }
        if (kind !== "namespace") break; // a class, function, value or an external namespace (mtl.tf): its members are not ours to list
        namespace = `${namespace}.${part}`;
      }
    }
  }
  expect([...new Set(unknown)]).toEqual([]);
});
