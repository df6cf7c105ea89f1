/**
 * mtlkit's errors, all in this one module: every error mtlkit throws on purpose is an `MtlError`
 * (or a subclass that carries more fields), so `catch (e) { if (e instanceof mtl.MtlError) … }` catches
 * exactly the problems mtlkit found, and anything else is a bug or an error of a library below it.
 * @module
 */
/**
 * mtlkit's error type. Every precondition mtlkit checks throws an `MtlError` whose message
 * names the culprit (task, column, row, option or shape) in the style of tfjs-core's own errors:
 * `Error in <where>: <what is wrong>.`
 */
export class MtlError extends Error {
  /** Where the problem was found, e.g. "classification('species')" or "Trainer option 'epochs'". */
  readonly where: string;

  constructor(where: string, message: string) {
    super(`Error in ${where}: ${message}`);
    this.name = "MtlError";
    this.where = where;
  }
}

/** Training stopped because a task's loss was NaN or infinite (the trainer's `onNonFinite: "skip"` skips the step instead). */
export class NonFiniteLossError extends MtlError {
  /** The task whose loss was not finite. */
  readonly task: string;
  /** The step (the trainer's step counter) at which it happened. */
  readonly step: number;

  constructor(task: string, step: number, value: number, what = "loss") {
    super(
      "training",
      `the ${what} of task '${task}' is ${value} at step ${step}; training stopped ` +
        "(lower the learning rate, check the data for extreme values, or clip gradients).",
    );
    this.name = "NonFiniteLossError";
    this.task = task;
    this.step = step;
  }
}

/**
 * A training loop stopped at a step boundary because the kernel was interrupted or its AbortSignal
 * fired. Every finished step is in the history and the model and optimizer hold the state after
 * the last one, so training can continue (fit again) or be checkpointed.
 */
export class TrainingInterrupted extends MtlError {
  /** Steps completed in total (the trainer's step counter) when the loop stopped. */
  readonly step: number;
  /** What stopped it: the Jupyter kernel's interrupt or the `signal` given to `fit`. */
  readonly reason: "kernel interrupt" | "abort signal";

  constructor(where: string, step: number, reason: "kernel interrupt" | "abort signal") {
    super(
      where,
      `training stopped by ${reason === "kernel interrupt" ? "a kernel interrupt" : "its abort signal"} after step ${step}; ` +
        "the model, optimizer and history hold the state after that step: fit again to continue, or save a checkpoint.",
    );
    this.name = "TrainingInterrupted";
    this.step = step;
    this.reason = reason;
  }
}

/**
 * Training stopped because a gradient was NaN or infinite although the losses were finite; the update
 * was not applied. Names the task, the step and the tensor (a variable, or the shared representation).
 */
export class NonFiniteGradientError extends MtlError {
  /**
   * @param task the task whose gradient was not finite
   * @param step the trainer's step counter
   * @param tensor the variable (or "the shared representation") the gradient is taken with respect to
   * @param value the offending value (or the norm that overflowed)
   */
  constructor(
    readonly task: string,
    readonly step: number,
    readonly tensor: string,
    value: number,
  ) {
    super(
      "training",
      `the gradient of task '${task}' with respect to '${tensor}' is ${value} at step ${step} although the losses are finite; ` +
        "training stopped (lower the learning rate, clip gradients with clipNorm or clipTaskNorm, or check the model for log(0), sqrt(0) or division by zero).",
    );
    this.name = "NonFiniteGradientError";
  }
}

/**
 * A checkpoint folder failed verification (a checksum, a missing or truncated file, an edited field).
 * Loading skips it for the newest intact checkpoint; this error is what each skipped folder reports.
 */
export class DamagedCheckpointError extends MtlError {
  /**
   * @param path the checkpoint folder
   * @param problem what is wrong with it, e.g. "weights.bin does not match its checksum"
   */
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`checkpoint ${path}`, problem);
    this.name = "DamagedCheckpointError";
  }
}

/**
 * What {@link SweepInterrupted} needs of the sweep's result (`mtl.sweep.SweepResult` has it); written
 * here so that lib/errors.ts, which lib/native imports, imports nothing itself.
 */
export interface RecordedSweep {
  /** The runs that have results. */
  readonly records: readonly unknown[];
  /** Every run of the sweep. */
  readonly runs: readonly unknown[];
  /** The results file, when the sweep keeps one. */
  readonly resultsFile?: string;
}

/**
 * A sweep (`mtl.sweep.run`) stopped before all its runs finished: a kernel interrupt, its `signal`, or
 * Ctrl-C in `mtlkit sweep`. The runs in flight are lost; `result` holds every run recorded so far (also
 * in the results file, when the sweep keeps one), and running the sweep again finishes the rest.
 */
export class SweepInterrupted<R extends RecordedSweep = RecordedSweep> extends MtlError {
  /**
   * @param result what the sweep had recorded when it stopped (a `mtl.sweep.SweepResult`)
   * @param reason what stopped it, e.g. "a kernel interrupt" or "its abort signal"
   * @param inFlight runs that were running and are not recorded
   */
  constructor(
    readonly result: R,
    reason: string,
    inFlight: number,
  ) {
    super(
      "sweep",
      `stopped by ${reason}: ${result.records.length} of ${result.runs.length} runs have results${result.resultsFile ? ` (in ${result.resultsFile})` : ""}; ` +
        `${inFlight} run${inFlight === 1 ? " was" : "s were"} in flight and ${inFlight === 1 ? "is" : "are"} not recorded. Run the sweep again to finish it.`,
    );
    this.name = "SweepInterrupted";
  }
}

/** Throws `MtlError(where, message)` unless `condition` holds. */
export function check(condition: unknown, where: string, message: () => string): asserts condition {
  if (!condition) throw new MtlError(where, message());
}

/** Refuses option names that the method does not know, so a typo never passes silently. */
export function checkKnownOptions(where: string, options: object | undefined, known: readonly string[]): void {
  if (options === undefined) return;
  check(
    typeof options === "object" && options !== null && !Array.isArray(options),
    where,
    () => `options must be an object, got ${options === null ? "null" : Array.isArray(options) ? "an array" : typeof options}.`,
  );
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new MtlError(where, `unknown option '${key}'. Known options: ${known.join(", ")}.`);
    }
  }
}

/** A finite number check with a message naming the option. */
export function checkFiniteNumber(where: string, name: string, value: unknown): asserts value is number {
  check(
    typeof value === "number" && Number.isFinite(value),
    where,
    () => `option '${name}' must be a finite number, got ${String(value)}.`,
  );
}

/** A positive integer check with a message naming the option. */
export function checkPositiveInteger(where: string, name: string, value: unknown): asserts value is number {
  check(
    typeof value === "number" && Number.isInteger(value) && value > 0,
    where,
    () => `option '${name}' must be a positive integer, got ${String(value)}.`,
  );
}
