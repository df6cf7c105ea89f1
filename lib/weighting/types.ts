/**
 * The contract of a loss-weighting method. Each step the trainer minimises
 *
 *   L_total = Σ_i w_i L_i  (+ the method's own parameter loss, + regularizers)
 *
 * with one backward pass. A method is a typed value chosen by value
 * (`new mtl.Trainer({ ..., weighting: mtl.weighting.uncertainty() })`); its life in a run:
 *
 *   bind(setup)                once, when the trainer is built: checks k, creates variables
 *   weigh(context) → w         every step, inside the gradient tape, after the forward pass (may be async)
 *   afterStep?(context)        every applied step, after the optimizer's update (FAMO)
 *   endEpoch?(meanLosses)      at the end of every epoch of `fit` (DWA, STCH)
 *   state() / loadState(s)     JSON-able state for checkpoints
 *
 * The weights returned by `weigh` are the ones the model's gradient uses, g = Σ_i w_i ∇L_i: for a
 * method written as a non-linear objective F(L_1..L_k) (GLS, STCH, FAMO's log-losses) they are
 * w_i = ∂F/∂L_i at the current losses, which gives exactly F's gradient. Methods with learnable
 * scalars (uncertainty's log σ², IMTL-L's s) expose them in `variables()` and a `parameterLoss`
 * on the detached losses, so the trainer's optimizer trains them in the same step.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { Task } from "../tasks/task";

/** What GradNorm-style methods differentiate: the last shared layer's kernel W, or the shared representation z. */
export type GradientTarget = "lastSharedLayer" | "representation";

/** What a weighting method is bound to before training: the tasks and the model. */
export interface WeightingSetup {
  tasks: readonly Task[];
  model: MultiTaskModel;
}

/**
 * What a weighting method sees at each step: the losses (as numbers and inside the tape), and on demand the
 * per-task gradient norms and batch metrics.
 */
export interface WeighContext {
  /** The trainer's global step. Methods that count epochs or steps keep their own count in their state. */
  readonly step: number;
  /** The trainer's epoch of this step. */
  readonly epoch: number;
  /** L_i at the current parameters on this batch (NaN for a task that is not present). */
  readonly losses: readonly number[];
  /**
   * Per task, whether it has a loss at this step. A task is absent when its labels are masked on
   * every row of the batch (docs/missing-labels.md); its weight is then ignored (the trainer uses 0),
   * and a method keeps that task's history as it was (see each method's file).
   */
  readonly present?: readonly boolean[];
  /** The same losses as a [k] tensor inside the gradient tape (differentiable w.r.t. the model). */
  readonly lossTensor: tf.Tensor1D;
  /** ‖∇ L_i‖₂ per task w.r.t. the last shared kernel or the shared representation; computed on first use (an awaited read). */
  gradientNorms(target: GradientTarget): Promise<number[]>;
  /** Every metric of every task on this batch (decoded predictions vs targets); computed on first use (an awaited read). */
  batchMetrics(): Promise<Array<Record<string, number>>>;
}

/** What a weighting method sees after the update: the losses before it and, on demand, after it on the same batch. */
export interface AfterStepContext {
  /** The losses the step was weighed with (before the update). */
  readonly losses: readonly number[];
  /** L_i on the same batch at the updated parameters (one extra forward pass, computed on first use). */
  lossesAfter(): Promise<number[]>;
}

/**
 * A loss-weighting method: the k weights of each step's Σ w_i L_i, with state that checkpoints carry. The
 * trainer's `weighting` option takes one; `mtl.weighting.*` build them.
 */
export interface Weighting<O extends object = object> {
  readonly name: string;
  /** The hyperparameters, with the paper's defaults filled in. */
  readonly options: Readonly<O>;
  /** Checks the method against the tasks (weight counts, KPIs) and creates its variables. */
  bind(setup: WeightingSetup): void;
  /**
   * The k weights of this step's Σ w_i L_i. Called inside the gradient tape, once per step; a method
   * that reads tensors returns a promise and awaits them (never dataSync: WebGPU reads only async).
   */
  weigh(context: WeighContext): number[] | Promise<number[]>;
  /** Learnable scalars trained by the trainer's optimizer (empty for most methods). */
  variables(): tf.Variable[];
  /**
   * A scalar whose gradient w.r.t. `variables()` is the method's objective's (losses detached).
   * `present` (all true when omitted) marks the tasks with a loss at this step: an absent task's
   * terms are left out, so its learnable scalar gets no gradient from the step.
   */
  parameterLoss?(detachedLosses: tf.Tensor1D, present?: readonly boolean[]): tf.Scalar;
  afterStep?(context: AfterStepContext): void | Promise<void>;
  /** Mean training loss per task over the epoch that just ended (NaN for a task no step of the epoch trained). */
  endEpoch?(meanLosses: readonly number[]): void;
  state(): WeightingState;
  /** The same with awaited reads, for a method whose state lives in tensors (checkpoints use it). */
  stateAsync?(): Promise<WeightingState>;
  loadState(state: unknown): void;
  dispose?(): void;
}

/** JSON-able state: the method's name plus its own fields. */
export type WeightingState = { method: string } & Record<string, unknown>;
