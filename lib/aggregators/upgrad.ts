/**
 * UPGrad and DualProj — Quinton & Rey, "Jacobian Descent for Multi-Objective Optimization", 2024
 * (arXiv:2406.16232; torchjd).
 * The dual cone of the rows of J is C = {x : J x ≥ 0}; π_J projects onto it. Prop. 1: for u ∈ ℝ^k,
 *   π_J(Jᵀu) = Jᵀ v*,   v* = argmin_{v ≥ u} vᵀ G v.
 * UPGrad:   d = (1/k) Σ_i π_J(g_i)        → weights (1/k) Σ_i v*(e_i)
 * DualProj: d = π_J((1/k) Σ_i g_i)        → weights v*(1/k · 1)
 * Both updates have non-negative inner product with every g_i (non-conflicting). UPGrad is also
 * invariant to permuting the tasks and linear under scaling of J. The QP is solved exactly by an
 * active-set NNLS on the Gramian (./linalg/boxQp.ts). Reading: the paper's exact problem, without
 * torchjd's default Gramian regularisation (reg_eps = 1e-4), which perturbs results by about 1e-4.
 */
import { dualConeWeights } from "./linalg/boxQp";
import { Matrix } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

export function upgradWeights(G: Matrix): number[] {
  const k = G.length;
  const total = new Array<number>(k).fill(0);
  for (let i = 0; i < k; i++) {
    const u = new Array<number>(k).fill(0);
    u[i] = 1 / k;
    dualConeWeights(G, u).forEach((v, j) => (total[j] += v));
  }
  return total;
}

export function dualprojWeights(G: Matrix): number[] {
  return dualConeWeights(
    G,
    G.map(() => 1 / G.length),
  );
}

/**
 * UPGrad (Quinton & Rey, 2024): the mean of each task gradient projected onto the dual cone of all of them;
 * never conflicts with any task.
 */
export function upgrad(): GramianAggregator {
  return gramianAggregator("UPGrad", BOTH_LEVELS, upgradWeights);
}

/** DualProj (Quinton & Rey, 2024): the mean gradient projected onto the dual cone of the task gradients. */
export function dualproj(): GramianAggregator {
  return gramianAggregator("DualProj", BOTH_LEVELS, dualprojWeights);
}
