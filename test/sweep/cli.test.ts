/** `mtlkit sweep`: a definition file, resumable by default; killed, it leaves its results and no process behind. */
import { ChildProcess, spawn as spawnChild, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, recordsIn, runsModule, waitUntil, workerProcessesOf } from "./helpers";

const work = mkdtempSync(join(tmpdir(), "mtlkit-sweep-cli-"));
const started: ChildProcess[] = [];
afterAll(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

/** A CLI process, killed after the tests if a failed assertion left it running. */
function spawn(...args: Parameters<typeof spawnChild>): ChildProcess & { stderr: NodeJS.ReadableStream } {
  const child = spawnChild(...args);
  started.push(child);
  return child as ChildProcess & { stderr: NodeJS.ReadableStream };
}

function definitionFile(name: string, definition: object): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(definition));
  return file;
}

describe("mtlkit sweep", () => {
  it("killed mid-sweep keeps the finished runs, leaves no worker process, and resumes when run again", async () => {
    const def = definitionFile("slow", { run: `${runsModule}#slow`, grid: { ticks: [8], bonus: [0, 0.1, 0.2] }, seeds: 2 });
    const results = join(work, "slow.results.jsonl");
    const child = spawn(process.execPath, [cli, "sweep", def, "--workers", "2"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    expect(await waitUntil(() => recordsIn(results).length >= 1, 30_000)).toBe(true);
    const workers = workerProcessesOf(child.pid!);
    expect(workers.length).toBe(2);
    child.kill("SIGKILL");
    // Its worker processes notice the lost parent and exit.
    expect(await waitUntil(() => workerProcessesOf(child.pid!).length === 0, 5000)).toBe(true);
    const kept = recordsIn(results).length;
    expect(kept).toBeLessThan(6);
    expect(stderr).toMatch(/\[1\/6\] ok {6}bonus=/);

    const again = spawnSync(process.execPath, [cli, "sweep", def, "--workers", "2"], { encoding: "utf8", timeout: 60_000 });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`Sweep: 6 runs, 6 ok, 0 failed · ${6 - kept} run now in .*, ${kept} from the results file`));
    const records = recordsIn(results);
    expect(records).toHaveLength(6);
    expect(new Set(records.map((r) => r.run)).size).toBe(6);
  }, 90_000);

  it("stops on SIGINT, naming it, with exit code 130", async () => {
    const def = definitionFile("interrupted", { run: `${runsModule}#slow`, grid: { ticks: [30] }, seeds: 2 });
    const child = spawn(process.execPath, [cli, "sweep", def, "--workers", "2"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    expect(await waitUntil(() => workerProcessesOf(child.pid!).length === 2, 30_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("exit", r));
    expect(code).toBe(130);
    expect(stderr).toMatch(/stopped by SIGINT: 0 of 2 runs have results .*; 2 runs were in flight/);
    expect(workerProcessesOf(child.pid!)).toEqual([]);
  }, 60_000);

  it("exits 1 when runs failed, and on a bad definition, naming it", () => {
    const failing = definitionFile("failing", { run: runsModule, grid: { fail: ["throw"] }, seeds: 1 });
    const r = spawnSync(process.execPath, [cli, "sweep", failing, "--results", join(work, "f.jsonl")], {
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/1 failed/);
    const missing = definitionFile("missing", { run: `${runsModule}#nope`, grid: { a: [1] }, seeds: 1 });
    const m = spawnSync(process.execPath, [cli, "sweep", missing], { encoding: "utf8", timeout: 60_000 });
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/mtlkit: Error in sweep run function 'nope' of .*runs\.js: the module .* does not export 'nope'/);
    const usage = spawnSync(process.execPath, [cli, "sweep"], { encoding: "utf8" });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/sweep needs one definition file/);
  }, 90_000);
});
