/**
 * The gradient-aggregation step: per-task gradients combined by an aggregator (PCGrad, MGDA, …).
 *
 * One forward pass (z = encode(x), outputs = decode(z, x)) is recorded on the tape; the losses are
 * read back and checked; then k backward passes from it (see ../jacobian.ts):
 *   "param": J = [∂L_i/∂θ_s]_i (k × |θ_s|), d = A(J) is θ_s's update;
 *   "rep":   J = [∂L_i/∂z]_i (k × batch·width), d = A(J) reshaped to z's shape is back-propagated
 *            through the trunk once: θ_s's update is (∂z/∂θ_s)ᵀ d (MGDA-UB, LibMTL's rep mode).
 * Each head θ_i gets its own task's gradient ∂L_i/∂θ_i, unweighted (the aggregators balance the
 * shared part). Regularizers add their gradient to every variable they touch. With clipTaskNorm c,
 * task i's row and head gradient are scaled by min(1, c / ||(row_i, head_i)||) before aggregation.
 * Non-finite losses and Jacobian rows are refused naming the task (or the step is skipped with
 * onNonFinite "skip"); the aggregator is not called, so its state is untouched by a skipped step.
 * StepOutput.weights records the aggregator's effective weights (d = Jᵀw) where it has them,
 * else 1 per task (each method's file says what its `lastWeights` holds).
 */
import * as tf from "@tensorflow/tfjs";
import { Aggregator, Level } from "../../aggregators/types";
import { NonFiniteLossError } from "../../errors";
import { recordOnce, splitUpdate, taskGradients, vjp } from "../jacobian";
import { firstNonFinite, StepInput, StepOutput } from "./types";
import { applyUpdate, NonFiniteGradientError } from "./update";

class SkipStep extends Error {}

export function aggregatedStep(input: StepInput, aggregator: Aggregator, level: Level): StepOutput {
  const { model, tasks, regularizers, x, targets } = input;
  const k = tasks.length;
  const taskNames = tasks.map((t) => t.name);
  const shared = model.sharedVariables().map(([, v]) => v);
  const taskVars = tasks.map((_, i) => model.taskVariables(i).map(([, v]) => v));
  let lossValues: number[] = [];
  let regValues: number[] = [];
  let weights: number[] = new Array(k).fill(NaN);
  let applied = true;
  let gradNorm: number | undefined;
  try {
    tf.tidy(() => {
      const update = recordOnce(x, () => {
        const z = model.encode(x, true);
        const outputs = model.decode(z, x, true);
        const losses = tasks.map((t, i) => t.loss(outputs[i], targets[i]));
        lossValues = Array.from(tf.stack(losses).dataSync());
        const bad = firstNonFinite(lossValues);
        if (bad >= 0) {
          if (input.onNonFinite === "stop") throw new NonFiniteLossError(tasks[bad].name, input.step, lossValues[bad]);
          throw new SkipStep();
        }
        let { jacobian, heads } = taskGradients(level, losses, shared, taskVars, z);
        const rowBad = tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(jacobian)), 1).dataSync());
        const badRow = rowBad.findIndex((b) => b !== 0);
        if (badRow >= 0) {
          if (input.onNonFinite === "skip") throw new SkipStep();
          throw new NonFiniteGradientError(taskNames[badRow], input.step, level === "param" ? "the shared parameters" : "the shared representation", NaN);
        }
        if (input.clipTaskNorm !== undefined) ({ jacobian, heads } = clipTasks(jacobian, heads, input.clipTaskNorm));
        const direction = aggregator.aggregate(jacobian, { taskNames, losses: lossValues, level, representation: z, rowsChecked: true });
        weights = aggregator.lastWeights ?? new Array(k).fill(1);
        const sharedGrads = level === "param" ? splitUpdate(direction, shared) : vjp(z, shared, tf.reshape(direction, z.shape));
        const grads: tf.NamedTensorMap = {};
        const add = (v: tf.Variable, g: tf.Tensor | undefined) => {
          if (!g) return;
          grads[v.name] = grads[v.name] ? tf.add(grads[v.name], g) : g;
        };
        shared.forEach((v, j) => add(v, sharedGrads[j]));
        taskVars.forEach((vars, i) => vars.forEach((v, j) => add(v, heads[i][j])));
        if (regularizers.length > 0) {
          const penalties = tf.stack(regularizers.map((r) => r.penalty(model)));
          regValues = Array.from(penalties.dataSync());
          const regGrads = vjp(tf.sum(penalties), input.variables);
          input.variables.forEach((v, j) => add(v, regGrads[j]));
        }
        for (const g of Object.values(grads)) tf.keep(g);
        return grads;
      });
      try {
        gradNorm = applyUpdate(input, update);
      } finally {
        tf.dispose(Object.values(update));
      }
      if (gradNorm === undefined) throw new SkipStep();
    });
  } catch (e) {
    if (!(e instanceof SkipStep)) throw e;
    applied = false;
  }
  return { losses: lossValues, weights: [...weights], regularizers: regValues, applied, gradNorm };
}

function clipTasks(jacobian: tf.Tensor2D, heads: Array<Array<tf.Tensor | undefined>>, maxNorm: number) {
  const rowSq = tf.sum(tf.square(jacobian), 1).dataSync();
  const scales = heads.map((hs, i) => {
    let sq = rowSq[i];
    for (const h of hs) if (h) sq += tf.sum(tf.square(h)).dataSync()[0];
    const norm = Math.sqrt(sq);
    return norm > maxNorm ? maxNorm / norm : 1;
  });
  return {
    jacobian: tf.mul(jacobian, tf.tensor2d(scales, [scales.length, 1])) as tf.Tensor2D,
    heads: heads.map((hs, i) => hs.map((h) => (h && scales[i] !== 1 ? tf.mul(h, scales[i]) : h))),
  };
}
