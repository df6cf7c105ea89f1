/**
 * The aggregated update rule: per-task gradients combined by an aggregator (PCGrad, MGDA, …).
 *
 * One forward pass (z = encode(x), outputs = decode(z, x)) is recorded on a tape kept open across
 * awaited reads (../tape.ts); the losses are read back and checked; then k backward passes from it
 * (see ../jacobian.ts):
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
 * With one dataset per task (every task each step), each L_i is on its own batch: "param" only.
 * Label masks (docs/missing-labels.md): a task with no labelled row in the batch is absent from the
 * step: its loss is NaN in the record, its weight 0, its head gets no gradient, and the aggregator
 * sees the present tasks' rows only, or, for a method with `absentTasks: "zero"`, every row with
 * the absent ones zero and `context.present` marking them.
 */
import * as tf from "@tensorflow/tfjs";
import { Level } from "../../aggregators/types";
import { NonFiniteLossError } from "../../errors";
import { checkedGramian, splitUpdate, suspendTape, taskGradients, vjp } from "../jacobian";
import { readAll, recordAsync, unrecorded } from "../tape";
import { Aggregator, AggregationContext } from "../../aggregators/types";
import { activeTasks, firstNonFinite, forward, presentTasks, SkipStep, StepInput, StepOutput } from "./types";
import { NonFiniteGradientError } from "../../errors";
import { applyUpdate } from "./update";

export async function aggregatedStep(input: StepInput, aggregator: Aggregator, level: Level): Promise<StepOutput> {
  const { model, tasks, regularizers } = input;
  const k = tasks.length;
  const taskNames = tasks.map((t) => t.name);
  const shared = model.sharedVariables().map(([, v]) => v);
  const taskVars = tasks.map((_, i) => model.taskVariables(i).map(([, v]) => v));
  let lossValues: number[] = new Array(k).fill(NaN);
  let regValues: number[] = [];
  let weights: number[] = new Array(k).fill(NaN);
  let applied = true;
  let gradNorm: number | undefined;
  try {
    await recordAsync(async () => {
      const fwd = forward(input);
      const penalties = regularizers.length > 0 ? tf.stack(regularizers.map((r) => r.penalty(model))) : undefined;
      const [read, readPenalties] = await readAll(penalties ? [fwd.losses, penalties] : [fwd.losses]);
      const present = presentTasks(input.batch);
      lossValues = Array.from(read, (v, i) => (present[i] ? v : NaN));
      if (readPenalties) regValues = Array.from(readPenalties);
      const bad = firstNonFinite(lossValues, activeTasks(input.batch));
      if (bad >= 0) {
        if (input.onNonFinite === "stop") throw new NonFiniteLossError(tasks[bad].name, input.step, lossValues[bad]);
        throw new SkipStep();
      }
      const z = fwd.zs[0];
      // The regularizers' total is differentiated below, so it is formed while the tape records.
      const penaltyTotal = penalties ? tf.sum(penalties) : undefined;
      let { jacobian, heads } = unrecorded(() => taskGradients(level, fwd.taskLosses, shared, taskVars, z));
      // One read: G = J Jᵀ, whose diagonal also says which rows are not finite.
      const { gramian, badRow } = await checkedGramian(
        jacobian,
        present.map((p) => !p),
      );
      if (badRow >= 0) {
        if (input.onNonFinite === "skip") throw new SkipStep();
        throw new NonFiniteGradientError(
          taskNames[badRow],
          input.step,
          level === "param" ? "the shared parameters" : "the shared representation",
          NaN,
        );
      }
      const clipped = input.clipTaskNorm !== undefined;
      if (clipped) ({ jacobian, heads } = await suspendTape(() => clipTasks(jacobian, heads, input.clipTaskNorm!)));
      const context = {
        taskNames,
        losses: lossValues,
        level,
        representation: z,
        rowsChecked: true,
        // Clipping rescaled the rows: the methods form the Gramian of the clipped J themselves.
        ...(clipped ? {} : { gramian }),
      };
      let direction: tf.Tensor1D;
      ({ direction, weights } = await suspendTape(() => aggregatePresent(aggregator, jacobian, context, present)));
      const sharedGrads = unrecorded(() =>
        level === "param" ? splitUpdate(direction, shared) : vjp(z, shared, tf.reshape(direction, z.shape)),
      );
      const grads: tf.NamedTensorMap = {};
      const add = (v: tf.Variable, g: tf.Tensor | undefined) => {
        if (!g) return;
        grads[v.name] = grads[v.name] ? tf.add(grads[v.name], g) : g;
      };
      shared.forEach((v, j) => add(v, sharedGrads[j]));
      taskVars.forEach((vars, i) => vars.forEach((v, j) => add(v, heads[i][j])));
      if (penaltyTotal) {
        const regGrads = unrecorded(() => vjp(penaltyTotal, input.variables));
        input.variables.forEach((v, j) => add(v, regGrads[j]));
      }
      gradNorm = await applyUpdate(input, grads, input.variables);
      if (gradNorm === undefined) throw new SkipStep();
    });
  } catch (e) {
    if (!(e instanceof SkipStep)) throw e;
    applied = false;
  }
  return { losses: lossValues, weights: [...weights], regularizers: regValues, applied, gradNorm };
}

