/**
 * One worker process of a sweep, seen from the sweep: started with child_process.fork (its own
 * V8 heap, tfjs engine and backend; `memoryMb` caps its heap), loaded once with the run function,
 * then sent runs one at a time. A run never rejects: an error thrown by the run function, the
 * process dying (a crash, the heap running out, the system's OOM killer) or the time limit passing
 * all come back as a failed outcome naming why, and the process is gone in the last three cases
 * (the pool starts another).
 */
import { ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { UseBackendOptions } from "../backend";
import { MtlError } from "../errors";
import type { Directions } from "../eval/deltaM";
import type { FromChild, LoadProblem, RunOrder, ToChild } from "./messages";
import type { FailureKind, Metrics } from "./records";

export interface WorkerProcessOptions {
  modulePath: string;
  exportName: string;
  backend: UseBackendOptions;
  /** Heap limit, MiB (--max-old-space-size). */
  memoryMb?: number;
  /** Threads for mtlkit's native kernels in this process (MTLKIT_THREADS). */
  threads: number;
  /** Written into the process's arguments (--sweep-owner=PID) so that its owner can be told from `ps`. */
  ownerPid?: number;
  /** The process only checks configurations (no backend unless the module has a Trainer check). */
  checkOnly?: boolean;
}

export type RunOutcome =
  | { status: "ok"; metrics: Metrics; directions?: Directions; seconds: number; cpuSeconds?: number; worker: string }
  | { status: "failed"; kind: FailureKind; message: string; seconds: number; cpuSeconds?: number; worker: string };

/**
 * The worker process could not load the run function, or exited while loading it or checking the
 * configurations: an MtlError naming the function and its module, with what went wrong (`problem`).
 */
export class WorkerLoadError extends MtlError {
  constructor(
    readonly problem: LoadProblem | "exited",
    options: Pick<WorkerProcessOptions, "exportName" | "modulePath">,
    message: string,
  ) {
    // Named "MtlError" (not its own name): the class is internal, and the user meets it as an MtlError.
    super(`sweep run function '${options.exportName}' of ${options.modulePath}`, message);
  }
}

/** The compiled child entry: beside this file, or in dist/ when this file runs from TypeScript source (tests). */
export function childScript(): string {
  const here = join(__dirname, "child.js");
  if (existsSync(here)) return here;
  const built = join(__dirname, "..", "..", "dist", "lib", "sweep", "child.js");
  if (existsSync(built)) return built;
  throw new MtlError("sweep", `mtlkit's sweep worker script is missing (looked for ${here} and ${built}); run npm run build.`);
}

const TAIL = 4000;

export class WorkerProcess {
  private readonly child: ChildProcess;
  private output = "";
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private waiting: ((message: FromChild | null) => void) | null = null;
  private killedFor: "time limit" | "stopped" | null = null;
  /** The backend and device the process set up, once loaded. */
  info: { backend: string; device: string; validates: boolean } | undefined;
  readonly ready: Promise<void>;
  /** Resolves once the process is gone and its output read. */
  readonly closed: Promise<void>;

  constructor(private readonly options: WorkerProcessOptions) {
    const execArgv = options.memoryMb ? [`--max-old-space-size=${options.memoryMb}`] : [];
    this.child = fork(childScript(), options.ownerPid ? [`--sweep-owner=${options.ownerPid}`] : [], {
      execArgv,
      env: { ...process.env, MTLKIT_THREADS: String(options.threads) },
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString("utf8")).slice(-TAIL);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
    this.child.on("message", (m: FromChild) => this.deliver(m));
    this.child.on("error", () => {
      // fork failures also end in 'exit'; that is where they are handled
    });
    // 'close' comes after the process exited and its output was all read (an out-of-memory message included).
    this.closed = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        this.exited = { code, signal };
        this.deliver(null);
        resolve();
      });
    });
    this.ready = this.load();
    // Whoever runs on this process awaits `ready` and sees a load failure there; no unhandled rejection meanwhile.
    this.ready.catch(() => undefined);
  }

  /** "host:pid" of this process. */
  get name(): string {
    return `${hostname()}:${this.child.pid ?? "?"}`;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exited === null;
  }

  private deliver(message: FromChild | null): void {
    const w = this.waiting;
    this.waiting = null;
    w?.(message);
  }

  private request(message: ToChild): Promise<FromChild | null> {
    if (!this.alive) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiting = resolve;
      try {
        this.child.send(message);
      } catch {
        this.deliver(null);
      }
    });
  }

  private async load(): Promise<void> {
    const reply = await this.request({
      type: "load",
      modulePath: this.options.modulePath,
      exportName: this.options.exportName,
      backend: this.options.backend,
      checkOnly: this.options.checkOnly,
    });
    if (reply?.type === "loaded") {
      this.info = { backend: reply.backend, device: reply.device, validates: reply.validates };
      return;
    }
    this.kill();
    if (reply?.type === "load-failed") throw new WorkerLoadError(reply.problem, this.options, reply.message);
    throw new WorkerLoadError(
      "exited",
      this.options,
      `the worker process exited while loading the run function (${this.exitDescription()})${this.outputTail()}`,
    );
  }

  /** Runs each run's Trainer options through the Trainer's check; the failures, by run id. */
  async validate(runs: RunOrder[]): Promise<Array<{ id: string; message: string }>> {
    await this.ready;
    const reply = await this.request({ type: "validate", runs });
    if (reply?.type === "validated") return reply.failures;
    throw new WorkerLoadError(
      "exited",
      this.options,
      `the worker process exited while checking the configurations (${this.exitDescription()})${this.outputTail()}`,
    );
  }

  /** Runs one run; the outcome says how it ended. `timeLimitSeconds` stops (kills) a run that takes longer. */
  async run(order: RunOrder, timeLimitSeconds?: number): Promise<RunOutcome> {
    const started = Date.now();
    const worker = this.name;
    const elapsed = () => (Date.now() - started) / 1000;
    try {
      await this.ready;
    } catch (e) {
      return { status: "failed", kind: "error", message: (e as Error).message, seconds: elapsed(), worker };
    }
    const timer = timeLimitSeconds === undefined ? undefined : setTimeout(() => this.kill("time limit"), timeLimitSeconds * 1000);
    const reply = await this.request({ type: "run", run: order });
    if (timer) clearTimeout(timer);
    if (reply?.type === "done" && reply.id === order.id) {
      return {
        status: "ok",
        metrics: reply.metrics,
        directions: reply.directions,
        seconds: reply.seconds,
        cpuSeconds: reply.cpuSeconds,
        worker,
      };
    }
    if (reply?.type === "failed" && reply.id === order.id) {
      return { status: "failed", kind: "error", message: reply.message, seconds: reply.seconds, cpuSeconds: reply.cpuSeconds, worker };
    }
    this.kill();
    if (this.killedFor === "time limit") {
      return {
        status: "failed",
        kind: "time limit",
        message: `stopped after the time limit of ${timeLimitSeconds} s`,
        seconds: elapsed(),
        worker,
      };
    }
    const oom = /heap out of memory|Allocation failed - JavaScript heap|Reached heap limit/i.test(this.output);
    if (oom) {
      return {
        status: "failed",
        kind: "out of memory",
        message: `the worker process ran out of JavaScript heap${this.options.memoryMb ? ` (limit ${this.options.memoryMb} MiB)` : ""} (${this.exitDescription()})`,
        seconds: elapsed(),
        worker,
      };
    }
    return {
      status: "failed",
      kind: "crash",
      message: `the worker process died during the run (${this.exitDescription()})${this.outputTail()}`,
      seconds: elapsed(),
      worker,
    };
  }

  private exitDescription(): string {
    if (!this.exited) return "still running";
    const { code, signal } = this.exited;
    if (signal === "SIGKILL" && this.killedFor === null) return "killed by SIGKILL: the system may have run out of memory";
    return signal ? `killed by ${signal}` : `exit code ${code}`;
  }

  private outputTail(): string {
    const lines = this.output.trim().split("\n").slice(-6).join("\n");
    return lines ? `; its last output:\n${lines}` : "";
  }

  /** Stops the process now (SIGKILL); safe to call more than once. */
  kill(reason: "time limit" | "stopped" = "stopped"): void {
    if (!this.alive) return;
    this.killedFor ??= reason;
    this.child.kill("SIGKILL");
  }
}
