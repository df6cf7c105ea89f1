/**
 * A sweep's worker process (started by child_process.fork, one per core): loads the run function's
 * module once, sets up its own tfjs backend, and then runs the runs it is sent, one at a time,
 * answering each with the run's metrics or its error. It exits when its parent goes away (the IPC
 * channel closes), so a killed sweep leaves no worker behind.
 *
 * The backend is set on the copy of mtlkit that the run module itself loaded ("mtlkit" from the
 * module's folder), so the run trains on the backend this process chose. A module that does not
 * load mtlkit when it is imported gets no backend set up (import mtlkit at the top of the module).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { normalizeMetrics } from "./metrics";
import type { FromChild, LoadProblem, RunOrder, ToChild } from "./messages";

type RunFunction = (config: unknown, context: unknown) => unknown;
type MtlkitCopy = typeof import("../index");

interface Loaded {
  run: RunFunction;
  trainerOptions?: RunFunction;
  mtl: MtlkitCopy;
  backend: string;
  device: string;
}

let loaded: Loaded | undefined;
let busy = Promise.resolve();

function send(message: FromChild): void {
  process.send?.(message);
}

/**
 * Why the run function could not be loaded. Returned, not thrown: it travels to the parent as a
 * message, and the parent's WorkerProcess turns it into the MtlError the user sees.
 */
interface LoadFailure {
  problem: LoadProblem;
  message: string;
}

function failure(problem: LoadProblem, message: string): LoadFailure {
  return { problem, message };
}

// `import()` as written: TypeScript's CommonJS output would turn it into require(), which cannot load ES modules.
const importModule = new Function("specifier", "return import(specifier)") as (specifier: string) => Promise<Record<string, unknown>>;

async function importRunModule(modulePath: string): Promise<Record<string, unknown>> {
  try {
    return require(modulePath) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: string }).code !== "ERR_REQUIRE_ESM") throw e;
    return importModule(pathToFileURL(modulePath).href);
  }
}

/** The file "mtlkit" resolves to from the module's folder (its own copy), else this process's copy. */
function mtlkitPathFor(modulePath: string): string {
  try {
    return createRequire(modulePath).resolve("mtlkit");
  } catch {
    return require.resolve("../index");
  }
}

async function load(
  modulePath: string,
  exportName: string,
  backendOptions: import("../backend").UseBackendOptions,
  checkOnly: boolean,
): Promise<Loaded | LoadFailure> {
  if (!existsSync(modulePath)) return failure("missing", `the module ${modulePath} does not exist on this machine`);
  let mod: Record<string, unknown>;
  try {
    mod = await importRunModule(modulePath);
  } catch (e) {
    return failure("load error", `the module ${modulePath} failed to load: ${(e as Error).stack ?? String(e)}`);
  }
  // An ES module's named exports, or a CommonJS module whose exports an ESM default wraps.
  const pick = (name: string) => mod[name] ?? (mod.default as Record<string, unknown> | undefined)?.[name];
  const fn = pick(exportName);
  if (fn === undefined) {
    const names = Object.keys(mod).filter((k) => k !== "__esModule");
    return failure(
      "not exported",
      `the module ${modulePath} does not export '${exportName}' (it exports ${names.length ? names.map((n) => `'${n}'`).join(", ") : "nothing"}); ` +
        `export the run function, e.g. \`export async function ${exportName}(config, context) { … }\` or \`exports.${exportName} = …\`.`,
    );
  }
  if (typeof fn !== "function") return failure("not a function", `'${exportName}' of ${modulePath} is ${typeof fn}, not a function.`);
  const trainerOptions = pick("trainerOptions");
  // The backend is set up on the copy of mtlkit the module loaded; a run function that does not
  // use mtlkit (nor has a Trainer check) needs none, and its process starts without loading tfjs.
  const mtlkitPath = mtlkitPathFor(modulePath);
  const usesMtlkit = require.cache[mtlkitPath] !== undefined || typeof trainerOptions === "function";
  if (!usesMtlkit || (checkOnly && typeof trainerOptions !== "function")) {
    return { run: fn as RunFunction, mtl: undefined as never, backend: "none (the run function does not use mtlkit)", device: "none" };
  }
  const mtl = require(mtlkitPath) as MtlkitCopy;
  let info: { backend: string; device: string };
  try {
    info = await mtl.useBestBackend(backendOptions);
  } catch (e) {
    return failure("backend", `no backend for this worker: ${(e as Error).message}`);
  }
  return {
    run: fn as RunFunction,
    trainerOptions: typeof trainerOptions === "function" ? (trainerOptions as RunFunction) : undefined,
    mtl,
    ...info,
  };
}

