/**
 * What a step works on and gives back. The trainer owns the loop, the history and the progress;
 * an update rule (weighted.ts, aggregated.ts, with fusedMlp.ts as the weighted rule's fast path)
 * owns how one update is formed from a batch, and update.ts how it is checked and applied.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../../architectures/types";
import { Regularizer } from "../../regularizers";
import { Task } from "../../tasks/task";
import { selectRows } from "../maskedBatch";
import { NonFinitePolicy } from "../validate";

/**
 * One step's data. From one dataset: one input, every task's targets. From one dataset per task:
 * one input per trained task (the tasks a sampler drew, or all of them), each task's loss on its own.
 */
export interface StepBatch {
  xs: tf.Tensor2D[];
  /** Per task, its targets, or undefined when the task does not train at this step. */
  targets: Array<tf.Tensor | undefined>;
  /** Per task, the index in `xs` of its input, or -1 when it does not train at this step. */
  part: number[];
  /**
   * Per task, the positions (int32) in its input of the rows that carry its label, when some do
   * not (label masks); `targets[i]` then holds those rows only. Undefined: every row is labelled.
   * A task with no labelled row in the batch does not train at this step (part -1).
   */
  rows?: Array<tf.Tensor1D | undefined>;
}

export interface StepInput {
  model: MultiTaskModel;
  tasks: Task[];
  optimizer: tf.Optimizer;
  regularizers: Regularizer[];
  /** All trainable variables, shared first: the order the optimizer's slots follow. */
  variables: tf.Variable[];
  batch: StepBatch;
  /** Global step and epoch, for methods that depend on them. */
  step: number;
  epoch: number;
  onNonFinite: NonFinitePolicy;
  /** Clip the whole update to this global norm. */
  clipNorm?: number;
  /** Clip each task's gradient to this norm before they are combined. */
  clipTaskNorm?: number;
}

export interface StepOutput {
  /** L_i per task (NaN for a task that did not train at this step). */
  losses: number[];
  /** w_i used (for aggregators: the effective weights where the method has them, else 1). */
  weights: number[];
  /** Penalty per regularizer, in the order given. */
  regularizers: number[];
  /** Whether the update was applied. */
  applied: boolean;
  /** Global norm of the update before clipping (when it was applied). */
  gradNorm?: number;
}

/** Thrown inside a step to abandon it (a non-finite loss or gradient under onNonFinite "skip"). */
export class SkipStep extends Error {}

/** The first index among `among` whose value is not finite, or -1. */
export function firstNonFinite(values: ArrayLike<number>, among?: readonly number[]): number {
  for (const i of among ?? Array.from({ length: values.length }, (_, j) => j)) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/** The tasks that train at this step. */
export function activeTasks(batch: StepBatch): number[] {
  return batch.part.flatMap((p, i) => (p >= 0 ? [i] : []));
}

/** Per task, whether it trains at this step (has labelled rows in it and was not left out by a sampler). */
export function presentTasks(batch: StepBatch): boolean[] {
  return batch.part.map((p) => p >= 0);
}

export interface Forward {
  /** z per input. */
  zs: tf.Tensor2D[];
  /** The model's outputs per input. */
  outputs: tf.Tensor2D[][];
  /** Per task, the outputs its loss is taken on: its labelled rows (undefined where it does not train). */
  taskOutputs: Array<tf.Tensor2D | undefined>;
  /** L_i per task (undefined where the task does not train). */
  taskLosses: Array<tf.Scalar | undefined>;
  /** [k] losses, 0 where a task does not train. */
  losses: tf.Tensor1D;
}

/** The forward pass of a step (record it on a tape to differentiate it). */
export function forward(input: StepInput, training = true): Forward {
  const { model, tasks, batch } = input;
  const zs = batch.xs.map((x) => model.encode(x, training));
  const outputs = zs.map((z, p) => model.decode(z, batch.xs[p], training));
  const taskOutputs = tasks.map((_, i) => {
    if (batch.part[i] < 0) return undefined;
    const out = outputs[batch.part[i]][i];
    const rows = batch.rows?.[i];
    return rows ? selectRows(out, rows) : out;
  });
  const taskLosses = tasks.map((t, i) => (taskOutputs[i] ? t.loss(taskOutputs[i]!, batch.targets[i]!) : undefined));
  const losses = tf.stack(taskLosses.map((l) => l ?? tf.scalar(0))) as tf.Tensor1D;
  return { zs, outputs, taskOutputs, taskLosses, losses };
}
