/**
 * FairGrad — Ban & Ji, "Fair Resource Allocation in Multi-Task Learning", ICML 2024.
 * α-fair allocation of the update d = Σ_i w_i g_i: w > 0 solving
 *   (G w)_i = w_i^{−1/α}   (g_iᵀ d = w_i^{−1/α}),
 * solved exactly by damped Newton steps on the convex ½wᵀGw + Σ φ(w_i) (./linalg/newton.ts); the
 * authors use scipy's least_squares from w = 1/k. α = 1 is Nash-MTL's condition (default α = 1, as
 * the authors' code). A zero g_i gets w_i = 0; no solution (0 in the conic hull) gives d = 0.
 */
import { checkNumberIn, options } from "./common";
import { fairWeights } from "./linalg/newton";
import { Matrix } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

/** Options of {@link fairgrad}. */
export interface FairGradOptions {
  /** The fairness parameter α > 0 (default 1). */
  alpha?: number;
}

export function fairgradWeights(G: Matrix, alpha = 1): number[] {
  return fairWeights(G, alpha) ?? G.map(() => 0);
}

/** FairGrad (Ban & Ji, ICML 2024): the α-fair allocation of the update, w solving (Gw)_i = w_i^{−1/α}; α = 1 is Nash-MTL. */
export function fairgrad(opts?: FairGradOptions): GramianAggregator {
  const o = options("fairgrad", opts, ["alpha"]);
  const alpha = o.alpha ?? 1;
  checkNumberIn("fairgrad", "alpha", alpha, 0, 1e6, true);
  return gramianAggregator("FairGrad", BOTH_LEVELS, (G) => fairgradWeights(G, alpha), { describe: `FairGrad(alpha=${alpha})` });
}
