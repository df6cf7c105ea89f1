/**
 * The loss-weighted step: one backward pass of L_total = Σ_i w_i L_i + Σ_r R_r with the given
 * weights. Everything runs inside one tf.tidy; the per-task losses are read back once (they are
 * needed for the history and for the non-finite check before the update is applied).
 */
import * as tf from "@tensorflow/tfjs";
import { NonFiniteLossError } from "../../errors";
import { firstNonFinite, StepInput, StepOutput } from "./types";

export function weightedStep(input: StepInput, weights: number[]): StepOutput {
  const { model, tasks, regularizers, x, targets } = input;
  let lossValues!: Float32Array;
  let regValues: Float32Array | undefined;
  const applied = tf.tidy(() => {
    let keptLosses: tf.Tensor | undefined;
    let keptPenalties: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      const outputs = model.forward(x, true);
      const losses = tf.stack(tasks.map((t, i) => t.loss(outputs[i], targets[i])));
      keptLosses = tf.keep(losses);
      let total = tf.sum(tf.mul(losses, tf.tensor1d(weights))) as tf.Scalar;
      if (regularizers.length > 0) {
        const penalties = tf.stack(regularizers.map((r) => r.penalty(model)));
        keptPenalties = tf.keep(penalties);
        total = tf.add(total, tf.sum(penalties));
      }
      return total;
    }, input.variables);
    lossValues = keptLosses!.dataSync() as Float32Array;
    regValues = keptPenalties?.dataSync() as Float32Array | undefined;
    tf.dispose([keptLosses!, ...(keptPenalties ? [keptPenalties] : [])]);
    const bad = firstNonFinite(lossValues);
    if (bad >= 0) {
      if (input.onNonFinite === "stop") throw new NonFiniteLossError(tasks[bad].name, input.step, lossValues[bad]);
      return false;
    }
    input.optimizer.applyGradients(grads);
    return true;
  });
  return { losses: Array.from(lossValues), weights: [...weights], regularizers: regValues ? Array.from(regValues) : [], applied };
}
