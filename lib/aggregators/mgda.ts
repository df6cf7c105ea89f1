/**
 * MGDA — Désidéri 2012; for deep MTL: Sener & Koltun, "Multi-Task Learning as Multi-Objective
 * Optimization", NeurIPS 2018.
 *   w* = argmin_{w ∈ Δ} || Σ_i w_i ĝ_i ||²,   ĝ_i = g_i / n_i,   d = Σ_i w*_i g_i
 * with the gradient normalisations n_i of the authors' code (Section 3.2 / `gradient_normalizers`):
 *   "none": 1,  "l2": ||g_i||,  "loss": L_i,  "loss+": L_i ||g_i||.
 * Readings: the weights are found on the normalised gradients and applied to the raw ones, as the
 * authors' code does (the scales multiply the unnormalised losses); with "none" (the default, and
 * the paper's definition) the update is the min-norm point of the convex hull of the gradients.
 * The min-norm problem is solved exactly (Wolfe's algorithm, ./linalg/minNorm.ts), not by a
 * Frank–Wolfe loop with a loose stopping rule: its KKT conditions hold to rounding.
 * Zero gradient in the hull ⇒ d = 0 (Pareto-stationary). A zero g_i with "l2"/"loss+" has n_i = 0;
 * it is left unnormalised (n_i = 1), which makes it the min-norm point (d = 0), as it should.
 *
 * MGDA-UB (same paper, Section 3.3): the same rule on the gradients w.r.t. the shared
 * representation z (the "rep" level), an upper bound whose update is back-propagated through the
 * trunk once. `mgdaUB()` is MGDA restricted to that level.
 */
import { checkOneOf, options } from "./common";
import { minNormPoint } from "./linalg/minNorm";
import { Matrix } from "./linalg/matrix";
import { AggregationContext, BOTH_LEVELS, GramianAggregator, gramianAggregator, requireLosses } from "./types";

/**
 * How MGDA normalises each gradient before finding the weights: not at all, by its L2 norm, by its loss, or by
 * both (Sener & Koltun's code).
 */
export type MgdaNormalization = "none" | "l2" | "loss" | "loss+";
const NORMALIZATIONS: readonly MgdaNormalization[] = ["none", "l2", "loss", "loss+"];

/** Options of {@link mgda} and {@link mgdaUB}. */
export interface MgdaOptions {
  /** Gradient normalisation before the min-norm problem (default "none"). */
  normalization?: MgdaNormalization;
}

export function mgdaWeights(G: Matrix, normalization: MgdaNormalization = "none", context?: AggregationContext): number[] {
  const k = G.length;
  let n = new Array<number>(k).fill(1);
  if (normalization !== "none") {
    const losses = normalization === "l2" ? undefined : requireLosses(`mgda (normalization "${normalization}")`, k, context);
    n = G.map((row, i) => {
      const norm = Math.sqrt(row[i]);
      const v = normalization === "l2" ? norm : normalization === "loss" ? losses![i] : losses![i] * norm;
      return v > 0 ? v : 1;
    });
  }
  const Gn = G.map((row, i) => row.map((v, j) => v / (n[i] * n[j])));
  return minNormPoint(Gn).weights;
}

function build(name: string, levels: typeof BOTH_LEVELS, where: string, opts?: MgdaOptions): GramianAggregator {
  const o = options(where, opts, ["normalization"]);
  const normalization = o.normalization ?? "none";
  checkOneOf(where, "normalization", normalization, NORMALIZATIONS);
  return gramianAggregator(name, levels, (G, context) => mgdaWeights(G, normalization, context), {
    describe: `${name}(normalization=${normalization})`,
  });
}

/**
 * MGDA (Désidéri 2012; Sener & Koltun, NeurIPS 2018): the min-norm point of the convex hull of the task
 * gradients, solved exactly.
 */
export function mgda(opts?: MgdaOptions): GramianAggregator {
  return build("MGDA", BOTH_LEVELS, "mgda", opts);
}

/**
 * MGDA-UB (Sener & Koltun, NeurIPS 2018): MGDA on the gradients w.r.t. the shared representation, an upper bound
 * that needs one backward pass through the trunk. Rep level only.
 */
export function mgdaUB(opts?: MgdaOptions): GramianAggregator {
  return build("MGDA-UB", ["rep"], "mgdaUB", opts);
}
