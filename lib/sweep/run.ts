/**
 * Running a sweep: checks the definition, opens the results file (skipping finished runs, rerunning
 * failed ones), loads the run function and checks every configuration before any run starts, then
 * runs the rest on local worker processes or through a queue, recording each run as it finishes
 * and showing progress. Stopping it (a kernel interrupt, option `signal`, Ctrl-C in `mtlkit
 * sweep`) kills the worker processes: only the runs in flight are lost, and they run again when
 * the sweep is re-run.
 */
import { availableParallelism, cpus } from "node:os";
import type { UseBackendOptions } from "../backend";
import { check, checkKnownOptions, SweepInterrupted } from "../errors";
import { checkSignal, interruptGeneration } from "../train/interrupt";
import { define, Sweep, SweepDefinition } from "./definition";
import { checkRuns, LocalPool } from "./local";
import type { RunOrder } from "./messages";
import { createSweepProgress, SweepProgressState } from "./progress";
import { checkReachable, parseQueueUrl, recordOf, runOnQueue } from "./queue";
import type { RunRecord } from "./records";
import { makeResult, SweepResult } from "./result";
import { ResultsFile } from "./resultsFile";

/**
 * Options of {@link run}: where the runs run (local worker processes, or a queue), the results file that
 * makes the sweep resumable, each worker's backend and threads, and how to stop it.
 */
export interface SweepRunOptions {
  /** Worker processes on this machine (default one per core). */
  workers?: number;
  /** The results file (JSON lines); with it the sweep resumes where it stopped. Default: results kept in memory only. */
  results?: string;
  /** Run through a BullMQ queue instead, `redis://host:port/name`; `mtlkit worker --queue` processes run the runs. */
  queue?: string;
  /** Each worker's backend (default: the best of wasm and cpu, WebGPU not probed; `{ prefer: "webgpu" }` to use a GPU). */
  backend?: UseBackendOptions;
  /** Threads of mtlkit's native kernels per worker process (default: cores / workers, at least 1). */
  threadsPerWorker?: number;
  /** Rerun runs recorded as failed (default true). */
  rerunFailed?: boolean;
  /** Show progress (default true). */
  progress?: boolean;
  /** Stops the sweep when aborted (the kernel's interrupt also stops it); a string reason is named in the error. */
  signal?: AbortSignal;
  /** Folder that a relative module path starts from (default the current folder; ignored when given a defined sweep). */
  root?: string;
}

const OPTIONS = ["workers", "results", "queue", "backend", "threadsPerWorker", "rerunFailed", "progress", "signal", "root"];

function cores(): number {
  return typeof availableParallelism === "function" ? availableParallelism() : cpus().length;
}

function isSweep(x: SweepDefinition | Sweep): x is Sweep {
  return typeof (x as Sweep).identity === "string" && Array.isArray((x as Sweep).runs);
}

