/**
 * Sweeps: a grid or list of configurations × seeds, run in parallel worker processes (one per core
 * by default) or across machines through a BullMQ queue on Redis, resumable from a results file,
 * and compared with Δm%, negative-transfer verdicts and figures. `mtl.sweep.*`; the command line
 * is `mtlkit sweep` / `mtlkit worker` (docs/sweeps.md).
 *
 * ```ts
 * const result = await mtl.sweep.run({
 *   run: "./sweep-runs/penguins.js#run",          // a module exporting run(config, context)
 *   grid: { method: ["single-task", "equal", "pcgrad"] },
 *   seeds: 5,
 * }, { workers: 2, results: "out/penguins.jsonl" });
 * mtl.sweep.deltaM(result, { baseline: "single-task" });
 * ```
 * A sweep stopped early throws `mtl.SweepInterrupted` (with the other errors, at the top level).
 * @module
 */
export {
  define,
  runId,
  configLabel,
  Configuration,
  ConfigValue,
  RunFunctionRef,
  RunSpec,
  Sweep,
  SweepDefinition,
  SweepIdentity,
  DefineOptions,
} from "./definition";
export { run, SweepRunOptions } from "./run";
export { SweepResult } from "./result";
export { RunRecord, RunFailure, FailureKind, Metrics } from "./records";
export { ResultsFile, describeDifferences } from "./resultsFile";
export {
  groups,
  metricTables,
  metricTableOf,
  deltaM,
  negativeTransfer,
  RunGroup,
  GroupSelector,
  SweepComparisonOptions,
  SweepDeltaM,
  SweepDeltaMRow,
  SweepTransfer,
} from "./analysis";
export { parseQueueUrl, checkReachable, startQueueWorker, QueueAddress, RedisConnection, QueueWorker, QueueWorkerOptions } from "./queue";
export { checkTrainerOptions } from "./trainerCheck";
export { normalizeMetrics } from "./metrics";
export { SweepProgressState, describeProgress } from "./progress";

/** What a run function receives besides its configuration. */
export interface RunContext {
  /** The run's seed: use it for the model's initialisation and the batch order. */
  seed: number;
  runId: string;
  /** e.g. "method=pcgrad seed=3". */
  label: string;
  /** The backend this worker process runs on. */
  backend: string;
  /** "host:pid" of the worker process. */
  worker: string;
}
