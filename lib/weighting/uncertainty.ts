/**
 * Uncertainty weighting — Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh
 * Losses for Scene Geometry and Semantics", CVPR 2018. Each task has a learnable homoscedastic
 * noise σ_i; with s_i = log σ_i² (learned for numerical stability, as the paper advises):
 *
 *   regression form (Eq. 5, Gaussian likelihood):        1/(2σ_i²) L_i + log σ_i = ½ e^{−s_i} L_i + ½ s_i
 *   classification form (Eq. 10, scaled softmax):        1/σ_i²    L_i + log σ_i =   e^{−s_i} L_i + ½ s_i
 *
 *   L_total = Σ_i c_i e^{−s_i} L_i + ½ s_i,   c_i = ½ (regression) or 1 (classification),
 *   so the model sees w_i = c_i e^{−s_i} and ∂L_total/∂s_i = −c_i e^{−s_i} L_i + ½.
 *
 * Readings: the form follows each task's kind by default ("auto": regression tasks use the
 * regression form, classification / binary / multi-label the classification form); pass `forms`
 * to choose. s_i starts at `initialLogVariance` (0, σ = 1; the paper gives no value). By default the
 * s_i are tfjs variables trained by the trainer's optimizer in the same step (through
 * `parameterLoss`, which sees the losses detached, so the model's gradient stays Σ w_i ∇L_i
 * exactly), at the model's learning rate. With `learningRate` they get their own Adam at that rate
 * instead, as in the Nash-MTL and FAMO code (`learningRate: 0.025`, their `--method-params-lr`
 * default; see ./scales.ts), so the weights can reach e^{s_i} ≈ c_i L_i within a short run.
 * A task absent from a step (no labelled row in the batch) has both of its terms left out of the
 * parameter loss, and a zero gradient in the separate Adam: its s_i gets nothing from that step
 * (docs/missing-labels.md).
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { checkBound, checkOptions, checkPerTask, numberOption, readState, where } from "./common";
import { LearnableScales } from "./scales";
import { AfterStepContext, Weighting, WeightingSetup } from "./types";

/** Kendall's regression form (1/(2σ²)·L + log σ) or classification form (1/σ²·L + log σ). */
export type UncertaintyForm = "regression" | "classification";

/** Options of {@link uncertainty}. */
export interface UncertaintyOptions {
  /** "auto" (by task kind), one form for all tasks, or one per task. */
  forms?: "auto" | UncertaintyForm | readonly UncertaintyForm[];
  /** Starting value of every s_i = log σ_i² (default 0). */
  initialLogVariance?: number;
  /**
   * Learning rate of the s_i's own Adam (e.g. 0.025, the Nash-MTL / FAMO code's value). Default:
   * none, the trainer's optimizer trains them at the model's learning rate.
   */
  learningRate?: number;
}

const FORMS = ["regression", "classification"];

/**
 * Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018): learned task variances σ_i², weights 1/σ_i² (or
 * 1/(2σ_i²)) plus a log σ_i penalty.
 */
export function uncertainty(
  options: UncertaintyOptions = {},
): Weighting<UncertaintyOptions & { forms: UncertaintyOptions["forms"]; initialLogVariance: number }> & { logVariances(): number[] } {
  checkOptions("uncertainty", options, ["forms", "initialLogVariance", "learningRate"]);
  const forms = options.forms ?? "auto";
  const ok = forms === "auto" || FORMS.includes(forms as string) || (Array.isArray(forms) && forms.every((f) => FORMS.includes(f)));
  check(
    ok,
    where("uncertainty"),
    () => `option 'forms' must be "auto", "regression", "classification" or a list of those per task, got ${JSON.stringify(forms)}.`,
  );
  const init = numberOption("uncertainty", "initialLogVariance", options.initialLogVariance ?? 0);
  let scale: number[] | undefined;
  const s = new LearnableScales("uncertainty", init, options.learningRate, (sv, losses) =>
    sv.map((si, i) => -scale![i] * Math.exp(-si) * losses[i] + 0.5),
  );
  const method: Weighting<UncertaintyOptions & { forms: UncertaintyOptions["forms"]; initialLogVariance: number }> & {
    logVariances(): number[];
  } = {
    name: "uncertainty",
    options: Object.freeze({
      forms: Array.isArray(forms) ? [...forms] : forms,
      initialLogVariance: init,
      ...(s.separate ? { learningRate: s.learningRate } : {}),
    }),
    bind(setup: WeightingSetup) {
      if (Array.isArray(forms)) checkPerTask("uncertainty", "forms", forms, setup);
      scale = setup.tasks.map((t, i) => {
        const form =
          forms === "auto" ? (t.kind === "regression" ? "regression" : "classification") : Array.isArray(forms) ? forms[i] : forms;
        return form === "regression" ? 0.5 : 1;
      });
      s.bind(setup.tasks.length);
    },
    async weigh() {
      checkBound("uncertainty", scale?.length);
      const sv = await s.values();
      return sv.map((si, i) => scale![i] * Math.exp(-si));
    },
    variables: () => s.variables(),
    logVariances: () => s.valuesSync(),
    state: () => ({ method: "uncertainty", ...s.stateSync("logVariances") }),
    stateAsync: async () => ({ method: "uncertainty", ...(await s.state("logVariances")) }),
    loadState(state: unknown) {
      s.load(readState("uncertainty", state), "logVariances");
    },
    dispose: () => s.dispose(),
  };
  if (s.separate) {
    method.afterStep = (context: AfterStepContext) => s.step(context.losses);
  } else {
    method.parameterLoss = (detachedLosses: tf.Tensor1D, present?: readonly boolean[]): tf.Scalar =>
      tf.tidy(() => {
        const sv = s.tensor();
        const weighted = tf.mul(tf.mul(tf.tensor1d(scale!), tf.exp(tf.neg(sv))), detachedLosses);
        const terms = tf.add(weighted, tf.mul(0.5, sv));
        return tf.sum(present ? tf.mul(terms, tf.tensor1d(present.map(Number))) : terms) as tf.Scalar;
      });
  }
  return method;
}
