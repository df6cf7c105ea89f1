/**
 * Sweeps on a BullMQ queue: a real redis-server on loopback (a free port, a temporary folder, no
 * persistence), two `mtlkit worker` processes, one killed with SIGKILL in the middle of a run: the
 * queue's stalled-job check hands that run to the other worker, and the owner records every run
 * exactly once. Needs redis-server: with MTLKIT_REQUIRE_REDIS=1 (CI) a missing one fails the tests.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { cli, recordsIn, runsModule, waitUntil, workerProcessesOf } from "./helpers";

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { metricsOf } = require("./fixtures/runs.js") as { metricsOf: (config: object, seed: number) => object };
const S = mtl.sweep;

function redisServer(): string | undefined {
  const r = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const path = r.stdout.trim();
  if (path) return path;
  if (process.env.MTLKIT_REQUIRE_REDIS === "1")
    throw new Error("redis-server is required (MTLKIT_REQUIRE_REDIS=1) but is not installed (Debian: apt-get install redis-server)");
  return undefined;
}

/** A TCP port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const server = redisServer();
const work = mkdtempSync(join(tmpdir(), "mtlkit-queue-"));
const children: ChildProcess[] = [];

function track(child: ChildProcess): ChildProcess {
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((r) => child.once("exit", (code) => r(code)));
}

/** An `mtlkit worker` process; `lines` collects its output. */
function startWorker(url: string): { child: ChildProcess; lines: string[] } {
  const lines: string[] = [];
  const child = track(
    spawn(process.execPath, [cli, "worker", "--queue", url, "--workers", "1", "--lock-duration", "1000", "--stalled-interval", "500"], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const collect = (chunk: Buffer) => lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  return { child, lines };
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await Promise.all(children.map(exited));
  rmSync(work, { recursive: true, force: true });
});

describe("a sweep's queue that cannot be reached", () => {
  it("is an MtlError naming it within seconds, for the owner and for a worker", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}/nobody`;
    const started = Date.now();
    await expect(S.run({ run: runsModule, grid: { a: [1] }, seeds: 1 }, { queue: url, progress: false })).rejects.toThrowError(
      new RegExp(`Error in sweep queue 'redis://127.0.0.1:${port}/nobody': cannot reach the Redis server at 127.0.0.1:${port}`),
    );
    expect(Date.now() - started).toBeLessThan(5000);
    const worker = spawnSync(process.execPath, [cli, "worker", "--queue", url], { encoding: "utf8", timeout: 20_000 });
    expect(worker.status).toBe(1);
    expect(worker.stderr).toMatch(/cannot reach the Redis server at 127\.0\.0\.1/);
  }, 30_000);
});

describe.skipIf(!server)("a sweep on a BullMQ queue (redis-server on loopback)", () => {
  let port = 0;
  let redis: ChildProcess;

  beforeAll(async () => {
    for (let attempt = 0; attempt < 5 && !redis; attempt++) {
      port = await freePort();
      const child = track(
        spawn(server!, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work], {
          stdio: "ignore",
        }),
      );
      const address = S.parseQueueUrl(`redis://127.0.0.1:${port}/ping`);
      for (let i = 0; i < 40 && child.exitCode === null && !redis; i++) {
        if (
          await S.checkReachable(address, 500).then(
            () => true,
            () => false,
          )
        )
          redis = child;
        else await new Promise((r) => setTimeout(r, 250));
      }
    }
    expect(redis, "redis-server did not start").toBeDefined();
  }, 60_000);

  afterAll(async () => {
    redis?.kill("SIGTERM");
    if (redis) await exited(redis);
  });

  it("runs on two workers; one killed mid-run has its run retried by the other; every run recorded once", async () => {
    const url = `redis://127.0.0.1:${port}/sweep-kill`;
    const a = startWorker(url);
    const b = startWorker(url);
    expect(await waitUntil(() => [a, b].every((w) => w.lines.some((l) => l.includes("pulling runs"))), 30_000)).toBe(true);
    const file = join(work, "queue.jsonl");
    const definition = { run: `${runsModule}#slow`, grid: { bonus: [0, 0.1], ticks: [12] }, seeds: 3 };
    const owner = S.run(definition, { queue: url, results: file, progress: false });
    expect(await waitUntil(() => a.lines.some((l) => l.includes(" started ")), 30_000)).toBe(true);
    const started = a.lines.find((l) => l.includes(" started "))!;
    const killedLabel = /started (.*) \(job/.exec(started)![1];
    const killedProcess = Number(/process (\d+)\)/.exec(started)![1]);
    a.child.kill("SIGKILL");
    await exited(a.child);

    const result = await owner;
    expect(result.ok).toHaveLength(6);
    expect(result.failed).toHaveLength(0);
    for (const r of result.ok) expect(r.metrics).toEqual(metricsOf(r.config, r.seed));
    const lines = recordsIn(file);
    expect(lines).toHaveLength(6);
    expect(new Set(lines.map((r) => r.run)).size).toBe(6);
    const retried = result.ok.find((r) => r.label === killedLabel)!;
    expect(Number(retried.worker.split(":")[1])).not.toBe(killedProcess);
    expect(b.lines.some((l) => l.includes(`started ${killedLabel} `))).toBe(true);
    // The killed worker's own worker process went with it.
    expect(await waitUntil(() => workerProcessesOf(a.child.pid!).length === 0, 5000)).toBe(true);

    // Re-running the sweep finds every run in the results file and enqueues nothing.
    const again = await S.run(definition, { queue: url, results: file, progress: false });
    expect(again.ran).toBe(0);
    const { Queue } = await import("bullmq");
    const queue = new Queue("sweep-kill", { connection: { host: "127.0.0.1", port } });
    const counts = await queue.getJobCounts("wait", "active", "completed", "failed", "delayed");
    await queue.close();
    expect(counts).toEqual({ wait: 0, active: 0, completed: 0, failed: 0, delayed: 0 });

    b.child.kill("SIGTERM");
    expect(await exited(b.child)).toBe(0);
    expect(workerProcessesOf(b.child.pid!)).toEqual([]);
  }, 120_000);

  it("records a run that fails on a worker once, as failed, without retrying it", async () => {
    const url = `redis://127.0.0.1:${port}/sweep-fail`;
    const w = startWorker(url);
    const result = await S.run({ run: runsModule, grid: { fail: [null, "throw", "exit"] }, seeds: 1 }, { queue: url, progress: false });
    expect(result.records.map((r) => [r.label, r.error?.kind ?? r.status])).toEqual([
      ["fail=null seed=0", "ok"],
      ["fail=throw seed=0", "error"],
      ["fail=exit seed=0", "crash"],
    ]);
    expect(result.failed[0].error!.message).toBe("failing on purpose (seed 0)");
    expect(w.lines.filter((l) => l.includes("started fail=throw")).length).toBe(1);
    w.child.kill("SIGTERM");
    expect(await exited(w.child)).toBe(0);
  }, 60_000);
});
