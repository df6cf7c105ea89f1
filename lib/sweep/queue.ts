/**
 * Sweeps across machines on BullMQ (Redis): the sweep's owner enqueues one job per run that has
 * no result yet and collects the results as workers finish them; `mtlkit worker` processes on any
 * machine that reaches the Redis server pull the jobs and run them in their own pool of worker
 * processes (local.ts), so a crash, a full heap or a time limit is handled as in a local sweep.
 *
 * - A queue is named by a URL: `redis://[user:password@]host[:port]/name` (`rediss://` for TLS);
 *   the path is the queue's name.
 * - Job ids are the sweep's identity and the run's id, so enqueueing again (a re-run of the sweep)
 *   adds nothing twice, and results are recorded once per run: the owner records a run the first
 *   time it sees its job finished, then removes the job.
 * - A worker that dies mid-run stops renewing its job's lock; BullMQ's stalled-job check (on the
 *   other workers, every `stalledInterval`) puts the job back in the queue for another worker,
 *   up to `maxStalledCount` times, after which the job fails as "stalled".
 * - A run that fails by itself (its error, a crash of its process, its time limit) is a finished
 *   job whose result says so; BullMQ does not retry it. Re-running the sweep reruns it.
 */
import { hostname } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import type { Job, Queue as BullQueue, Worker as BullWorker } from "bullmq";
import type { UseBackendOptions } from "../backend";
import { check, MtlError } from "../errors";
import type { Sweep } from "./definition";
import type { RunOrder } from "./messages";
import type { RunRecord } from "./records";
import { RunOutcome, WorkerProcess } from "./workerProcess";

/** Where the Redis server is and how to log in. */
export interface RedisConnection {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls?: Record<string, never>;
}

/** A queue URL taken apart. */
export interface QueueAddress {
  /** The URL, with any password shown as "***". */
  url: string;
  /** The queue's name (the URL's path). */
  name: string;
  /** How to reach the Redis server. */
  connection: RedisConnection;
  /** host:port, for messages. */
  server: string;
}

/** Parses `redis://host:port/name`; an MtlError names what is wrong with it. */
export function parseQueueUrl(url: string): QueueAddress {
  const where = `sweep queue '${url}'`;
  check(typeof url === "string" && url.length > 0, "sweep queue", () => "the queue must be a URL redis://host:port/name.");
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MtlError(where, "is not a URL; write it as redis://host:port/name.");
  }
  check(
    u.protocol === "redis:" || u.protocol === "rediss:",
    where,
    () => `must start with redis:// (or rediss:// for TLS), not ${u.protocol}//.`,
  );
  check(u.hostname.length > 0, where, () => "names no host; write it as redis://host:port/name.");
  const name = decodeURIComponent(u.pathname.replace(/^\/+/, ""));
  check(
    name.length > 0 && !name.includes("/") && !name.includes(":"),
    where,
    () => "needs a queue name as its path, without '/' or ':', e.g. redis://localhost:6379/mtl-sweeps.",
  );
  const port = u.port ? Number(u.port) : 6379;
  const connection: RedisConnection = { host: u.hostname.replace(/^\[|\]$/g, ""), port };
  if (u.username) connection.username = decodeURIComponent(u.username);
  if (u.password) connection.password = decodeURIComponent(u.password);
  if (u.protocol === "rediss:") connection.tls = {};
  const shown = new URL(url);
  if (shown.password) shown.password = "***";
  return { url: shown.toString(), name, connection, server: `${connection.host}:${port}` };
}

/** Connects once and pings, giving up after `timeoutMs`: an unreachable server is an MtlError naming it, never a hang. */
export async function checkReachable(address: QueueAddress, timeoutMs = 3000): Promise<void> {
  const { default: Redis } = await import("ioredis");
  const client = new Redis({
    ...address.connection,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => undefined); // reported below, not as an unhandled 'error' event
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      }),
    ]);
  } catch (e) {
    throw new MtlError(
      `sweep queue '${address.url}'`,
      `cannot reach the Redis server at ${address.server}: ${(e as Error).message}. Is redis-server running there, and reachable from this machine (bind address, firewall, password)?`,
    );
  } finally {
    if (timer) clearTimeout(timer);
    client.disconnect();
  }
}

