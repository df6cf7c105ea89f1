/**
 * The soft-sharing penalty on the tied tower variables of a model such as `mtl.softSharing`:
 *
 *   center form:    R = Σ_l λ_l Σ_i D(θ_i^l − θ_s^l)
 *   pairwise form:  R = Σ_l λ_l Σ_{i<j} D(θ_i^l − θ_j^l)     (Duong et al., ACL 2015, for k = 2)
 *
 * with D = ||·||²₂ (default; the guide's λ Σ_i ||θ_i − θ_s||²) or ||·||₁ (the L1 variant), l over
 * the tied tower layers (kernel and bias; `biases: false` leaves biases out) and λ global or per
 * layer. θ_s is the model's learned center, or the towers' mean θ̄ when the model has
 * `center: "mean"` (gradient flows through the mean; for D = ||·||²₂ that adds nothing, see
 * architectures/softSharing.ts). λ is not halved.
 */
import * as tf from "@tensorflow/tfjs";
import { isTiedModel, TiedGroup } from "../architectures/tied";
import { MultiTaskModel } from "../architectures/types";
import { check, checkKnownOptions, MtlError } from "../errors";
import type { Regularizer } from "./index";

/** Distances to the center θ_s ("center") or between every pair of towers ("pairwise"). */
export type SoftSharingForm = "center" | "pairwise";
/** Squared Euclidean ("l2") or L1 distance. */
export type SoftSharingDistance = "l2" | "l1";

/** Options of the soft-sharing penalty. */
export interface SoftSharingPenaltyOptions {
  /** "center" (default): Σ_i D(θ_i − θ_s); "pairwise": Σ_{i<j} D(θ_i − θ_j). */
  form?: SoftSharingForm;
  /** "l2" (default, squared Euclidean) or "l1". */
  distance?: SoftSharingDistance;
  /** Include the tied layers' biases (default true). */
  biases?: boolean;
}

const WHERE = "regularizers.softSharing";

function checkLambda(value: unknown, what: string): asserts value is number {
  check(
    typeof value === "number" && Number.isFinite(value) && value >= 0,
    WHERE,
    () => `${what} must be a finite number ≥ 0, got ${String(value)}.`,
  );
}

/**
 * The soft-sharing penalty. `lambda` is one λ for every tied layer, or λ per tower layer index
 * (`{ 0: 1e-2, 1: 1e-3 }`; tied layers left out get λ = 0).
 */
export function softSharing(lambda: number | Record<number, number>, options: SoftSharingPenaltyOptions = {}): Regularizer {
  checkKnownOptions(WHERE, options, ["form", "distance", "biases"]);
  const form = options.form ?? "center";
  const distance = options.distance ?? "l2";
  check(
    form === "center" || form === "pairwise",
    WHERE,
    () => `option 'form' must be "center" or "pairwise", got ${JSON.stringify(form)}.`,
  );
  check(distance === "l2" || distance === "l1", WHERE, () => `option 'distance' must be "l2" or "l1", got ${JSON.stringify(distance)}.`);
  const perLayer = typeof lambda === "object" && lambda !== null;
  if (perLayer) {
    for (const [key, value] of Object.entries(lambda)) {
      check(/^\d+$/.test(key), WHERE, () => `λ per layer must be keyed by tower layer index (0, 1, …); got key '${key}'.`);
      checkLambda(value, `λ of layer ${key}`);
    }
  } else checkLambda(lambda, "λ");
  const lambdaOf = (layer: number): number => (perLayer ? ((lambda as Record<number, number>)[layer] ?? 0) : (lambda as number));
  const biases = options.biases ?? true;

  const validate = (model: MultiTaskModel): void => {
    if (!isTiedModel(model)) {
      throw new MtlError(WHERE, `the '${model.architecture}' model has no tied task towers; build one with mtl.softSharing({...}).`);
    }
    if (perLayer) {
      for (const key of Object.keys(lambda)) {
        check(
          model.tiedLayers.includes(Number(key)),
          WHERE,
          () => `λ is given for layer ${key}, which the model does not tie (tied layers: ${model.tiedLayers.join(", ") || "none"}).`,
        );
      }
    }
    check(
      !(form === "pairwise" && model.center === "learned"),
      WHERE,
      () =>
        'the pairwise form does not use the model\'s learned center θ_s, which would then never train; build the model with center: "mean" or use form: "center".',
    );
  };

  return {
    name: `softSharing(${form},${distance})`,
    validate,
    penalty(model) {
      validate(model);
      const groups = (model as MultiTaskModel & { tiedGroups(): TiedGroup[] }).tiedGroups();
      return tf.tidy(() => {
        const terms: tf.Scalar[] = [];
        for (const g of groups) {
          const l = lambdaOf(g.layer);
          if (l === 0 || (!biases && g.name.endsWith(".bias"))) continue;
          terms.push(tf.mul(l, groupPenalty(g, form, distance)) as tf.Scalar);
        }
        return terms.length === 0 ? tf.scalar(0) : (tf.addN(terms) as tf.Scalar);
      });
    },
  };
}

/** Σ_i D(θ_i − c) or Σ_{i<j} D(θ_i − θ_j) for one tied variable. */
export function groupPenalty(group: TiedGroup, form: SoftSharingForm, distance: SoftSharingDistance): tf.Scalar {
  return tf.tidy(() => {
    const d = (a: tf.Tensor) => (distance === "l2" ? tf.sum(tf.square(a)) : tf.sum(tf.abs(a)));
    const m = group.members;
    const stacked = tf.stack(m); // [k, ...shape]
    if (form === "center") {
      const center = group.center ?? tf.mean(stacked, 0);
      return d(tf.sub(stacked, center)) as tf.Scalar;
    }
    const terms: tf.Tensor[] = [];
    for (let i = 0; i < m.length; i++) for (let j = i + 1; j < m.length; j++) terms.push(d(tf.sub(m[i], m[j])));
    return (terms.length === 0 ? tf.scalar(0) : tf.addN(terms)) as tf.Scalar;
  });
}
