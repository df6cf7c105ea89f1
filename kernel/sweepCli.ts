/**
 * `mtlkit sweep` and `mtlkit worker`: the command line of lib/sweep.
 *
 *   mtlkit sweep DEFINITION [--workers N] [--results FILE] [--queue URL] [--backend NAME] [--no-rerun-failed]
 *   mtlkit worker --queue URL [--workers N] [--backend NAME] [--root DIR]
 *                 [--lock-duration MS] [--stalled-interval MS] [--max-stalled N]
 *
 * DEFINITION is a JSON file or a JavaScript module exporting the sweep definition
 * ({ run, grid | configs, seeds, timeLimitSeconds?, memoryMb? }); relative paths in it start from
 * its folder. Results go to DEFINITION's name + ".results.jsonl" beside it unless --results says
 * otherwise, so running the same command again resumes the sweep.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import type { BackendName } from "../lib/backend";

export const SWEEP_USAGE = `  mtlkit sweep DEFINITION.(json|js) [--workers N] [--results FILE] [--queue redis://HOST:PORT/NAME]
             [--backend NAME] [--no-rerun-failed]
  mtlkit worker --queue redis://HOST:PORT/NAME [--workers N] [--backend NAME] [--root DIR]
             [--lock-duration MS] [--stalled-interval MS] [--max-stalled N]`;

class SweepUsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Set<string>;
  values: Map<string, string>;
}

function parse(args: string[], withValue: string[], flags: string[]): Parsed {
  const out: Parsed = { positional: [], flags: new Set(), values: new Map() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (withValue.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new SweepUsageError(`--${name} needs a value`);
      out.values.set(name, v);
    } else if (flags.includes(name) && eq < 0) out.flags.add(name);
    else throw new SweepUsageError(`unknown option ${a}`);
  }
  return out;
}

function positiveInteger(p: Parsed, name: string): number | undefined {
  const raw = p.values.get(name);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new SweepUsageError(`--${name} must be a positive whole number (got ${raw})`);
  return n;
}

function backendOption(p: Parsed): { prefer?: BackendName; webgpu?: boolean } {
  const name = p.values.get("backend");
  if (name === undefined) return { webgpu: false };
  const names = ["tensorflow", "webgpu", "wasm", "cpu"];
  if (!names.includes(name)) throw new SweepUsageError(`--backend must be one of ${names.join(", ")} (got ${name})`);
  return { prefer: name as BackendName };
}

async function loadDefinition(file: string): Promise<unknown> {
  const path = resolve(file);
  const { MtlError } = await import("../lib/errors");
  try {
    if (extname(path) === ".json") return JSON.parse(readFileSync(path, "utf8"));
    const mod = require(path) as { default?: unknown; sweep?: unknown };
    return mod.sweep ?? mod.default ?? mod;
  } catch (e) {
    throw new MtlError(`sweep definition '${file}'`, `cannot be read: ${(e as Error).message}`);
  }
}

/** Stops on the first SIGINT/SIGTERM (calls `stop`); the second one exits at once. */
function onSignals(stop: (signal: string) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (++count === 1) stop(signal);
    else process.exit(130);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}

async function sweepCommand(args: string[]): Promise<number> {
  const p = parse(args, ["workers", "results", "queue", "backend"], ["no-rerun-failed"]);
  if (p.positional.length !== 1) throw new SweepUsageError("sweep needs one definition file (JSON, or a module exporting the definition)");
  const file = p.positional[0];
  const definition = await loadDefinition(file);
  const sweep = await import("../lib/sweep");
  const { SweepInterrupted } = await import("../lib/errors");
  const results = p.values.get("results") ?? join(dirname(resolve(file)), `${basename(file, extname(file))}.results.jsonl`);
  const controller = new AbortController();
  const release = onSignals((signal) => controller.abort(signal));
  try {
    const result = await sweep.run(definition as import("../lib/sweep").SweepDefinition, {
      workers: positiveInteger(p, "workers"),
      results,
      queue: p.values.get("queue"),
      backend: backendOption(p),
      rerunFailed: !p.flags.has("no-rerun-failed"),
      signal: controller.signal,
      root: dirname(resolve(file)),
    });
    console.log(
      String((result as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for("Jupyter.display")]()["text/plain"]),
    );
    return result.failed.length > 0 ? 1 : 0;
  } catch (e) {
    if (e instanceof SweepInterrupted) {
      console.error(`mtlkit: ${e.message}`);
      return 130;
    }
    throw e;
  } finally {
    release();
  }
}

async function workerCommand(args: string[]): Promise<number> {
  const p = parse(args, ["queue", "workers", "backend", "root", "lock-duration", "stalled-interval", "max-stalled"], []);
  if (p.positional.length) throw new SweepUsageError(`unexpected argument ${p.positional[0]}`);
  const url = p.values.get("queue");
  if (!url) throw new SweepUsageError("worker needs --queue redis://HOST:PORT/NAME");
  const sweep = await import("../lib/sweep");
  const { availableParallelism } = await import("node:os");
  const address = sweep.parseQueueUrl(url);
  const workers = positiveInteger(p, "workers") ?? availableParallelism();
  const maxStalled = p.values.get("max-stalled");
  if (maxStalled !== undefined && !(Number.isInteger(Number(maxStalled)) && Number(maxStalled) >= 0)) {
    throw new SweepUsageError(`--max-stalled must be a whole number ≥ 0 (got ${maxStalled})`);
  }
  const log = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
  const worker = await sweep.startQueueWorker(address, {
    workers,
    backend: backendOption(p),
    threads: Math.max(1, Math.floor(availableParallelism() / workers)),
    root: p.values.get("root"),
    lockDuration: positiveInteger(p, "lock-duration"),
    stalledInterval: positiveInteger(p, "stalled-interval"),
    maxStalledCount: maxStalled === undefined ? undefined : Number(maxStalled),
    log,
  });
  log(`worker ${process.pid} pulling runs from ${address.url} with ${workers} worker process${workers === 1 ? "" : "es"}`);
  let signals = 0;
  const handler = () => {
    signals++;
    log(signals === 1 ? "stopping: finishing the runs in progress (signal again to stop them now)" : "stopping now");
    void worker.close(signals > 1);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  await worker.closed;
  return 0;
}

/** Runs `mtlkit sweep …` or `mtlkit worker …`; returns the exit code. */
export async function sweepMain(command: "sweep" | "worker", args: string[]): Promise<number> {
  const { MtlError } = await import("../lib/errors");
  try {
    return command === "sweep" ? await sweepCommand(args) : await workerCommand(args);
  } catch (e) {
    if (e instanceof SweepUsageError) {
      console.error(`mtlkit: ${e.message}\nusage:\n${SWEEP_USAGE}`);
      return 2;
    }
    if (e instanceof MtlError) {
      console.error(`mtlkit: ${e.message}`);
      return 1;
    }
    if (command === "worker") {
      // Queue connections a failed start left open would keep the process alive.
      console.error(`mtlkit: ${(e as Error).stack ?? String(e)}`);
      process.exit(1);
    }
    throw e;
  }
}
