/**
 * `npm run docs` builds the documentation site without a warning (TypeDoc's treatWarningsAsErrors: an
 * undocumented export, a broken link or a type the reference cannot reach fails it), with a page per
 * docs/*.md and every tutorial linked. Slow (about a minute of TypeDoc): not in `npm run test:quick`.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..", "..");
const out = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-docs-"));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

it("builds the API reference, the guide's pages and the tutorials' index", () => {
  const r = spawnSync(process.execPath, [path.join(ROOT, "scripts", "docs.js"), "--out", out], { cwd: ROOT, encoding: "utf8" });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(`${r.stdout}${r.stderr}`).not.toMatch(/\[warning\]|\[error\]/);
  expect(fs.existsSync(path.join(out, "index.html"))).toBe(true);
  for (const page of fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md"))) {
    expect(fs.existsSync(path.join(out, "documents", page.replace(/\.md$/, ".html"))), page).toBe(true);
  }
  const index = fs.readFileSync(path.join(out, "tutorials", "index.html"), "utf8");
  for (const nb of fs.readdirSync(path.join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb"))) {
    const page = nb.replace(/\.ipynb$/, ".html");
    expect(index).toContain(`href="${page}"`);
    expect(fs.statSync(path.join(out, "tutorials", page)).size).toBeGreaterThan(1000);
  }
  // The header's link to the tutorials works from a page one folder down.
  const nested = fs.readdirSync(path.join(out, "modules"))[0];
  expect(fs.readFileSync(path.join(out, "modules", nested), "utf8")).toContain('href="../tutorials/index.html"');
}, 600_000);
