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
import { nativeGlobalNorm } from "../../native/norm";
import { readAll, recordAsync, scopeAsync, unrecorded } from "../tape";
import { activeTasks, firstNonFinite, Forward, forward, presentTasks, SkipStep, StepInput, StepOutput } from "./types";
import { addGradients, applyUpdate, applyChecked, clippedTaskGradients, globalNorm, refuseNonFinite } from "./update";

export async function weightedStep(input: StepInput, weighting: Weighting, constant?: number[]): Promise<StepOutput> {
  const oneGo = constant && input.clipTaskNorm === undefined && weighting.variables().length === 0 && !weighting.afterStep;
  if (oneGo) return constantStep(input, constant);
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
async function constantStep(input: StepInput, constant: number[]): Promise<StepOutput> {
  const { model, tasks, regularizers } = input;
  const weights = constant.map((w, i) => (input.batch.part[i] < 0 ? 0 : w));
  let lossValues: number[] = new Array(tasks.length).fill(NaN);
  let regValues: number[] = [];
  let gradNorm: number | undefined;
  try {
    await scopeAsync(async () => {
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
      const native = nativeGlobalNorm(grads);
      const norm = native === undefined ? unrecorded(() => globalNorm(grads)) : undefined;
      const values = await readAll([losses, ...(penalties ? [penalties] : []), ...(norm ? [norm] : [])]);
      tf.dispose([losses, ...(penalties ? [penalties] : [])]);
      lossValues = Array.from(values[0], (v, i) => (input.batch.part[i] < 0 ? NaN : v));
      if (penalties) regValues = Array.from(values[1]);
      const bad = firstNonFinite(lossValues, activeTasks(input.batch));
      if (bad >= 0) {
        if (input.onNonFinite === "stop") throw new NonFiniteLossError(tasks[bad].name, input.step, lossValues[bad]);
        throw new SkipStep();
      }
      gradNorm = native ?? values[values.length - 1][0];
      if (!Number.isFinite(gradNorm)) await refuseNonFinite(input, grads, gradNorm);
      applyChecked(input, grads, gradNorm, input.variables);
    });
  } catch (e) {
    if (!(e instanceof SkipStep)) throw e;
    return { losses: lossValues, weights, regularizers: regValues, applied: false };
  }
  return { losses: lossValues, weights, regularizers: regValues, applied: true, gradNorm };
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
