/**
 * The weighted update rule: one backward pass of L_total = Σ_i w_i L_i (+ the weighting method's own
 * parameter loss) + Σ_r R_r, with w chosen by a `Weighting` (static weights are `static(...)`).
 *
 * Order, on one tape kept open across awaited reads (../tape.ts): forward (z = encode(x),
 * outputs = decode(z, x)), the per-task losses and penalties read back with one await (for the
 * non-finite check, the history and the method), `await weighting.weigh(context)`, the weighted
 * total, its gradient w.r.t. the model's variables and the method's, then the update (update.ts);
 * then `weighting.afterStep` (FAMO). The context computes per-task gradient norms on demand by
 * differentiating L_i through the tape already recorded (only the path from W or z to L_i is
 * replayed, not the forward pass). Tasks that do not train at this step (a task sampler drew
 * another) have weight 0 and a NaN loss in the record.
 */
import * as tf from "@tensorflow/tfjs";
import { MtlError, NonFiniteLossError } from "../../errors";
import { AfterStepContext, GradientTarget, WeighContext, Weighting } from "../../weighting/types";
import { hostGlobalNorm } from "../../native/norm";
import { readAll, recordAsync, scopeAsync, unrecorded } from "../tape";
import { activeTasks, firstNonFinite, Forward, forward, presentTasks, SkipStep, StepInput, StepOutput } from "./types";
import { applyGated } from "../gate";
import {
  addGradients,
  applyUpdate,
  applyChecked,
  blameNonFinite,
  clipByNorm,
  clippedTaskGradients,
  globalNorm,
  refuseNonFinite,
} from "./update";

export async function weightedStep(input: StepInput, weighting: Weighting, constant?: number[]): Promise<StepOutput> {
  if (constant && isConstantStep(input, weighting)) return constantStep(input, constant);
  const { model, tasks, regularizers } = input;
  const k = tasks.length;
  const active = activeTasks(input.batch);
  let lossValues: number[] = new Array(k).fill(NaN);
  let weights: number[] = new Array(k).fill(NaN);
  let regValues: number[] = [];
  const own = weighting.variables();
  const varList = own.length > 0 ? [...input.variables, ...own] : input.variables;
  let applied = true;
  let gradNorm: number | undefined;
  // weigh() may advance the method's state (RLW's draw, GradNorm's initial losses); a step that is
  // then skipped for a non-finite gradient must leave it as it was.
  const stateBefore = input.onNonFinite === "skip" ? weighting.state() : null;
  let weighed = false;
  try {
    await recordAsync(async () => {
      const fwd = forward(input);
      const penalties = regularizers.length > 0 ? tf.stack(regularizers.map((r) => r.penalty(model))) : undefined;
      const [read, readPenalties] = await readAll(penalties ? [fwd.losses, penalties] : [fwd.losses]);
      lossValues = Array.from(read, (v, i) => (input.batch.part[i] < 0 ? NaN : v));
      if (readPenalties) regValues = Array.from(readPenalties);
      const bad = firstNonFinite(lossValues, active);
      if (bad >= 0) {
        if (input.onNonFinite === "stop") throw new NonFiniteLossError(tasks[bad].name, input.step, lossValues[bad]);
        throw new SkipStep();
      }
      weighed = true;
      const chosen = await weighting.weigh(weighContext(input, weighting, fwd, lossValues));
      checkWeights(weighting.name, chosen, k);
      weights = chosen.map((w, i) => (input.batch.part[i] < 0 ? 0 : w));
      let total = tf.sum(tf.mul(fwd.losses, tf.tensor1d(weights))) as tf.Scalar;
      let taskGrads: tf.NamedTensorMap | undefined;
      if (input.clipTaskNorm !== undefined) {
        // Per-task clipping: the task terms' gradients come clipped from the recorded tape; the
        // total keeps only a zero-weighted link to them (so the method's parameters stay connected).
        taskGrads = await clippedTaskGradients(fwd.losses, weights, varList, input.clipTaskNorm);
        total = tf.mul(0, total);
      }
      if (weighting.parameterLoss) {
        total = tf.add(
          total,
          weighting.parameterLoss(tf.tensor1d(lossValues.map((l, i) => (input.batch.part[i] < 0 ? 0 : l))), presentTasks(input.batch)),
        );
      }
      if (penalties) total = tf.add(total, tf.sum(penalties));
      const { grads } = unrecorded(() => tf.variableGrads(() => total, varList));
      gradNorm = await applyUpdate(input, taskGrads ? addGradients(grads, taskGrads) : grads, varList);
      if (gradNorm === undefined) throw new SkipStep();
    });
  } catch (e) {
    if (!(e instanceof SkipStep)) throw e;
    applied = false;
    if (stateBefore && weighed) weighting.loadState(stateBefore);
  }
  if (applied && weighting.afterStep) await weighting.afterStep(afterContext(input, lossValues));
  return { losses: lossValues, weights: [...weights], regularizers: regValues, applied, gradNorm };
}

