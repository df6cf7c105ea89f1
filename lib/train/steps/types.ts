/**
 * A step strategy computes and applies one update from a batch. The trainer owns the loop, the
 * history and the progress; a strategy owns how the update is formed:
 * - `weightedStep` (weighted.ts): one backward pass of Σ_i w_i L_i + Σ_r R_r (static weights or a
 *   loss-weighting method);
 * - gradient aggregation (per-task gradients combined by an aggregator) lives beside it.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../../architectures/types";
import { Regularizer } from "../../regularizers";
import { Task } from "../../tasks/task";

export interface StepInput {
  model: MultiTaskModel;
  tasks: Task[];
  optimizer: tf.Optimizer;
  regularizers: Regularizer[];
  /** All trainable variables, shared first. */
  variables: tf.Variable[];
  x: tf.Tensor2D;
  targets: tf.Tensor[];
  /** Global step and epoch, for methods that depend on them. */
  step: number;
  epoch: number;
  onNonFinite: "stop" | "skip";
  /** Clip the whole update to this global norm. */
  clipNorm?: number;
  /** Clip each task's gradient to this norm before they are combined. */
  clipTaskNorm?: number;
}

export interface StepOutput {
  /** L_i per task. */
  losses: number[];
  /** w_i used (for aggregators: the effective weights where the method has them, else 1/k… as documented). */
  weights: number[];
  /** Penalty per regularizer, in the order given. */
  regularizers: number[];
  /** Whether the update was applied. */
  applied: boolean;
  /** Global norm of the update before clipping (when it was applied). */
  gradNorm?: number;
}

export function firstNonFinite(values: ArrayLike<number>): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}
