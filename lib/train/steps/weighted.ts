/**
 * The loss-weighted step: one backward pass of L_total = Σ_i w_i L_i (+ the weighting method's own
 * parameter loss) + Σ_r R_r, with w chosen by a `Weighting` (static weights are `static(...)`).
 *
 * Order inside one tf.tidy and one gradient tape: forward (z = encode(x), outputs = decode(z, x)),
 * the per-task losses read back once (for the non-finite check, the history and the method),
 * `weighting.weigh(context)`, the weighted total, its gradient w.r.t. the model's variables and the
 * method's, the update; then `weighting.afterStep` (FAMO) outside the tape. The context computes
 * per-task gradient norms on demand by differentiating L_i through the tape already recorded
 * (only the path from W or z to L_i is replayed, not the forward pass).
 */
import * as tf from "@tensorflow/tfjs";
import { MtlError, NonFiniteLossError } from "../../errors";
import { AfterStepContext, GradientTarget, WeighContext, Weighting } from "../../weighting/types";
import { firstNonFinite, StepInput, StepOutput } from "./types";
import { addGradients, applyUpdate, clippedTaskGradients } from "./update";

/** Thrown inside the tape to abandon a step whose loss is not finite when onNonFinite is "skip". */
class SkipStep extends Error {}

export function weightedStep(input: StepInput, weighting: Weighting): StepOutput {
  const { model, tasks, regularizers, x, targets } = input;
  const k = tasks.length;
  let lossValues: number[] = [];
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
    tf.tidy(() => {
      let taskGrads: tf.NamedTensorMap | undefined;
      const { grads } = tf.variableGrads(() => {
        const z = model.encode(x, true);
        const outputs = model.decode(z, x, true);
        const taskLosses = tasks.map((t, i) => t.loss(outputs[i], targets[i]));
        const losses = tf.stack(taskLosses) as tf.Tensor1D;
        lossValues = Array.from(losses.dataSync());
        const bad = firstNonFinite(lossValues);
        if (bad >= 0) {
          if (input.onNonFinite === "stop") throw new NonFiniteLossError(tasks[bad].name, input.step, lossValues[bad]);
          throw new SkipStep();
        }
        weighed = true;
        weights = weighting.weigh(weighContext(input, weighting, losses, taskLosses, lossValues, z, outputs));
        checkWeights(weighting.name, weights, k);
        let total = tf.sum(tf.mul(losses, tf.tensor1d(weights))) as tf.Scalar;
        if (input.clipTaskNorm !== undefined) {
          // Per-task clipping: the task terms' gradients come clipped from the recorded tape; the
          // returned total keeps only a zero-weighted link to them (so the tape stays connected).
          taskGrads = clippedTaskGradients(losses, weights, varList, input.clipTaskNorm);
          for (const g of Object.values(taskGrads)) tf.keep(g); // outlive the tape's scope; disposed below
          total = tf.mul(0, total);
        }
        if (weighting.parameterLoss) total = tf.add(total, weighting.parameterLoss(tf.tensor1d(lossValues)));
        if (regularizers.length > 0) {
          const penalties = tf.stack(regularizers.map((r) => r.penalty(model)));
          regValues = Array.from(penalties.dataSync());
          total = tf.add(total, tf.sum(penalties));
        }
        return total;
      }, varList);
      const update = taskGrads ? addGradients(grads, taskGrads) : grads;
      try {
        gradNorm = applyUpdate(input, update);
      } finally {
        if (taskGrads) tf.dispose(Object.values(taskGrads));
      }
      if (gradNorm === undefined) throw new SkipStep();
    });
  } catch (e) {
    if (!(e instanceof SkipStep)) throw e;
    applied = false;
    if (stateBefore && weighed) weighting.loadState(stateBefore);
  }
  if (applied && weighting.afterStep) weighting.afterStep(afterContext(input, lossValues));
  return { losses: lossValues, weights: [...weights], regularizers: regValues, applied, gradNorm };
}

function weighContext(input: StepInput, weighting: Weighting, losses: tf.Tensor1D, taskLosses: tf.Scalar[], values: number[], z: tf.Tensor2D, outputs: tf.Tensor2D[]): WeighContext {
  const norms = new Map<GradientTarget, number[]>();
  let metrics: Array<Record<string, number>> | undefined;
  return {
    step: input.step,
    epoch: input.epoch,
    losses: values,
    lossTensor: losses,
    gradientNorms(target: GradientTarget): number[] {
      let cached = norms.get(target);
      if (!cached) {
        cached = target === "representation" ? representationNorms(taskLosses, z) : lastLayerNorms(input, taskLosses, weighting.name);
        norms.set(target, cached);
      }
      return [...cached];
    },
    batchMetrics(): Array<Record<string, number>> {
      if (!metrics) {
        const rows = input.x.shape[0];
        metrics = input.tasks.map((task, i) => {
          const decoded = task.decode(outputs[i].dataSync() as Float32Array, rows);
          return task.metrics(decoded, input.targets[i].dataSync());
        });
      }
      return metrics.map((m) => ({ ...m }));
    },
  };
}

/**
 * ‖∂L_i/∂z‖ (Frobenius, over the batch) by differentiating through the recorded tape. Each L_i is
 * the task's own scalar (not a slice of the stacked losses), so only task i's head is replayed.
 */
function representationNorms(taskLosses: tf.Scalar[], z: tf.Tensor2D): number[] {
  return taskLosses.map((loss) =>
    tf.tidy(() => {
      const [g] = tf.grads(() => tf.add(loss, 0) as tf.Scalar)([z]);
      return tf.norm(g).dataSync()[0];
    }),
  );
}

/** ‖∂L_i/∂W‖ for W the last shared kernel (the last shared variable named "…kernel"). */
function lastLayerNorms(input: StepInput, taskLosses: tf.Scalar[], method: string): number[] {
  const shared = input.model.sharedVariables();
  const kernels = shared.filter(([name]) => name === "kernel" || name.endsWith(".kernel"));
  const chosen = kernels.length > 0 ? kernels[kernels.length - 1] : undefined;
  if (!chosen) {
    throw new MtlError(`weighting.${method}`, `the model's shared variables (${shared.map(([n]) => n).join(", ") || "none"}) have no kernel; use option target: "representation".`);
  }
  const W = chosen[1];
  return taskLosses.map((loss) =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.add(loss, 0) as tf.Scalar, [W]);
      const g = grads[W.name];
      return g ? tf.norm(g).dataSync()[0] : 0;
    }),
  );
}

function afterContext(input: StepInput, before: number[]): AfterStepContext {
  let after: number[] | undefined;
  return {
    losses: before,
    lossesAfter(): number[] {
      if (!after) {
        after = tf.tidy(() => {
          const outputs = input.model.forward(input.x, true);
          return Array.from(tf.stack(input.tasks.map((t, i) => t.loss(outputs[i], input.targets[i]))).dataSync());
        });
      }
      return [...after];
    },
  };
}

function checkWeights(method: string, weights: unknown, k: number): asserts weights is number[] {
  if (!Array.isArray(weights) || weights.length !== k || !weights.every((w) => typeof w === "number" && Number.isFinite(w))) {
    throw new MtlError(`weighting.${method}`, `weigh must return ${k} finite weights (one per task), got ${JSON.stringify(weights)}.`);
  }
}
