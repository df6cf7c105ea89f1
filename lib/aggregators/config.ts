/**
 * ConFIG — Liu, Chu, Thuerey, "ConFIG: Towards Conflict-free Training of Physics Informed Neural
 * Networks", 2024 (ICLR 2025), Eq. (2).
 *   u_i = g_i / ||g_i||,   g_u = [u_1, …, u_k]^{ᵀ+} 1   (minimum-norm x with u_iᵀ x = 1 for all i)
 *   d = (Σ_i g_iᵀ ĝ_u) ĝ_u,   ĝ_u = g_u / ||g_u||
 * On the Gramian: with N = diag(||g_i||) and C = N⁻¹ G N⁻¹ (the cosine matrix),
 *   g_u = Jᵀ β, β = N⁻¹ C⁺ 1;  d = Jᵀ β · (1ᵀ G β) / (βᵀ G β).
 * Readings: a zero gradient has u_i = 0 (as torchjd's nan_to_num) and β_i = 0; the pseudo-inverse
 * drops eigenvalues below k·ε₃₂·λ_max (rank-deficient gradients); g_u = 0 gives d = 0.
 */
import { Matrix, matVec, pinvPsd, quad, sum } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

export function configWeights(G: Matrix): number[] {
  const k = G.length;
  const norms = G.map((row, i) => Math.sqrt(Math.max(0, row[i])));
  const C = G.map((row, i) => row.map((v, j) => (norms[i] > 0 && norms[j] > 0 ? v / (norms[i] * norms[j]) : 0)));
  const p = matVec(pinvPsd(C), new Array<number>(k).fill(1));
  const beta = p.map((v, i) => (norms[i] > 0 ? v / norms[i] : 0));
  const gu2 = quad(G, beta);
  if (!(gu2 > 0)) return new Array<number>(k).fill(0);
  const length = sum(matVec(G, beta));
  return beta.map((b) => (b * length) / gu2);
}

/**
 * ConFIG (Liu, Chu & Thuerey, ICLR 2025): the direction with equal positive cosine to every task gradient,
 * scaled by the gradients' projections on it.
 */
export function config(): GramianAggregator {
  return gramianAggregator("ConFIG", BOTH_LEVELS, configWeights);
}
