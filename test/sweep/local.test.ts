/**
 * Local sweeps: runs in worker processes, results appended and resumed, failures of every kind
 * recorded while the sweep goes on, the run function and every configuration checked before any
 * run starts, stopping leaves no process behind, progress in a notebook display.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { recordsIn, runsModule, trainModule, waitUntil, workerProcessesOf } from "./helpers";

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { metricsOf } = require("./fixtures/runs.js") as { metricsOf: (config: object, seed: number) => object };
const S = mtl.sweep;
const work = mkdtempSync(join(tmpdir(), "mtlkit-sweep-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const quiet = { progress: false };

describe("a local sweep", () => {
  it("runs every configuration × seed in worker processes and collects their metrics", async () => {
    const result = await S.run({ run: `${runsModule}#run`, grid: { bonus: [0, 0.1] }, seeds: 3 }, { workers: 2, ...quiet });
    expect(result.ok).toHaveLength(6);
    expect(result.failed).toHaveLength(0);
    expect(result.ran).toBe(6);
    for (const r of result.records) {
      expect(r.metrics).toEqual(metricsOf(r.config, r.seed));
      expect(Number(r.worker.split(":")[1])).not.toBe(process.pid);
    }
    expect(result.records.map((r) => r.label)).toEqual(result.runs.map((r) => r.label));
    const frame = result.toDataFrame();
    expect(frame.columns).toEqual(["run", "label", "bonus", "seed", "status", "seconds", "worker", "error", "t1.acc", "t2.mse"]);
    expect(frame.shape).toEqual([6, 10]);
    expect(frame.column("t1.acc").values).toEqual(result.records.map((r) => (r.metrics!.t1 as Record<string, number>).acc));
    expect(workerProcessesOf(process.pid)).toEqual([]);
  }, 60_000);

  it("appends each run to the results file; a re-run skips finished runs and reruns failed ones", async () => {
    const file = join(work, "resume.jsonl");
    const definition = { run: runsModule, grid: { fail: [null, "throw"] }, seeds: 2 };
    const first = await S.run(definition, { workers: 2, results: file, ...quiet });
    expect(first.ok).toHaveLength(2);
    expect(first.failed.map((r) => r.error)).toEqual([
      { kind: "error", message: "failing on purpose (seed 0)" },
      { kind: "error", message: "failing on purpose (seed 1)" },
    ]);
    expect(recordsIn(file)).toHaveLength(4);
    const okBefore = first.ok.map((r) => r.finishedAt);
    const again = await S.run(definition, { workers: 2, results: file, ...quiet });
    expect(again.ran).toBe(2);
    expect(again.resumed).toBe(2);
    expect(again.ok.map((r) => r.finishedAt)).toEqual(okBefore);
    expect(recordsIn(file)).toHaveLength(6);
    const kept = await S.run(definition, { workers: 2, results: file, rerunFailed: false, ...quiet });
    expect(kept.ran).toBe(0);
    expect(kept.failed).toHaveLength(2);
    expect(recordsIn(file)).toHaveLength(6);
  }, 60_000);

  it("drops a last line cut short by a crash and reruns that run", async () => {
    const file = join(work, "torn.jsonl");
    const definition = { run: runsModule, grid: { bonus: [0] }, seeds: 2 };
    await S.run(definition, { workers: 1, results: file, ...quiet });
    const lines = readFileSync(file, "utf8").split("\n");
    writeFileSync(file, `${lines.slice(0, 2).join("\n")}\n${lines[2].slice(0, 25)}`); // the second record half-written
    const again = await S.run(definition, { workers: 1, results: file, ...quiet });
    expect(again.ran).toBe(1);
    expect(recordsIn(file)).toHaveLength(2);
    appendFileSync(file, 'not json\n{"run":"x","status":"ok"}\n');
    await expect(S.run(definition, { results: file, ...quiet })).rejects.toThrowError(/line 4 is not valid JSON/);
  }, 60_000);

  it("records a crash, an exhausted heap and a time limit as failed runs, and goes on", async () => {
    const result = await S.run(
      {
        run: runsModule,
        configs: [{ fail: "exit" }, { fail: "oom" }, { fail: "hang" }, { fail: "nan" }, { fail: null }],
        seeds: [0, 1],
        timeLimitSeconds: 4,
        memoryMb: 96,
      },
      { workers: 2, ...quiet },
    );
    const kinds = Object.fromEntries(result.records.map((r) => [r.label, r.error?.kind ?? r.status]));
    expect(kinds).toEqual({
      "fail=exit seed=0": "crash",
      "fail=exit seed=1": "crash",
      "fail=oom seed=0": "out of memory",
      "fail=oom seed=1": "out of memory",
      "fail=hang seed=0": "time limit",
      "fail=hang seed=1": "time limit",
      "fail=nan seed=0": "error",
      "fail=nan seed=1": "error",
      "fail=null seed=0": "ok",
      "fail=null seed=1": "ok",
    });
    const byKind = (k: string) => result.failed.find((r) => r.error?.kind === k)!.error!.message;
    expect(byKind("crash")).toMatch(/died during the run \(exit code 3\)/);
    expect(byKind("out of memory")).toMatch(/ran out of JavaScript heap \(limit 96 MiB\)/);
    expect(byKind("time limit")).toMatch(/time limit of 4 s/);
    expect(byKind("error")).toMatch(/metric 'acc' of task 't1' = NaN/);
    expect(workerProcessesOf(process.pid)).toEqual([]);
  }, 120_000);

  it("stops on its abort signal: runs in flight are lost, finished ones kept, no worker process left", async () => {
    const file = join(work, "stopped.jsonl");
    const controller = new AbortController();
    const definition = { run: `${runsModule}#slow`, grid: { ticks: [3, 40] }, seeds: 2 };
    const running = S.run(definition, { workers: 2, results: file, signal: controller.signal, ...quiet });
    expect(await waitUntil(() => recordsIn(file).length >= 1, 30_000)).toBe(true);
    controller.abort();
    const error = await running.catch((e) => e);
    expect(error).toBeInstanceOf(mtl.SweepInterrupted);
    expect(error.message).toMatch(/stopped by its abort signal: \d of 4 runs have results/);
    expect(await waitUntil(() => workerProcessesOf(process.pid).length === 0, 5000)).toBe(true);
    const kept = recordsIn(file).length;
    expect(kept).toBeGreaterThanOrEqual(1);
    expect(kept).toBeLessThan(4);
    const resumed = await S.run(definition, { workers: 2, results: file, ...quiet });
    expect(resumed.ran).toBe(4 - kept);
    expect(new Set(recordsIn(file).map((r) => r.run)).size).toBe(4);
  }, 90_000);

  it("stops on a kernel interrupt (the kernel's interrupt counter changes)", async () => {
    const counter = Symbol.for("mtlkit.interrupt");
    const g = globalThis as Record<symbol, { generation: number } | undefined>;
    g[counter] = { generation: 0 };
    try {
      const running = S.run({ run: `${runsModule}#slow`, grid: { ticks: [40] }, seeds: 2 }, { workers: 2, ...quiet });
      expect(await waitUntil(() => workerProcessesOf(process.pid).length >= 2, 30_000)).toBe(true);
      g[counter]!.generation++;
      const error = await running.catch((e) => e);
      expect(error).toBeInstanceOf(mtl.SweepInterrupted);
      expect(error.message).toMatch(/stopped by a kernel interrupt: 0 of 2 runs have results; [0-2] runs? (was|were) in flight/);
      expect(await waitUntil(() => workerProcessesOf(process.pid).length === 0, 5000)).toBe(true);
    } finally {
      delete g[counter];
    }
  }, 60_000);

  it("shows its progress in one notebook display, updated in place and ending on the final state", async () => {
    const hook = Symbol.for("mtlkit.display");
    const shown: Array<{ bundle: Record<string, unknown>; options?: { displayId?: string; update?: boolean } }> = [];
    (globalThis as Record<symbol, unknown>)[hook] = (bundle: Record<string, unknown>, options?: { displayId?: string; update?: boolean }) =>
      shown.push({ bundle, options });
    try {
      await S.run({ run: runsModule, grid: { bonus: [0, 0.1] }, seeds: 2 }, { workers: 2 });
    } finally {
      delete (globalThis as Record<symbol, unknown>)[hook];
    }
    expect(shown.length).toBeGreaterThan(1);
    expect(shown[0].options?.update).toBe(false);
    expect(shown.slice(1).every((s) => s.options?.update === true && s.options.displayId === shown[0].options?.displayId)).toBe(true);
    const last = shown[shown.length - 1].bundle;
    expect(String(last["text/plain"])).toMatch(/4\/4 done, 0 running/);
    expect(String(last["text/html"])).toContain('<progress value="1.0000"');
  }, 60_000);
});

describe("a sweep refuses, before any run starts", () => {
  it("a run function its module does not export, or that is not a function", async () => {
    await expect(S.run({ run: `${runsModule}#missing`, grid: { a: [1] }, seeds: 1 }, quiet)).rejects.toThrowError(
      /does not export 'missing' \(it exports 'metricsOf', 'run', 'slow', 'notAFunction'\)/,
    );
    await expect(S.run({ run: `${runsModule}#notAFunction`, grid: { a: [1] }, seeds: 1 }, quiet)).rejects.toThrowError(
      /'notAFunction' of .* is number, not a function/,
    );
    expect(workerProcessesOf(process.pid)).toEqual([]);
  }, 60_000);

  it("configurations that fail the Trainer's check, each run named", async () => {
    const file = join(work, "invalid.jsonl");
    const error = await S.run(
      { run: trainModule, grid: { method: ["equal", "pcgrad"], epochs: [1, 0] }, seeds: 2 },
      { workers: 2, results: file, ...quiet },
    ).catch((e) => e);
    expect(error).toBeInstanceOf(mtl.MtlError);
    expect(error.message).toMatch(/4 of 8 runs fail the Trainer's check of their options .*; no run was started/);
    expect(error.message).toMatch(
      /run method=equal epochs=0 seed=0: Error in Trainer: option 'epochs' must be a positive integer, got 0\./,
    );
    expect(error.message).toMatch(/run method=pcgrad epochs=0 seed=1: Error in Trainer/);
    expect(error.message).not.toMatch(/epochs=1/);
    expect(error.failures.map((f: { label: string }) => f.label)).toEqual([
      "method=equal epochs=0 seed=0",
      "method=equal epochs=0 seed=1",
      "method=pcgrad epochs=0 seed=0",
      "method=pcgrad epochs=0 seed=1",
    ]);
    expect(recordsIn(file)).toEqual([]);
    expect(workerProcessesOf(process.pid)).toEqual([]);
  }, 60_000);

  it("a results file written by a different sweep, naming what differs", async () => {
    const file = join(work, "other.jsonl");
    await S.run({ run: runsModule, grid: { bonus: [0, 0.1] }, seeds: 2 }, { workers: 1, results: file, ...quiet });
    await expect(S.run({ run: runsModule, grid: { bonus: [0, 0.1] }, seeds: 3 }, { results: file, ...quiet })).rejects.toThrowError(
      /was written by a different sweep: the seeds differ \(the file's: \[0, 1\], this sweep's: \[0, 1, 2\]\)/,
    );
    await expect(S.run({ run: runsModule, grid: { bonus: [0, 0.2] }, seeds: 2 }, { results: file, ...quiet })).rejects.toThrowError(
      /the configurations differ \(the file has 2, this sweep 2; only in this sweep: \{"bonus":0.2\}; only in the file: \{"bonus":0.1\}\)/,
    );
    await expect(
      S.run({ run: `${runsModule}#slow`, grid: { bonus: [0, 0.1] }, seeds: 2 }, { results: file, ...quiet }),
    ).rejects.toThrowError(/the run function differs \(the file's: .*runs\.js#run, this sweep's: .*runs\.js#slow\)/);
    writeFileSync(join(work, "notes.txt"), "hello\n");
    await expect(
      S.run({ run: runsModule, grid: { bonus: [0] }, seeds: 1 }, { results: join(work, "notes.txt"), ...quiet }),
    ).rejects.toThrowError(/is not an mtlkit sweep results file/);
  }, 60_000);

  it("bad options", async () => {
    const d = { run: runsModule, grid: { a: [1] }, seeds: 1 };
    await expect(S.run(d, { workers: 0 })).rejects.toThrowError(/option 'workers' must be a positive integer/);
    await expect(S.run(d, { worker: 2 } as never)).rejects.toThrowError(/unknown option 'worker'/);
  });
});

describe("a sweep of real trainings", () => {
  it("trains each configuration per seed, records the evaluation's metrics and directions, and feeds Δm", async () => {
    const result = await S.run(
      { run: trainModule, grid: { method: ["equal", "uncertainty"], epochs: [2] }, seeds: 2 },
      { workers: 2, ...quiet },
    );
    expect(result.ok).toHaveLength(4);
    const r = result.ok[0];
    expect(Object.keys(r.metrics!)).toEqual(["c", "r"]);
    expect(r.directions).toMatchObject({ c: { accuracy: true }, r: { mse: false } });
    // Same seed, same configuration, same numbers: runs are reproducible across processes.
    const again = await S.run({ run: trainModule, grid: { method: ["equal"], epochs: [2] }, seeds: 2 }, { workers: 1, ...quiet });
    expect(again.ok.map((x) => x.metrics)).toEqual(result.ok.slice(0, 2).map((x) => x.metrics));
    const dm = S.deltaM(result, { baseline: "equal", metrics: { c: ["accuracy"], r: ["mse"] } });
    expect(dm.rows.map((x) => x.label)).toEqual(["uncertainty"]);
    expect(dm.rows[0].summary.n).toBe(2);
  }, 90_000);
});