/**
 * The aggregator's direction and its weights for the tasks present at this step (absent tasks:
 * weight 0). All present: the aggregator as it is. Otherwise the present rows only, or every row
 * with `context.present` for a method that holds per-task state (`absentTasks: "zero"`).
 */
async function aggregatePresent(
  aggregator: Aggregator,
  jacobian: tf.Tensor2D,
  context: AggregationContext & { taskNames: string[]; losses: number[] },
  present: boolean[],
): Promise<{ direction: tf.Tensor1D; weights: number[] }> {
  const run = (J: tf.Tensor2D, c: AggregationContext) =>
    aggregator.aggregateAsync ? aggregator.aggregateAsync(J, c) : Promise.resolve(aggregator.aggregate(J, c));
  const k = present.length;
  const idx = present.flatMap((p, i) => (p ? [i] : []));
  if (idx.length === k) {
    const direction = await run(jacobian, context);
    return { direction, weights: aggregator.lastWeights ?? new Array(k).fill(1) };
  }
  if (aggregator.absentTasks === "zero") {
    const direction = await run(jacobian, { ...context, present });
    return { direction, weights: (aggregator.lastWeights ?? new Array(k).fill(1)).map((w, i) => (present[i] ? w : 0)) };
  }
  // Slices, not tf.gather (whose cpu kernel reads its indices synchronously).
  const rows = tf.concat(idx.map((i) => tf.slice(jacobian, [i, 0], [1, -1]))) as tf.Tensor2D;
  const G = context.gramian;
  const direction = await run(rows, {
    ...context,
    gramian: G ? idx.map((i) => idx.map((j) => G[i][j])) : undefined,
    taskNames: idx.map((i) => context.taskNames[i]),
    losses: idx.map((i) => context.losses[i]),
    present,
  });
  const sub = aggregator.lastWeights ?? new Array(idx.length).fill(1);
  const weights = new Array<number>(k).fill(0);
  idx.forEach((i, j) => (weights[i] = sub[j]));
  return { direction, weights };
}

async function clipTasks(jacobian: tf.Tensor2D, heads: Array<Array<tf.Tensor | undefined>>, maxNorm: number) {
  // ||(row_i, head_i)||² for every task, read with one await.
  const squares = tf.stack(
    heads.map((hs, i) =>
      tf.addN([tf.sum(tf.square(tf.slice(jacobian, [i, 0], [1, -1]))), ...hs.flatMap((h) => (h ? [tf.sum(tf.square(h))] : []))]),
    ),
  );
  const [sq] = await readAll([squares]);
  const scales = Array.from(sq, (s) => {
    const norm = Math.sqrt(s);
    return norm > maxNorm ? maxNorm / norm : 1;
  });
  return {
    jacobian: tf.mul(jacobian, tf.tensor2d(scales, [scales.length, 1])) as tf.Tensor2D,
    heads: heads.map((hs, i) => hs.map((h) => (h && scales[i] !== 1 ? tf.mul(h, scales[i]) : h))),
  };
}