/**
 * Weights that depend on nothing (equal, static): the forward and backward passes run in one go,
 * as one tf.variableGrads, and the losses, penalties and gradient norm come back with one awaited
 * read; the update is applied only if all are finite. No tape stays open across the await.
 */
export async function constantStep(input: StepInput, constant: number[]): Promise<StepOutput> {
  const { tasks } = input;
  const weights = constant.map((w, i) => (input.batch.part[i] < 0 ? 0 : w));
  let lossValues: number[] = new Array(tasks.length).fill(NaN);
  let regValues: number[] = [];
  let gradNorm: number | undefined;
  try {
    await scopeAsync(async () => {
      const { grads, losses, penalties } = constantGradients(input, weights);
      const hostNorm = hostGlobalNorm(grads);
      const norm = hostNorm === undefined ? unrecorded(() => globalNorm(grads)) : undefined;
      const values = await readAll([losses, ...(penalties ? [penalties] : []), ...(norm ? [norm] : [])]);
      tf.dispose([losses, ...(penalties ? [penalties] : [])]);
      lossValues = Array.from(values[0], (v, i) => (input.batch.part[i] < 0 ? NaN : v));
      if (penalties) regValues = Array.from(values[1]);
      const bad = firstNonFinite(lossValues, activeTasks(input.batch));
      if (bad >= 0) {
        if (input.onNonFinite === "stop") throw new NonFiniteLossError(tasks[bad].name, input.step, lossValues[bad]);
        throw new SkipStep();
      }
      gradNorm = hostNorm ?? values[values.length - 1][0];
      if (!Number.isFinite(gradNorm)) await refuseNonFinite(input, grads, gradNorm);
      applyChecked(input, grads, gradNorm, input.variables);
    });
  } catch (e) {
    if (!(e instanceof SkipStep)) throw e;
    return { losses: lossValues, weights, regularizers: regValues, applied: false };
  }
  return { losses: lossValues, weights, regularizers: regValues, applied: true, gradNorm };
}

/**
 * Whether a weighted step with constant weights runs in one go (no host read needed before its
 * update): no per-task clipping, no method parameters, nothing after the step.
 */
export function isConstantStep(input: Pick<StepInput, "clipTaskNorm">, weighting: Weighting): boolean {
  return input.clipTaskNorm === undefined && weighting.variables().length === 0 && !weighting.afterStep;
}

/** What a step dispatched with lag needs from the steps still in flight before it (../pipeline.ts). */
export interface GateChain {
  /** The last step in flight's own flag: under onNonFinite "stop" a step after a non-finite one is never applied. */
  healthy?: tf.Tensor;
  /** Under "skip": how many steps since the pipeline was last empty were not applied (float32 scalar, on the device). */
  skippedTotal?: tf.Tensor;
  /** How many of those the host has already read (and taken back from the optimizer's step count). */
  resolvedSkipped: number;
  /** Steps in flight, counted by the optimizer, not yet read. */
  unconfirmed: number;
}

/** A constant-weight step dispatched with its update gated on the device; its scalars are read by `resolve`. */
export interface DispatchedStep {
  /** Bool scalar: the update was applied (kept until resolved: the next step's chain uses it). */
  healthy: tf.Tensor;
  /** Under "skip": the chain's skipped count including this step. */
  skippedTotal?: tf.Tensor;
  /**
   * Reads the losses, penalties and norm (one awaited read each, issued together), frees the step's
   * tensors and gives its output, or throws the error the same step throws without lag. The batch
   * must still be alive (a non-finite gradient is traced back to its variable and task from it).
   */
  resolve(): Promise<StepOutput>;
  /** Frees the step's tensors without reading them (a step abandoned after an earlier one stopped training). */
  dispose(): void;
}