/** What a job carries: everything a worker on another machine needs to run one run. */
export interface JobData {
  sweep: string;
  /** The module, absolute on the owner's machine and relative to the sweep's root. */
  module: { absolute: string; relative: string; export: string };
  run: RunOrder;
  timeLimitSeconds?: number;
  memoryMb?: number;
}

function jobId(sweep: Sweep, run: string): string {
  return `${sweep.identity.slice(0, 12)}-${run}`;
}

export interface OwnerHooks {
  onRecord(record: RunRecord): void;
  /** How many of this sweep's runs are being run by workers now. */
  onRunning(count: number): void;
  shouldStop(): boolean;
}

/**
 * Enqueues `orders` (skipping runs whose job is already queued or running) and records each run's
 * result once, until all are recorded or `shouldStop()`. Jobs left when it stops stay queued;
 * running the sweep again collects them.
 */
export async function runOnQueue(address: QueueAddress, sweep: Sweep, orders: RunOrder[], hooks: OwnerHooks, pollMs = 250): Promise<void> {
  const { Queue } = await import("bullmq");
  const queue: BullQueue = new Queue(address.name, { connection: { ...address.connection } });
  queue.on("error", () => undefined);
  try {
    const outstanding = new Map(orders.map((o) => [jobId(sweep, o.id), o]));
    for (const [id, order] of outstanding) {
      const existing = await queue.getJob(id);
      if (existing) {
        const state = await existing.getState();
        if (state === "failed") await existing.remove();
        else continue; // waiting, active or finished: collected below
      }
      const data: JobData = {
        sweep: sweep.identity,
        module: { absolute: sweep.modulePath, relative: sweep.description.run.module, export: sweep.exportName },
        run: order,
        timeLimitSeconds: sweep.timeLimitSeconds,
        memoryMb: sweep.memoryMb,
      };
      await queue.add("run", data, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
    }
    let failures = 0;
    while (outstanding.size > 0 && !hooks.shouldStop()) {
      try {
        const finished = (await queue.getJobs(["completed", "failed"])) as Job[];
        for (const job of finished) {
          const order = job.id !== undefined ? outstanding.get(job.id) : undefined;
          if (!order) continue;
          outstanding.delete(job.id!);
          hooks.onRecord(recordOfJob(job, order));
          await job.remove().catch(() => undefined);
        }
        const active = (await queue.getJobs(["active"])) as Job[];
        hooks.onRunning(active.filter((j) => j.id !== undefined && outstanding.has(j.id)).length);
        failures = 0;
      } catch (e) {
        if (++failures * pollMs > 20_000) {
          throw new MtlError(
            `sweep queue '${address.url}'`,
            `lost the Redis server at ${address.server}: ${(e as Error).message}. Finished runs are in the results file; run the sweep again to collect the rest.`,
          );
        }
      }
      if (outstanding.size > 0) await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    await queue.close().catch(() => undefined);
  }
}

function recordOfJob(job: Job, order: RunOrder): RunRecord {
  const value = job.returnvalue as RunRecord | undefined;
  if (job.finishedOn && !job.failedReason && value && typeof value === "object" && value.run === order.id) {
    return { ...value, label: order.label, config: order.config, seed: order.seed };
  }
  const reason = job.failedReason || "the job failed without a reason";
  const stalled = /stalled/i.test(reason);
  return {
    run: order.id,
    label: order.label,
    config: order.config,
    seed: order.seed,
    status: "failed",
    error: { kind: stalled ? "stalled" : "error", message: stalled ? `${reason} (the workers running it died or hung each time)` : reason },
    seconds: job.finishedOn && job.processedOn ? (job.finishedOn - job.processedOn) / 1000 : 0,
    worker: job.processedBy ?? "unknown",
    finishedAt: new Date(job.finishedOn ?? Date.now()).toISOString(),
  };
}

/** Options of {@link startQueueWorker} (`mtlkit worker --queue URL` sets them from its flags). */
export interface QueueWorkerOptions {
  /** Runs at once on this machine (worker processes); default one per core. */
  workers: number;
  /** Each worker process's backend choice, as `mtl.useBestBackend` takes it. */
  backend: UseBackendOptions;
  /** Threads of mtlkit's native kernels per worker process. */
  threads: number;
  /** Where the sweep's root is on this machine (module paths are relative to it); default: the owner's absolute path, else the current folder. */
  root?: string;
  /** BullMQ: how long a job's lock lasts without renewal (ms; default 30000). */
  lockDuration?: number;
  /** BullMQ: how often stalled jobs are looked for (ms; default 30000). */
  stalledInterval?: number;
  /** BullMQ: how many times a job may stall before it fails (default 1). */
  maxStalledCount?: number;
  /** One line per started and finished run (default: none). */
  log?: (line: string) => void;
}

/** A running `mtlkit worker`: pulls jobs until closed. */
export interface QueueWorker {
  /** Stops taking jobs; waits for the runs in progress (or kills them with `force`). */
  close(force?: boolean): Promise<void>;
  /** Resolves when the worker has closed. */
  closed: Promise<void>;
}

/** Starts pulling jobs from the queue and running them in worker processes. */
export async function startQueueWorker(address: QueueAddress, options: QueueWorkerOptions): Promise<QueueWorker> {
  await checkReachable(address);
  const { Worker } = await import("bullmq");
  const log = options.log ?? (() => undefined);
  // One worker process per slot, kept while jobs of the same module follow each other.
  const slots: Array<{ key: string; process: WorkerProcess } | undefined> = new Array(options.workers).fill(undefined);
  const busy = new Set<number>();
  const processor = async (job: Job<JobData>): Promise<RunRecord> => {
    const data = job.data;
    const slot = [...slots.keys()].find((i) => !busy.has(i))!;
    busy.add(slot);
    try {
      const modulePath = locateModule(data, options.root);
      const key = `${modulePath}#${data.module.export}#${data.memoryMb ?? ""}`;
      let held = slots[slot];
      if (!held || held.key !== key || !held.process.alive) {
        held?.process.kill();
        held = slots[slot] = {
          key,
          process: new WorkerProcess({
            modulePath,
            exportName: data.module.export,
            backend: options.backend,
            memoryMb: data.memoryMb,
            threads: options.threads,
            ownerPid: process.pid,
          }),
        };
      }
      log(`started ${data.run.label} (job ${job.id}, process ${held.process.pid})`);
      const outcome = await held.process.run(data.run, data.timeLimitSeconds);
      log(`finished ${data.run.label}: ${outcome.status === "ok" ? "ok" : `failed (${outcome.kind})`} in ${outcome.seconds.toFixed(1)} s`);
      return recordOf(data.run, outcome);
    } finally {
      busy.delete(slot);
    }
  };
  // Only the options given: BullMQ takes an explicit undefined as a value, not as "the default".
  const tuning = Object.fromEntries(
    Object.entries({
      lockDuration: options.lockDuration,
      stalledInterval: options.stalledInterval,
      maxStalledCount: options.maxStalledCount,
    }).filter(([, v]) => v !== undefined),
  );
  const worker: BullWorker = new Worker(address.name, processor, {
    connection: { ...address.connection, maxRetriesPerRequest: null },
    concurrency: options.workers,
    ...tuning,
  });
  worker.on("error", (e) => log(`queue error: ${e.message}`));
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let closing: Promise<void> | undefined;
  return {
    closed,
    close(force = false) {
      const killAll = () => {
        for (const s of slots) s?.process.kill();
      };
      if (force) killAll();
      closing ??= worker.close(force).then(async () => {
        killAll();
        await Promise.all(slots.map((s) => s?.process.closed));
        resolveClosed();
      });
      return closing;
    },
  };
}

/** The run module on this machine: under `root` when given, else the owner's path if it exists here, else relative to the current folder. */
function locateModule(data: JobData, root: string | undefined): string {
  if (root !== undefined) return resolve(root, data.module.relative);
  if (isAbsolute(data.module.absolute) && existsSync(data.module.absolute)) return data.module.absolute;
  return join(process.cwd(), data.module.relative);
}

/** The record of a run from its outcome. */
export function recordOf(order: RunOrder, outcome: RunOutcome): RunRecord {
  const base = {
    run: order.id,
    label: order.label,
    config: order.config,
    seed: order.seed,
    seconds: outcome.seconds,
    ...(outcome.cpuSeconds !== undefined ? { cpuSeconds: outcome.cpuSeconds } : {}),
    worker: outcome.worker || hostname(),
    finishedAt: new Date().toISOString(),
  };
  return outcome.status === "ok"
    ? { ...base, status: "ok", metrics: outcome.metrics, ...(outcome.directions ? { directions: outcome.directions } : {}) }
    : { ...base, status: "failed", error: { kind: outcome.kind, message: outcome.message } };
}
