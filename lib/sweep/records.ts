/** What a finished run leaves behind: one record, written as one line of the results file. */
import type { Directions } from "../eval/deltaM";
import type { Configuration } from "./definition";

/** A run's metrics: flat (`{ accuracy: 0.9 }`) or per task (`{ species: { accuracy: 0.9 } }`, a metric table). */
export type Metrics = Record<string, number | Record<string, number>>;

/**
 * Why a run failed: its function threw ("error"), its process died ("crash"), ran out of
 * JavaScript heap ("out of memory"), took longer than the sweep's limit ("time limit"), or (queue)
 * its job stalled on workers that died more times than the queue allows ("stalled").
 */
export type FailureKind = "error" | "crash" | "out of memory" | "time limit" | "stalled";

/** Why a run failed: the kind of failure and its message (the run function's error, or what the process died of). */
export interface RunFailure {
  /** What happened: the run function threw, its process crashed, ran out of memory, passed the time limit or stalled. */
  kind: FailureKind;
  /** The error's message, or a description of the process's end with the tail of its output. */
  message: string;
}

/**
 * One run's outcome, as a line of the results file (JSON) records it: the configuration and seed, the
 * metrics or the failure, the time it took and which process ran it.
 */
export interface RunRecord {
  /** The run's id (see `runId`). */
  run: string;
  /** Short words for people, e.g. "method=pcgrad seed=3". */
  label: string;
  /** The run's configuration, as given to the run function. */
  config: Configuration;
  /** The run's seed. */
  seed: number;
  /** Whether the run function returned metrics ("ok") or the run failed. */
  status: "ok" | "failed";
  /** What the run function returned (status "ok"). */
  metrics?: Metrics;
  /** Metric directions, when the run function returned an evaluation (mtl.evaluation.evaluate). */
  directions?: Directions;
  /** Why it failed (status "failed"). */
  error?: RunFailure;
  /** Time the run took, seconds (for a failure: until it was found failed). */
  seconds: number;
  /** CPU time its process used during the run (all its threads), seconds; absent when the process died. */
  cpuSeconds?: number;
  /** Which process ran it: "host:pid". */
  worker: string;
  /** ISO time the record was made. */
  finishedAt: string;
}