/** The forward and backward pass of a constant-weight step; losses and penalties are kept outside any scope. */
function constantGradients(
  input: StepInput,
  weights: number[],
): { grads: tf.NamedTensorMap; losses: tf.Tensor1D; penalties?: tf.Tensor1D } {
  const { model, regularizers } = input;
  let losses!: tf.Tensor1D;
  let penalties: tf.Tensor1D | undefined;
  const { grads } = tf.variableGrads(() => {
    losses = tf.keep(forward(input).losses);
    let total = tf.sum(tf.mul(losses, tf.tensor1d(weights))) as tf.Scalar;
    if (regularizers.length > 0) {
      penalties = tf.keep(tf.stack(regularizers.map((r) => r.penalty(model))) as tf.Tensor1D);
      total = tf.add(total, tf.sum(penalties));
    }
    return total;
  }, input.variables);
  return { grads, losses, penalties };
}

/**
 * The constant-weight step without a host read before its update (the trainer's bounded lag): the
 * forward and backward passes, the global norm and `healthy` = every loss finite ∧ the norm finite
 * (∧ the previous step in flight healthy, under "stop") on the device, clipping on the device
 * (scale min(1, c/‖g‖)), and the update gated on `healthy` (../gate.ts). Nothing is read here: the
 * returned step reads its scalars when the trainer awaits them, possibly after later steps were
 * dispatched. Same results as `constantStep`: the same update where it applies, none where it
 * does not, the same errors and records.
 */
export function dispatchConstantStep(input: StepInput, constant: number[], chain: GateChain): DispatchedStep {
  const weights = constant.map((w, i) => (input.batch.part[i] < 0 ? 0 : w));
  const stop = input.onNonFinite === "stop";
  let hostNorm: number | undefined; // the norm as the step without lag has it, where a host kernel forms it
  const kept = tf.tidy(() => {
    const { grads, losses, penalties } = constantGradients(input, weights);
    hostNorm = hostGlobalNorm(grads);
    const norm = hostNorm === undefined ? globalNorm(grads) : tf.scalar(hostNorm);
    let healthy = tf.logicalAnd(tf.all(tf.isFinite(losses)), tf.isFinite(norm));
    if (stop && chain.healthy) healthy = tf.logicalAnd(healthy, chain.healthy);
    let clipped = grads;
    const c = input.clipNorm;
    if (c !== undefined) {
      if (hostNorm !== undefined) {
        // The norm is known on the host here: clip exactly as the step without lag does.
        if (Number.isFinite(hostNorm)) clipped = clipByNorm(grads, hostNorm, c);
      } else {
        const scale = tf.where(tf.greater(norm, c), tf.div(c, norm), tf.onesLike(norm));
        clipped = {};
        for (const [name, g] of Object.entries(grads)) clipped[name] = tf.mul(g, scale);
      }
    }
    const ordered: Record<string, tf.Tensor | null> = {};
    for (const v of input.variables) ordered[v.name] = clipped[v.name] ?? null;
    const pending = chain.skippedTotal && chain.unconfirmed > 0 ? tf.sub(chain.skippedTotal, chain.resolvedSkipped) : undefined;
    applyGated(input.optimizer, ordered as tf.NamedTensorMap, healthy, pending, chain.unconfirmed);
    const skippedTotal = stop ? undefined : tf.add(chain.skippedTotal ?? tf.scalar(0), tf.sub(1, tf.cast(healthy, "float32")));
    return { losses, penalties, norm, healthy, skippedTotal };
  });
  const own = (): tf.Tensor[] => [
    kept.losses,
    kept.norm,
    kept.healthy,
    ...(kept.penalties ? [kept.penalties] : []),
    ...(kept.skippedTotal ? [kept.skippedTotal] : []),
  ];
  const dispose = () => tf.dispose(own());
  return {
    healthy: kept.healthy,
    skippedTotal: kept.skippedTotal,
    dispose,
    async resolve(): Promise<StepOutput> {
      let values: Array<Float32Array | Int32Array | Uint8Array>;
      try {
        values = await readAll([kept.losses, ...(kept.penalties ? [kept.penalties] : []), kept.norm]);
      } finally {
        dispose();
      }
      const lossValues = Array.from(values[0], (v, i) => (input.batch.part[i] < 0 ? NaN : v));
      const regValues = kept.penalties ? Array.from(values[1]) : [];
      const bad = firstNonFinite(lossValues, activeTasks(input.batch));
      if (bad >= 0) {
        if (stop) throw new NonFiniteLossError(input.tasks[bad].name, input.step, lossValues[bad]);
        return { losses: lossValues, weights, regularizers: regValues, applied: false };
      }
      const gradNorm = hostNorm ?? values[values.length - 1][0];
      if (!Number.isFinite(gradNorm)) {
        if (!stop) return { losses: lossValues, weights, regularizers: regValues, applied: false };
        // Under "stop" nothing after the previous step was applied: the parameters are the ones this
        // step saw, so its gradient is formed again to name the variable and the task.
        let error!: Error;
        await scopeAsync(async () => {
          const { grads, losses, penalties } = constantGradients(input, weights);
          tf.dispose([losses, ...(penalties ? [penalties] : [])]);
          error = await blameNonFinite(input, grads, gradNorm);
        });
        throw error;
      }
      return { losses: lossValues, weights, regularizers: regValues, applied: true, gradNorm };
    },
  };
}

