/**
 * Runs a sweep's runs on this machine: a pool of worker processes (child_process.fork, one per
 * core by default), each taking the next run when it finishes one. A worker process that dies is
 * replaced before its next run. Processes rather than worker threads (piscina): a run that crashes
 * the process, exhausts its heap or hangs in native code is stopped by killing that one process,
 * which a thread cannot offer; each process has its own tfjs engine, backend and heap limit; and
 * the OS takes back everything a killed run held.
 */
import { MtlError } from "../errors";
import type { RunOrder } from "./messages";
import { RunOutcome, WorkerProcess, WorkerProcessOptions } from "./workerProcess";

export interface PoolOptions extends WorkerProcessOptions {
  /** Number of worker processes. */
  size: number;
  timeLimitSeconds?: number;
}

export interface PoolHooks {
  onStart(order: RunOrder, worker: string): void;
  onOutcome(order: RunOrder, outcome: RunOutcome): void;
}

export class LocalPool {
  private readonly slots: Array<WorkerProcess | undefined>;
  private stopped = false;

  constructor(private readonly options: PoolOptions) {
    this.slots = new Array(options.size).fill(undefined);
  }

  /** Starts every worker process (they load the run function and set up their backend meanwhile). */
  start(): void {
    for (let i = 0; i < this.slots.length; i++) this.slots[i] ??= new WorkerProcess(this.options);
  }

  /** The processes' ids (for tests and `ps`). */
  pids(): number[] {
    return this.slots.flatMap((w) => (w?.alive && w.pid !== undefined ? [w.pid] : []));
  }

  /** Runs every order; resolves when all are done or the pool was stopped (runs in flight then report nothing). */
  async runAll(orders: RunOrder[], hooks: PoolHooks): Promise<void> {
    let next = 0;
    const slot = async (i: number) => {
      while (!this.stopped && next < orders.length) {
        const order = orders[next++];
        let worker = this.slots[i];
        if (!worker?.alive) worker = this.slots[i] = new WorkerProcess(this.options);
        hooks.onStart(order, worker.name);
        const outcome = await worker.run(order, this.options.timeLimitSeconds);
        if (this.stopped) return;
        hooks.onOutcome(order, outcome);
      }
    };
    await Promise.all(this.slots.map((_, i) => slot(i)));
  }

  /** Kills every worker process now; runs in flight are lost. Resolves once all are gone. */
  async stop(): Promise<void> {
    this.stopped = true;
    const workers = this.slots.filter((w): w is WorkerProcess => w !== undefined);
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.closed));
  }
}

/**
 * Loads the run function in a process of its own and puts every run's Trainer options (when the
 * module exports `trainerOptions(config, context)`) through the Trainer's own check. Throws an
 * MtlError naming the module when the run function cannot be loaded, and one listing every run
 * that fails the check, before any run starts. Returns whether the Trainer check applied.
 */
export async function checkRuns(
  options: WorkerProcessOptions,
  orders: RunOrder[],
  configLabel: (order: RunOrder) => string,
): Promise<boolean> {
  const worker = new WorkerProcess({ ...options, checkOnly: true });
  try {
    await worker.ready; // a load failure is a WorkerLoadError, an MtlError naming the run function's module
    if (!worker.info?.validates) return false;
    const failures = await worker.validate(orders);
    if (failures.length > 0) {
      const byId = new Map(orders.map((o) => [o.id, o]));
      const lines = failures.slice(0, 20).map((f) => `  run ${configLabel(byId.get(f.id)!)}: ${f.message}`);
      if (failures.length > 20) lines.push(`  … and ${failures.length - 20} more`);
      const error = new MtlError(
        "sweep configurations",
        `${failures.length} of ${orders.length} runs fail the Trainer's check of their options (trainerOptions in ${options.modulePath}); no run was started:\n${lines.join("\n")}`,
      );
      (error as MtlError & { failures?: unknown }).failures = failures.map((f) => ({ ...f, label: byId.get(f.id)?.label }));
      throw error;
    }
    return true;
  } finally {
    worker.kill();
    await worker.closed;
  }
}
