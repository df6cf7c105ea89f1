/**
 * IMTL-L, the loss-balancing half of "Towards Impartial Multi-task Learning" — Liu, Li, Kuang, Xue,
 * Chen, Yang, Liao & Zhang, ICLR 2021. A learnable scale s_i per task:
 *
 *   L_total = Σ_i ( e^{s_i} L_i − s_i ),   w_i = e^{s_i},   ∂L_total/∂s_i = e^{s_i} L_i − 1,
 *
 * so at the optimum every scaled loss e^{s_i} L_i equals 1 (scale-impartial). The s_i start at 0.
 * By default they are trained by the trainer's optimizer in the same step as the model (the paper
 * updates θ and s jointly by gradient descent); `parameterLoss` sees the losses detached, so the
 * model's gradient is Σ e^{s_i} ∇L_i. With `learningRate` they get their own Adam at that rate
 * (see ./scales.ts). The authors published no code; the separate rate of the Nash-MTL / FAMO code
 * for loss-scale parameters, 0.025, is the closest published setting. Only IMTL-L is here; IMTL-G
 * (gradient part) is an aggregator.
 * A task absent from a step (no labelled row in the batch) has its term left out of the parameter
 * loss (a zero gradient in the separate Adam), so its s_i gets nothing from that step
 * (docs/missing-labels.md).
 */
import * as tf from "@tensorflow/tfjs";
import { checkOptions, numberOption, readState } from "./common";
import { LearnableScales } from "./scales";
import { AfterStepContext, Weighting, WeightingSetup } from "./types";

/** Options of {@link imtlL}. */
export interface ImtlLOptions {
  /** Starting value of every s_i (default 0, so w_i = 1). */
  initialScale?: number;
  /**
   * Learning rate of the s_i's own Adam (e.g. 0.025). Default: none, the trainer's optimizer
   * trains them at the model's learning rate.
   */
  learningRate?: number;
}

/** IMTL-L (Liu et al., ICLR 2021): learned loss scales e^{s_i} L_i − s_i that make the scaled losses equal. */
export function imtlL(options: ImtlLOptions = {}): Weighting<ImtlLOptions & { initialScale: number }> & { scales(): number[] } {
  checkOptions("imtlL", options, ["initialScale", "learningRate"]);
  const init = numberOption("imtlL", "initialScale", options.initialScale ?? 0);
  const s = new LearnableScales("imtlL", init, options.learningRate, (sv, losses) => sv.map((si, i) => Math.exp(si) * losses[i] - 1));
  const method: Weighting<ImtlLOptions & { initialScale: number }> & { scales(): number[] } = {
    name: "imtlL",
    options: Object.freeze({ initialScale: init, ...(s.separate ? { learningRate: s.learningRate } : {}) }),
    bind(setup: WeightingSetup) {
      s.bind(setup.tasks.length);
    },
    async weigh() {
      return (await s.values()).map(Math.exp);
    },
    variables: () => s.variables(),
    scales: () => s.valuesSync(),
    state: () => ({ method: "imtlL", ...s.stateSync("scales") }),
    stateAsync: async () => ({ method: "imtlL", ...(await s.state("scales")) }),
    loadState(state: unknown) {
      s.load(readState("imtlL", state), "scales");
    },
    dispose: () => s.dispose(),
  };
  if (s.separate) {
    method.afterStep = (context: AfterStepContext) => s.step(context.losses);
  } else {
    method.parameterLoss = (detachedLosses: tf.Tensor1D, present?: readonly boolean[]): tf.Scalar =>
      tf.tidy(() => {
        const terms = tf.sub(tf.mul(tf.exp(s.tensor()), detachedLosses), s.tensor());
        return tf.sum(present ? tf.mul(terms, tf.tensor1d(present.map(Number))) : terms) as tf.Scalar;
      });
  }
  return method;
}
