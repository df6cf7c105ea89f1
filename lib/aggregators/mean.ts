/**
 * Mean and sum: the baselines. mean: d = (1/k) Σ_i g_i (equal weighting of the losses, the
 * gradient of (1/k) Σ L_i); sum: d = Σ_i g_i. Defined at both levels.
 */
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

/** The baseline: d = (1/k) Σ_i g_i, the gradient of the mean loss. */
export function mean(): GramianAggregator {
  return gramianAggregator("mean", BOTH_LEVELS, (G) => G.map(() => 1 / G.length));
}

/** The baseline: d = Σ_i g_i, the gradient of the summed losses. */
export function sum(): GramianAggregator {
  return gramianAggregator("sum", BOTH_LEVELS, (G) => G.map(() => 1));
}
