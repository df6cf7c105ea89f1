/**
 * Interrupts that long loops obey. A loop (Trainer.fit, on any batch source) makes an
 * `InterruptWatch` when it starts and asks it at every step boundary whether to stop:
 * - a Jupyter interrupt: the mtlkit kernel counts interrupts in
 *   `globalThis[Symbol.for("mtlkit.interrupt")].generation` (a global rather than an import, so any
 *   copy of mtlkit that a notebook loads sees it); a change since the loop started means stop;
 * - an `AbortSignal` the caller passed as option `signal` (the same stop, outside Jupyter).
 * The check reads two fields: no tensor is read, nothing waits.
 */
import { check, TrainingInterrupted } from "../errors";

const GENERATION = Symbol.for("mtlkit.interrupt");

/** How many interrupts the kernel has received (0 outside a kernel). */
export function interruptGeneration(): number {
  const counter = (globalThis as Record<symbol, { generation?: unknown } | undefined>)[GENERATION];
  return typeof counter?.generation === "number" ? counter.generation : 0;
}

/** Checks that option `signal` is an AbortSignal (or absent). */
export function checkSignal(where: string, signal: unknown): asserts signal is AbortSignal | undefined {
  check(
    signal === undefined || (typeof signal === "object" && signal !== null && typeof (signal as AbortSignal).aborted === "boolean"),
    where,
    () => `option 'signal' must be an AbortSignal (e.g. new AbortController().signal), got ${signal === null ? "null" : typeof signal}.`,
  );
}

export class InterruptWatch {
  private readonly generation = interruptGeneration();

  constructor(
    private readonly where: string,
    private readonly signal?: AbortSignal,
  ) {}

  /** Why the loop must stop now, or null to go on. */
  reason(): "kernel interrupt" | "abort signal" | null {
    if (this.signal?.aborted) return "abort signal";
    if (interruptGeneration() !== this.generation) return "kernel interrupt";
    return null;
  }

  /** Throws TrainingInterrupted when asked to stop; `completedSteps` is how many steps are done. */
  throwIfInterrupted(completedSteps: number): void {
    const reason = this.reason();
    if (reason) throw new TrainingInterrupted(this.where, completedSteps, reason);
  }
}
