/**
 * A reading made in a notebook cell reaches the executed notebook with its values, through the real
 * kernel and runner, so the claims files can read it (and a missing reading fails by name).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ExecutedNotebook, readingsOf } from "./readings";

const root = join(__dirname, "..", "..");
const cli = join(root, "dist", "kernel", "cli.js");
const work = mkdtempSync(join(tmpdir(), "mtlkit-readings-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cell = (source: string) => ({ cell_type: "code", metadata: {}, execution_count: null, outputs: [], source });

describe("notebook readings", () => {
  it("carry their values from a cell to the executed notebook", () => {
    const env = { ...process.env, JUPYTER_PATH: join(work, "jupyter") };
    execFileSync(process.execPath, [cli, "kernel", "install", "--jupyter-dir", join(work, "jupyter")], { env, stdio: "ignore" });
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "mtlkit", display_name: "TypeScript (mtlkit)", language: "typescript" } },
      cells: [
        cell('import * as mtl from "mtlkit";\nconst c = mtl.report.compare([3, 3.1, 2.9], [1, 1.1, 0.9]);'),
        cell(
          `mtl.report.reading("demo-verdict", { verdict: c.verdict, gap: c.difference }, (v) => \`gap **\${mtl.report.fmt(v.gap as number)}**\`)`,
        ),
      ],
    };
    const file = join(work, "demo.ipynb");
    writeFileSync(file, JSON.stringify(nb));
    const run = spawnSync(process.execPath, [cli, "run", file, "--out", join(work, "out")], { env, encoding: "utf8", timeout: 120_000 });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    const executed = JSON.parse(readFileSync(join(work, "out", "demo.ipynb"), "utf8")) as ExecutedNotebook;
    const readings = readingsOf(executed);
    expect(readings.get("demo-verdict")).toEqual({ verdict: "better", gap: expect.closeTo(2, 9) });
    expect(() => readings.get("absent")).toThrow(/no reading 'absent' \(it has: demo-verdict\)/);
    const html = readFileSync(join(work, "out", "demo.html"), "utf8");
    expect(html).toContain("gap");
  }, 120_000);
});
