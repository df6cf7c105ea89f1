/**
 * IMTL-L, the loss-balancing half of "Towards Impartial Multi-task Learning" — Liu, Li, Kuang, Xue,
 * Chen, Yang, Liao & Zhang, ICLR 2021. A learnable scale s_i per task:
 *
 *   L_total = Σ_i ( e^{s_i} L_i − s_i ),   w_i = e^{s_i},   ∂L_total/∂s_i = e^{s_i} L_i − 1,
 *
 * so at the optimum every scaled loss e^{s_i} L_i equals 1 (scale-impartial). The s_i start at 0
 * and are trained by the trainer's optimizer in the same step as the model (the paper updates
 * θ and s jointly by gradient descent); `parameterLoss` sees the losses detached, so the model's
 * gradient is Σ e^{s_i} ∇L_i. Only IMTL-L is here; IMTL-G (gradient part) is an aggregator.
 * A task absent from a step (no labelled row in the batch) has its term left out of the parameter
 * loss, so its s_i gets no gradient from that step (docs/missing-labels.md).
 */
import * as tf from "@tensorflow/tfjs";
import { checkBound, checkOptions, numberArray, numberOption, readState } from "./common";
import { Weighting, WeightingSetup } from "./types";

/** Options of {@link imtlL}. */
export interface ImtlLOptions {
  /** Starting value of every s_i (default 0, so w_i = 1). */
  initialScale?: number;
}

/** IMTL-L (Liu et al., ICLR 2021): learned loss scales e^{s_i} L_i − s_i that make the scaled losses equal. */
export function imtlL(options: ImtlLOptions = {}): Weighting<Required<ImtlLOptions>> & { scales(): number[] } {
  checkOptions("imtlL", options, ["initialScale"]);
  const init = numberOption("imtlL", "initialScale", options.initialScale ?? 0);
  let s: tf.Variable | undefined;
  const scales = () => Array.from(s!.dataSync());
  return {
    name: "imtlL",
    options: Object.freeze({ initialScale: init }),
    bind(setup: WeightingSetup) {
      s?.dispose();
      s = tf.variable(tf.fill([setup.tasks.length], init), true);
    },
    async weigh() {
      checkBound("imtlL", s?.size);
      return Array.from(await s!.data(), Math.exp);
    },
    variables: () => (s ? [s] : []),
    parameterLoss(detachedLosses: tf.Tensor1D, present?: readonly boolean[]): tf.Scalar {
      return tf.tidy(() => {
        const terms = tf.sub(tf.mul(tf.exp(s!), detachedLosses), s!);
        return tf.sum(present ? tf.mul(terms, tf.tensor1d(present.map(Number))) : terms) as tf.Scalar;
      });
    },
    scales,
    state: () => ({ method: "imtlL", scales: s ? scales() : [] }),
    stateAsync: async () => ({ method: "imtlL", scales: s ? Array.from(await s.data()) : [] }),
    loadState(state: unknown) {
      const st = readState("imtlL", state);
      const k = checkBound("imtlL", s?.size);
      s!.assign(tf.tensor1d(numberArray("imtlL", "scales", st.scales, k)));
    },
    dispose() {
      s?.dispose();
      s = undefined;
    },
  };
}
