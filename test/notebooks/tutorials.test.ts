/**
 * Every tutorial in notebooks/ runs end to end through mtlkit's own kernel and runner (the same
 * path as `npm start`), with no error output. This is what keeps the tutorials true.
 * Uses the compiled CLI (npm test builds first) and a kernelspec installed into a temporary folder.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Claims, claimsFileOf, ExecutedNotebook, readingsOf } from "./readings";
import { haveChromium } from "../helpers/chromium";
import { checkExportedHtml } from "../helpers/htmlCheck";

const root = join(__dirname, "..", "..");
const cli = join(root, "dist", "kernel", "cli.js");
const notebooks = readdirSync(join(root, "notebooks"))
  .filter((f) => /^\d\d-.*\.ipynb$/.test(f))
  .sort();
const work = mkdtempSync(join(tmpdir(), "mtlkit-tutorials-"));
const env = { ...process.env, JUPYTER_PATH: join(work, "jupyter") };
const chromium = haveChromium();

beforeAll(() => {
  execFileSync(process.execPath, [cli, "kernel", "install", "--jupyter-dir", join(work, "jupyter")], { env, stdio: "ignore" });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("tutorial notebooks", () => {
  it("exist", () => expect(notebooks.length).toBeGreaterThan(0));

  for (const name of notebooks) {
    it(`${name} runs without errors and its claims hold`, async () => {
      const out = join(work, "out");
      const started = Date.now();
      const run = spawnSync(process.execPath, [cli, "run", join(root, "notebooks", name), "--out", out, "--timeout", "600"], {
        env,
        encoding: "utf8",
        timeout: 900_000,
      });
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      const executed = JSON.parse(readFileSync(join(out, name), "utf8")) as ExecutedNotebook;
      for (const cell of executed.cells) {
        if (cell.cell_type !== "code" || cell.metadata?.tags?.includes("raises-exception")) continue;
        const errors = (cell.outputs ?? []).filter((o) => o.output_type === "error");
        expect(errors.map((e) => `${e.ename}: ${e.evalue}`)).toEqual([]);
      }
      console.log(`${name}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      // The tutorial's key claims, asserted on the values its reading cells recorded.
      const claimsFile = claimsFileOf(name);
      if (claimsFile) {
        const claims = ((await import(claimsFile)) as { default: Claims }).default;
        claims(readingsOf(executed));
      }
      // the exported page renders in Chromium: math, tables, bullets, figure titles (test/helpers/htmlCheck.ts)
      if (chromium)
        expect((await checkExportedHtml(join(out, name.replace(/\.ipynb$/, ".html")), { notebook: executed })).problems).toEqual([]);
    }, 900_000);
  }
});