async function readNumbers(t: tf.Tensor): Promise<number[]> {
  try {
    return Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

function weighContext(input: StepInput, weighting: Weighting, fwd: Forward, values: number[]): WeighContext {
  const norms = new Map<GradientTarget, Promise<number[]>>();
  let metrics: Promise<Array<Record<string, number>>> | undefined;
  return {
    step: input.step,
    epoch: input.epoch,
    losses: values,
    present: presentTasks(input.batch),
    lossTensor: fwd.losses,
    async gradientNorms(target: GradientTarget): Promise<number[]> {
      let cached = norms.get(target);
      if (!cached) {
        cached = readNumbers(target === "representation" ? representationNorms(input, fwd) : lastLayerNorms(input, fwd, weighting.name));
        norms.set(target, cached);
      }
      return [...(await cached)];
    },
    async batchMetrics(): Promise<Array<Record<string, number>>> {
      metrics ??= Promise.all(
        input.tasks.map(async (task, i) => {
          const output = fwd.taskOutputs[i];
          if (!output) return {};
          const rows = output.shape[0];
          const [out, target] = await Promise.all([output.data(), input.batch.targets[i]!.data()]);
          return task.metrics(task.decode(out as Float32Array, rows), target);
        }),
      );
      return (await metrics).map((m) => ({ ...m }));
    },
  };
}

/**
 * ‖∂L_i/∂z‖ (Frobenius, over the batch) by differentiating through the recorded tape, as a [k]
 * tensor. Each L_i is the task's own scalar (not a slice of the stacked losses), so only task i's
 * head is replayed.
 */
function representationNorms(input: StepInput, fwd: Forward): tf.Tensor1D {
  return tf.tidy(
    () =>
      tf.stack(
        fwd.taskLosses.map((loss, i) => {
          if (!loss) return tf.scalar(0);
          const [g] = tf.grads(() => tf.add(loss, 0) as tf.Scalar)([fwd.zs[input.batch.part[i]]]);
          return tf.norm(g);
        }),
      ) as tf.Tensor1D,
  );
}

/** ‖∂L_i/∂W‖ for W the last shared kernel (the last shared variable named "…kernel"), as a [k] tensor. */
function lastLayerNorms(input: StepInput, fwd: Forward, method: string): tf.Tensor1D {
  const shared = input.model.sharedVariables();
  const kernels = shared.filter(([name]) => name === "kernel" || name.endsWith(".kernel"));
  const chosen = kernels.length > 0 ? kernels[kernels.length - 1] : undefined;
  if (!chosen) {
    throw new MtlError(
      `weighting.${method}`,
      `the model's shared variables (${shared.map(([n]) => n).join(", ") || "none"}) have no kernel; use option target: "representation".`,
    );
  }
  const W = chosen[1];
  return tf.tidy(
    () =>
      tf.stack(
        fwd.taskLosses.map((loss) => {
          if (!loss) return tf.scalar(0);
          const { grads } = tf.variableGrads(() => tf.add(loss, 0) as tf.Scalar, [W]);
          const g = grads[W.name];
          return g ? tf.norm(g) : tf.scalar(0);
        }),
      ) as tf.Tensor1D,
  );
}

function afterContext(input: StepInput, before: number[]): AfterStepContext {
  let after: Promise<number[]> | undefined;
  return {
    losses: before,
    async lossesAfter(): Promise<number[]> {
      after ??= readNumbers(tf.tidy(() => forward(input).losses)).then((v) => v.map((l, i) => (input.batch.part[i] < 0 ? NaN : l)));
      return [...(await after)];
    },
  };
}

function checkWeights(method: string, weights: unknown, k: number): asserts weights is number[] {
  if (!Array.isArray(weights) || weights.length !== k || !weights.every((w) => typeof w === "number" && Number.isFinite(w))) {
    throw new MtlError(`weighting.${method}`, `weigh must return ${k} finite weights (one per task), got ${JSON.stringify(weights)}.`);
  }
}
