/**
 * What a training run leaves behind, as plain data a test can assert on and a figure can draw:
 * one record per step (task losses, the weights used, regularizer terms) and one per epoch
 * (mean training losses, validation losses and metrics per task).
 */
import { inspect } from "util";
import { historyBundle } from "../display/history";
import { MtlError } from "../errors";

/** What one training step did: the task losses, the weights used, the regularizer terms, whether the update was applied. */
export interface StepRecord {
  epoch: number;
  /** Global step, counted from 0 over the whole run. */
  step: number;
  /** L_i per task, in task order. */
  losses: number[];
  /** w_i used for this step, in task order. */
  weights: number[];
  /** Penalty of each regularizer by name. */
  regularizers: Record<string, number>;
  /** The minimised total: Σ w_i L_i + Σ regularizers. */
  total: number;
  /** Whether the update was applied (false when a non-finite step was skipped). */
  applied: boolean;
  /** Global L2 norm of the update before clipping, when the step computed it. */
  gradNorm?: number;
  /** With one dataset per task: the rows each task trained on at this step (0: it did not train). */
  rows?: number[];
  /** With a task sampler: the one task that trained at this step (the others' losses are NaN). */
  task?: string;
}

/** One epoch: the mean training losses and, with validation data, the validation losses and metrics per task. */
export interface EpochRecord {
  epoch: number;
  /** Mean training loss per task over the epoch's steps. */
  trainLoss: Record<string, number>;
  /** Validation loss per task, when validation data was given. */
  validationLoss?: Record<string, number>;
  /** Validation metrics per task, when validation data was given. */
  validationMetrics?: Record<string, Record<string, number>>;
  seconds: number;
}

/** Where a run trained: the backend, the device and when it started. */
export interface RunInfo {
  backend: string;
  device: string;
  startedAt: string;
}

/** What a training run leaves behind: a record per step and per epoch, as plain arrays and as danfo DataFrames. */
export class History {
  readonly steps: StepRecord[] = [];
  readonly epochs: EpochRecord[] = [];

  constructor(
    readonly taskNames: readonly string[],
    public run?: RunInfo,
  ) {}

  /** Jupyter: a summary table with the loss curves (lib/display/history.ts). */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return historyBundle(this);
  }

  [inspect.custom](): string {
    return String(historyBundle(this)["text/plain"]);
  }

  /** Steps at which each task trained, by task name. */
  get stepsSeen(): Record<string, number> {
    return Object.fromEntries(this.taskNames.map((t, i) => [t, this.steps.filter((s) => (s.rows ? s.rows[i] > 0 : true)).length]));
  }

  /** Examples each task trained on, by task name (with one dataset per task; else undefined rows count as 0). */
  get examplesSeen(): Record<string, number> {
    return Object.fromEntries(this.taskNames.map((t, i) => [t, this.steps.reduce((n, s) => n + (s.rows?.[i] ?? 0), 0)]));
  }

  /** Loss of one task at every step. */
  lossCurve(task: string): number[] {
    const i = this.taskIndex(task);
    return this.steps.map((s) => s.losses[i]);
  }

  /** Weight of one task at every step. */
  weightCurve(task: string): number[] {
    const i = this.taskIndex(task);
    return this.steps.map((s) => s.weights[i]);
  }

  /** A validation metric of one task at every epoch (undefined where not evaluated). */
  metricCurve(task: string, metric: string): Array<number | undefined> {
    return this.epochs.map((e) => e.validationMetrics?.[task]?.[metric]);
  }

  private taskIndex(task: string): number {
    const i = this.taskNames.indexOf(task);
    if (i < 0) throw new MtlError("History", `no task '${task}'; tasks are ${this.taskNames.join(", ")}.`);
    return i;
  }

  /** One row per step: epoch, step, loss.<task>, weight.<task>, total and regularizer columns. */
  stepRows(): Array<Record<string, number>> {
    return this.steps.map((s) => {
      const row: Record<string, number> = { epoch: s.epoch, step: s.step };
      this.taskNames.forEach((t, i) => {
        row[`loss.${t}`] = s.losses[i];
        row[`weight.${t}`] = s.weights[i];
      });
      for (const [name, v] of Object.entries(s.regularizers)) row[`reg.${name}`] = v;
      row.total = s.total;
      return row;
    });
  }

  /** One row per epoch: train and validation losses and validation metrics per task. */
  epochRows(): Array<Record<string, number>> {
    return this.epochs.map((e) => {
      const row: Record<string, number> = { epoch: e.epoch, seconds: e.seconds };
      for (const t of this.taskNames) {
        row[`train.${t}.loss`] = e.trainLoss[t];
        if (e.validationLoss) row[`val.${t}.loss`] = e.validationLoss[t];
        for (const [m, v] of Object.entries(e.validationMetrics?.[t] ?? {})) row[`val.${t}.${m}`] = v;
      }
      return row;
    });
  }

  /** The step records as a danfo DataFrame. */
  toDataFrame(): import("danfojs-node").DataFrame {
    return toFrame(this.stepRows());
  }

  /** The epoch records as a danfo DataFrame. */
  epochsDataFrame(): import("danfojs-node").DataFrame {
    return toFrame(this.epochRows());
  }

  toJSON(): { taskNames: readonly string[]; run?: RunInfo; steps: StepRecord[]; epochs: EpochRecord[] } {
    return { taskNames: this.taskNames, run: this.run, steps: this.steps, epochs: this.epochs };
  }
}

/** danfo is loaded only when a DataFrame is asked for: it is large and slow to import. */
export function toFrame(rows: Array<Record<string, unknown>>): import("danfojs-node").DataFrame {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const dfd = require("danfojs-node") as typeof import("danfojs-node");
  return new dfd.DataFrame(rows);
}
