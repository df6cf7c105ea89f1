/**
 * IMTL-G — Liu, Li, Kuang, Xue, Chen, Yang, Liao, Zhang, "Towards Impartial Multi-task Learning",
 * ICLR 2021 (Section 3.2, gradient balance).
 * Find d = Σ_i α_i g_i with Σ α_i = 1 whose projections onto every unit gradient u_i = g_i/||g_i||
 * are equal: dᵀu_i = dᵀu_j. The paper's closed form, with D = [g_1 − g_2, …, g_1 − g_k]ᵀ and
 * U = [u_1 − u_2, …, u_1 − u_k]ᵀ, is α_{2:k} = g_1 Uᵀ (D Uᵀ)⁻¹, α_1 = 1 − Σ α_{2:k}.
 * Reading (as torchjd): the conditions say (G α)_i = t ||g_i|| for a common t, so
 *   α = G⁺ n / (1ᵀ G⁺ n),   n_i = ||g_i||,
 * which equals the closed form whenever the gradients are linearly independent (tested) and stays
 * well defined when they are not (rank-deficient G: Moore–Penrose pseudo-inverse, eigenvalues below
 * k·ε₃₂·λ_max dropped). A zero gradient gets α_i = 0. If 1ᵀG⁺n = 0 (no such direction), α = 0.
 */
import { Matrix, matVec, pinvPsd, sum } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

export function imtlgWeights(G: Matrix): number[] {
  const n = G.map((row, i) => Math.sqrt(Math.max(0, row[i])));
  const v = matVec(pinvPsd(G), n);
  const total = sum(v);
  const scale = Math.max(...v.map(Math.abs));
  if (!(Math.abs(total) > 1e-12 * scale) || scale === 0) return G.map(() => 0);
  return v.map((x) => x / total);
}

/**
 * IMTL-G (Liu et al., ICLR 2021): the combination of the task gradients whose projections onto every unit task
 * gradient are equal.
 */
export function imtlg(): GramianAggregator {
  return gramianAggregator("IMTL-G", BOTH_LEVELS, imtlgWeights);
}
