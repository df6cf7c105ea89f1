/**
 * The steps in flight of a fit with a bounded lag (the Trainer's `lag` option): each was dispatched
 * with its update gated on the device (./gate.ts, steps/weighted.ts `dispatchConstantStep`) and
 * waits, in order, for its scalars to be read. The trainer settles the oldest when more than `lag`
 * are in flight and drains them all before anything that must see the trainer as it is (an epoch's
 * end, validation, a checkpoint, a stop or interrupt, a step that reads on the host, the end of fit).
 */
import * as tf from "@tensorflow/tfjs";
import { disposeBatch } from "./batches";
import { uncountStep } from "./gate";
import { DispatchedStep, GateChain } from "./steps/weighted";
import { StepBatch, StepOutput } from "./steps/types";

/** One step in flight: its dispatch, its batch (alive until read) and where it is in the epoch. */
export interface InFlightStep {
  step: DispatchedStep;
  batch: StepBatch;
  rows?: number[];
  /** The step's index in its epoch. */
  index: number;
}

export class StepPipeline {
  private readonly steps: InFlightStep[] = [];
  /** Steps read as not applied since the pipeline was last empty (the device's skipped count includes them). */
  private resolvedSkipped = 0;

  constructor(private readonly optimizer: tf.Optimizer) {}

  get size(): number {
    return this.steps.length;
  }

  /** What the next step's gate needs from the steps in flight. */
  chain(): GateChain {
    const last = this.steps[this.steps.length - 1];
    return {
      healthy: last?.step.healthy,
      skippedTotal: last?.step.skippedTotal,
      resolvedSkipped: this.resolvedSkipped,
      unconfirmed: this.steps.length,
    };
  }

  push(step: InFlightStep): void {
    this.steps.push(step);
  }

  /**
   * Reads the oldest step and frees it (with its batch); a step not applied is taken back from the
   * optimizer's step count. Throws the step's error (non-finite under "stop") after abandoning the
   * steps behind it, which its flag kept from applying.
   */
  async settle(): Promise<{ entry: InFlightStep; out: StepOutput }> {
    const entry = this.steps.shift()!;
    let out: StepOutput;
    try {
      out = await entry.step.resolve();
    } catch (e) {
      uncountStep(this.optimizer);
      disposeBatch(entry.batch);
      this.abandon();
      throw e;
    }
    disposeBatch(entry.batch);
    if (!out.applied) {
      uncountStep(this.optimizer);
      this.resolvedSkipped++;
    }
    if (this.steps.length === 0) this.resolvedSkipped = 0;
    return { entry, out };
  }

  /** Frees every step in flight without reading it (after an error); none of them counts as a step. */
  abandon(): void {
    for (const entry of this.steps.splice(0)) {
      entry.step.dispose();
      disposeBatch(entry.batch);
      uncountStep(this.optimizer);
    }
    this.resolvedSkipped = 0;
  }
}
