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
 * to choose. s_i starts at `initialLogVariance` (0, σ = 1; the paper gives no value). The s_i are
 * tfjs variables trained by the trainer's optimizer in the same step (through `parameterLoss`,
 * which sees the losses detached, so the model's gradient stays Σ w_i ∇L_i exactly).
 * A task absent from a step (no labelled row in the batch) has both of its terms left out of the
 * parameter loss: its s_i gets no gradient from that step (docs/missing-labels.md).
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { checkBound, checkOptions, checkPerTask, numberArray, numberOption, readState, where } from "./common";
import { Weighting, WeightingSetup } from "./types";

/** Kendall's regression form (1/(2σ²)·L + log σ) or classification form (1/σ²·L + log σ). */
export type UncertaintyForm = "regression" | "classification";

/** Options of {@link uncertainty}. */
export interface UncertaintyOptions {
  /** "auto" (by task kind), one form for all tasks, or one per task. */
  forms?: "auto" | UncertaintyForm | readonly UncertaintyForm[];
  /** Starting value of every s_i = log σ_i² (default 0). */
  initialLogVariance?: number;
}

const FORMS = ["regression", "classification"];

/**
 * Uncertainty weighting (Kendall, Gal & Cipolla, CVPR 2018): learned task variances σ_i², weights 1/σ_i² (or
 * 1/(2σ_i²)) plus a log σ_i penalty.
 */
export function uncertainty(options: UncertaintyOptions = {}): Weighting<Required<UncertaintyOptions>> & { logVariances(): number[] } {
  checkOptions("uncertainty", options, ["forms", "initialLogVariance"]);
  const forms = options.forms ?? "auto";
  const ok = forms === "auto" || FORMS.includes(forms as string) || (Array.isArray(forms) && forms.every((f) => FORMS.includes(f)));
  check(ok, where("uncertainty"), () => `option 'forms' must be "auto", "regression", "classification" or a list of those per task, got ${JSON.stringify(forms)}.`);
  const init = numberOption("uncertainty", "initialLogVariance", options.initialLogVariance ?? 0);
  let scale: number[] | undefined;
  let s: tf.Variable | undefined;
  const logVariances = () => Array.from(s!.dataSync());
  return {
    name: "uncertainty",
    options: Object.freeze({ forms: Array.isArray(forms) ? [...forms] : forms, initialLogVariance: init }),
    bind(setup: WeightingSetup) {
      if (Array.isArray(forms)) checkPerTask("uncertainty", "forms", forms, setup);
      scale = setup.tasks.map((t, i) => {
        const form = forms === "auto" ? (t.kind === "regression" ? "regression" : "classification") : Array.isArray(forms) ? forms[i] : forms;
        return form === "regression" ? 0.5 : 1;
      });
      s?.dispose();
      s = tf.variable(tf.fill([setup.tasks.length], init), true);
    },
    async weigh() {
      checkBound("uncertainty", scale?.length);
      const sv = Array.from(await s!.data());
      return sv.map((si, i) => scale![i] * Math.exp(-si));
    },
    variables: () => (s ? [s] : []),
    parameterLoss(detachedLosses: tf.Tensor1D, present?: readonly boolean[]): tf.Scalar {
      return tf.tidy(() => {
        const weighted = tf.mul(tf.mul(tf.tensor1d(scale!), tf.exp(tf.neg(s!))), detachedLosses);
        const terms = tf.add(weighted, tf.mul(0.5, s!));
        return tf.sum(present ? tf.mul(terms, tf.tensor1d(present.map(Number))) : terms) as tf.Scalar;
      });
    },
    logVariances,
    state: () => ({ method: "uncertainty", logVariances: s ? logVariances() : [] }),
    stateAsync: async () => ({ method: "uncertainty", logVariances: s ? Array.from(await s.data()) : [] }),
    loadState(state: unknown) {
      const st = readState("uncertainty", state);
      const k = checkBound("uncertainty", scale?.length);
      s!.assign(tf.tensor1d(numberArray("uncertainty", "logVariances", st.logVariances, k)));
    },
    dispose() {
      s?.dispose();
      s = undefined;
    },
  };
}