function context(l: Loaded, order: RunOrder) {
  return {
    seed: order.seed,
    runId: order.id,
    label: order.label,
    backend: l.backend,
    worker: `${require("node:os").hostname()}:${process.pid}`,
  };
}

function messageOf(e: unknown): string {
  if (e instanceof Error)
    return e.name && !e.message.startsWith(e.name) && e.name !== "Error" && e.name !== "MtlError" ? `${e.name}: ${e.message}` : e.message;
  return String(e);
}

/**
 * Each run's options through the Trainer's own check (`trainerOptions(config, context)` returns one
 * options object, or a list for a run that trains several models); models built for it are disposed.
 */
async function validate(l: Loaded, runs: RunOrder[]): Promise<Array<{ id: string; message: string }>> {
  const failures: Array<{ id: string; message: string }> = [];
  if (!l.trainerOptions) return failures;
  // The check of the mtlkit copy the module trains with (its classes are the ones instanceof sees).
  const checkOptions =
    l.mtl.sweep?.checkTrainerOptions ?? (require("./trainerCheck") as typeof import("./trainerCheck")).checkTrainerOptions;
  for (const order of runs) {
    // One set of options, or one per model for a run that trains several (e.g. single-task baselines).
    let all: Array<{ model?: { dispose?: () => void } }> = [];
    try {
      const options = await l.trainerOptions(order.config, context(l, order));
      all = (Array.isArray(options) ? options : [options]) as typeof all;
      for (const [i, o] of all.entries()) {
        try {
          checkOptions(o as never);
        } catch (e) {
          failures.push({
            id: order.id,
            message: all.length === 1 ? messageOf(e) : `Trainer options ${i + 1} of ${all.length}: ${messageOf(e)}`,
          });
          break;
        }
      }
    } catch (e) {
      failures.push({ id: order.id, message: messageOf(e) });
    } finally {
      for (const o of all) {
        try {
          o?.model?.dispose?.();
        } catch {
          // a model that fails to dispose was never usable; its check already failed
        }
      }
    }
  }
  return failures;
}

async function runOne(l: Loaded, order: RunOrder): Promise<void> {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const seconds = () => Number(process.hrtime.bigint() - start) / 1e9;
  const cpuSeconds = () => {
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / 1e6;
  };
  try {
    const value = await l.run(order.config, context(l, order));
    const { metrics, directions } = normalizeMetrics(value);
    send({ type: "done", id: order.id, metrics, directions, seconds: seconds(), cpuSeconds: cpuSeconds() });
  } catch (e) {
    send({ type: "failed", id: order.id, message: messageOf(e), seconds: seconds(), cpuSeconds: cpuSeconds() });
  }
}

async function handle(message: ToChild): Promise<void> {
  if (message.type === "load") {
    let result: Loaded | LoadFailure;
    try {
      result = await load(message.modulePath, message.exportName, message.backend, message.checkOnly === true);
    } catch (e) {
      result = failure("load error", messageOf(e));
    }
    if ("problem" in result) {
      send({ type: "load-failed", problem: result.problem, message: result.message });
    } else {
      loaded = result;
      send({ type: "loaded", backend: loaded.backend, device: loaded.device, validates: loaded.trainerOptions !== undefined });
    }
  } else if (message.type === "validate") {
    send({
      type: "validated",
      failures: loaded
        ? await validate(loaded, message.runs)
        : message.runs.map((r) => ({ id: r.id, message: "the worker has no run function loaded" })),
    });
  } else if (message.type === "run") {
    if (!loaded) send({ type: "failed", id: message.run.id, message: "the worker has no run function loaded", seconds: 0, cpuSeconds: 0 });
    else await runOne(loaded, message.run);
  }
}

if (require.main === module) {
  // The parent went away (its sweep finished, was killed, or crashed): nothing left to do.
  process.on("disconnect", () => process.exit(0));
  process.on("message", (message: ToChild) => {
    busy = busy.then(() => handle(message));
  });
}
