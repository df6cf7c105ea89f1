/** The messages between a sweep and its worker processes (child_process IPC, JSON). */
import type { UseBackendOptions } from "../backend";
import type { Directions } from "../eval/deltaM";
import type { Configuration } from "./definition";
import type { Metrics } from "./records";

/** A run as sent to a worker process. */
export interface RunOrder {
  id: string;
  label: string;
  config: Configuration;
  seed: number;
}

export type ToChild =
  /** `checkOnly`: the process only checks configurations, so it sets up a backend only if there is a Trainer check to run. */
  | { type: "load"; modulePath: string; exportName: string; backend: UseBackendOptions; checkOnly?: boolean }
  | { type: "validate"; runs: RunOrder[] }
  | { type: "run"; run: RunOrder };

/** Why a module could not serve as a run function. */
export type LoadProblem = "missing" | "not exported" | "not a function" | "load error" | "backend";

export type FromChild =
  | { type: "loaded"; backend: string; device: string; validates: boolean }
  | { type: "load-failed"; problem: LoadProblem; message: string }
  | { type: "validated"; failures: Array<{ id: string; message: string }> }
  | { type: "done"; id: string; metrics: Metrics; directions?: Directions; seconds: number; cpuSeconds: number }
  | { type: "failed"; id: string; message: string; seconds: number; cpuSeconds: number };