/** Runs a sweep (see the module comment); resolves with every run's record once all have one. */
export async function run(definition: SweepDefinition | Sweep, options: SweepRunOptions = {}): Promise<SweepResult> {
  const where = "sweep";
  checkKnownOptions(where, options, OPTIONS);
  checkSignal(where, options.signal);
  const sweep = isSweep(definition) ? definition : define(definition, { root: options.root });
  const workers = options.workers ?? cores();
  check(Number.isInteger(workers) && workers > 0, where, () => `option 'workers' must be a positive integer, got ${options.workers}.`);
  const threads = options.threadsPerWorker ?? Math.max(1, Math.floor(cores() / workers));
  check(
    Number.isInteger(threads) && threads > 0,
    where,
    () => `option 'threadsPerWorker' must be a positive integer, got ${options.threadsPerWorker}.`,
  );
  check(
    options.results === undefined || (typeof options.results === "string" && options.results.length > 0),
    where,
    () => "option 'results' must be a file path.",
  );
  const address = options.queue !== undefined ? parseQueueUrl(options.queue) : undefined;
  if (address) await checkReachable(address);
  const backend: UseBackendOptions = options.backend ?? { webgpu: false };
  const started = Date.now();

  const file = options.results !== undefined ? ResultsFile.open(options.results, sweep) : undefined;
  try {
    const records = file ? file.records() : new Map<string, RunRecord>();
    const rerunFailed = options.rerunFailed ?? true;
    const pending = sweep.runs.filter((r) => {
      const rec = records.get(r.id);
      return !rec || (rec.status === "failed" && rerunFailed);
    });
    const resumed = sweep.runs.length - pending.length;
    const where_ = address
      ? `queue ${address.url}`
      : `${Math.min(workers, Math.max(pending.length, 1))} worker process${workers === 1 ? "" : "es"}`;
    const finish = (ran: number) =>
      makeResult({
        identity: sweep.identity,
        resultsFile: file?.path,
        runs: sweep.runs,
        records: sweep.runs.flatMap((r) => (records.has(r.id) ? [records.get(r.id)!] : [])),
        varying: sweep.varying,
        resumed,
        ran,
        seconds: (Date.now() - started) / 1000,
        where: where_,
      });
    if (pending.length === 0) return finish(0);

    const orders: RunOrder[] = pending.map((r) => ({ id: r.id, label: r.label, config: r.config, seed: r.seed }));
    const processOptions = {
      modulePath: sweep.modulePath,
      exportName: sweep.exportName,
      backend,
      memoryMb: sweep.memoryMb,
      threads,
      ownerPid: process.pid,
    };
    const pool = address
      ? undefined
      : new LocalPool({ ...processOptions, size: Math.min(workers, orders.length), timeLimitSeconds: sweep.timeLimitSeconds });

    // Stop on the kernel's interrupt, the caller's signal, or (mtlkit sweep) a signal to the process.
    const generation = interruptGeneration();
    let stopReason: string | null = null;
    const stopCheck = () => {
      if (stopReason) return true;
      if (options.signal?.aborted) stopReason = typeof options.signal.reason === "string" ? options.signal.reason : "its abort signal";
      else if (interruptGeneration() !== generation) stopReason = "a kernel interrupt";
      if (stopReason) void pool?.stop();
      return stopReason !== null;
    };
    const watch = setInterval(stopCheck, 100);
    const onAbort = () => stopCheck();
    options.signal?.addEventListener("abort", onAbort);

    const progress = createSweepProgress(options.progress ?? true);
    const running = new Set<string>();
    let queueRunning = 0;
    let ran = 0;
    let firstStart: number | undefined;
    const pendingIds = new Set(orders.map((o) => o.id));
    const finishedNow = new Set<string>();
    const state = (): SweepProgressState => {
      let done = 0;
      let failed = 0;
      for (const r of sweep.runs) {
        const rec = records.get(r.id);
        if (!rec || (pendingIds.has(r.id) && !finishedNow.has(r.id))) continue; // a failure being rerun is not done
        done++;
        if (rec.status === "failed") failed++;
      }
      const sinceStart = firstStart === undefined ? 0 : (Date.now() - firstStart) / 1000;
      return {
        total: sweep.runs.length,
        done,
        failed,
        running: address ? queueRunning : running.size,
        resumed,
        elapsedSeconds: (Date.now() - started) / 1000,
        secondsLeft: ran > 0 ? (sinceStart / ran) * (sweep.runs.length - done) : undefined,
        where: where_,
      };
    };
    const record = (rec: RunRecord) => {
      if (finishedNow.has(rec.run)) return; // once per run, whatever a queue reports twice
      finishedNow.add(rec.run);
      file?.append(rec);
      records.set(rec.run, rec);
      ran++;
      running.delete(rec.run);
      const what =
        rec.status === "ok"
          ? `ok      ${rec.label} (${rec.seconds.toFixed(1)} s)`
          : `failed  ${rec.label}: ${rec.error?.kind}: ${(rec.error?.message ?? "").split("\n")[0]}`;
      progress.update(state(), what);
    };

    try {
      pool?.start();
      await checkRuns(processOptions, orders, (o) => o.label).catch(async (e) => {
        await pool?.stop();
        throw e;
      });
      if (stopCheck()) throw new SweepInterrupted(finish(ran), stopReason!, 0);
      progress.update(state());
      firstStart = Date.now();
      const ticker = setInterval(() => progress.update(state()), 1000);
      try {
        if (pool) {
          await pool.runAll(orders, {
            onStart: (order) => {
              running.add(order.id);
              progress.update(state());
            },
            onOutcome: (order, outcome) => record(recordOf(order, outcome)),
          });
        } else {
          await runOnQueue(address!, sweep, orders, {
            onRecord: record,
            onRunning: (n) => {
              queueRunning = n;
            },
            shouldStop: stopCheck,
          });
        }
      } finally {
        clearInterval(ticker);
      }
      if (stopCheck()) {
        const inFlight = address ? queueRunning : running.size;
        throw new SweepInterrupted(finish(ran), stopReason!, inFlight);
      }
      progress.update(state());
      return finish(ran);
    } finally {
      clearInterval(watch);
      options.signal?.removeEventListener("abort", onAbort);
      progress.close();
      await pool?.stop();
    }
  } finally {
    file?.close();
  }
}
