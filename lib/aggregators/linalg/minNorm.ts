/**
 * The minimum-norm point of the convex hull of k points given only their Gramian G (G_ij = p_iᵀp_j):
 *   w* = argmin_{w ∈ Δ} wᵀ G w,   Δ = {w ≥ 0, Σ w = 1}.
 * Wolfe's algorithm (Wolfe 1976, "Finding the nearest point in a polytope"): a finite active-set
 * method that keeps an affinely independent "corral" of points and solves the affine minimiser of
 * the corral exactly, so it ends on the exact optimum (up to float64 rounding), also when G is
 * singular (rank-deficient or repeated gradients), unlike a Frank–Wolfe loop stopped after a few
 * iterations (Sener & Koltun's code). Optimality (KKT): (Gw)_j ≥ wᵀGw for all j, with equality
 * wherever w_j > 0.
 */
import { Matrix, maxDiagonal, solve, Vector } from "./matrix";

export interface MinNormResult {
  weights: Vector;
  /** ||Σ w_i p_i||² = wᵀGw. */
  normSquared: number;
  iterations: number;
}

/** Affine minimiser of the points in `S`: min ||Σ α_i p_i||² s.t. Σ α_i = 1 (bordered system). */
function affineMinimizer(G: Matrix, S: number[]): Vector | undefined {
  const m = S.length;
  const A: Matrix = [];
  for (let a = 0; a < m; a++) A.push([...S.map((j) => G[S[a]][j]), 1]);
  A.push([...new Array<number>(m).fill(1), 0]);
  const b = new Array<number>(m + 1).fill(0);
  b[m] = 1;
  const x = solve(A, b);
  return x?.slice(0, m);
}

export function minNormPoint(G0: Matrix, tolerance = 1e-13): MinNormResult {
  const k = G0.length;
  const scale0 = maxDiagonal(G0);
  // Work on G / max G_ii so the bordered systems [G 1; 1ᵀ 0] are well scaled.
  const G = scale0 > 0 ? G0.map((r) => r.map((v) => v / scale0)) : G0;
  const scale = scale0 > 0 ? 1 : 0;
  const weights = new Array<number>(k).fill(0);
  if (k === 0) return { weights, normSquared: 0, iterations: 0 };
  if (scale === 0) {
    // All points are the origin: every w is optimal; the uniform one is the natural choice.
    return { weights: weights.map(() => 1 / k), normSquared: 0, iterations: 0 };
  }
  let best = 0;
  for (let i = 1; i < k; i++) if (G[i][i] < G[best][best]) best = i;
  let S = [best];
  let lambda = [1];
  let iterations = 0;
  const eps = tolerance * scale;
  for (; iterations < 50 * k + 100; iterations++) {
    // x = Σ λ_s p_s; find the point most "behind" x.
    const Gx = G.map((row) => S.reduce((s, j, a) => s + row[j] * lambda[a], 0));
    const xx = S.reduce((s, j, a) => s + lambda[a] * Gx[j], 0);
    let j = -1;
    let lowest = xx - eps;
    for (let i = 0; i < k; i++) {
      if (!S.includes(i) && Gx[i] < lowest) {
        lowest = Gx[i];
        j = i;
      }
    }
    if (j < 0) break;
    S = [...S, j];
    lambda = [...lambda, 0];
    // Minor cycles: move toward the corral's affine minimiser, dropping points that reach zero weight.
    for (let minor = 0; minor <= k; minor++) {
      const alpha = affineMinimizer(G, S);
      if (!alpha) {
        // The new point is affinely dependent on the corral within rounding: x is optimal.
        S = S.slice(0, -1);
        lambda = lambda.slice(0, -1);
        iterations = Infinity;
        break;
      }
      if (alpha.every((a) => a > 1e-15)) {
        lambda = alpha;
        break;
      }
      let theta = 1;
      alpha.forEach((a, i) => {
        if (a <= 1e-15) theta = Math.min(theta, lambda[i] / (lambda[i] - a));
      });
      lambda = lambda.map((l, i) => l + theta * (alpha[i] - l));
      const keep = lambda.map((l) => l > 1e-15);
      S = S.filter((_, i) => keep[i]);
      lambda = lambda.filter((_, i) => keep[i]);
    }
    if (!Number.isFinite(iterations)) break;
  }
  const total = lambda.reduce((a, b) => a + b, 0);
  S.forEach((j, a) => (weights[j] = Math.max(0, lambda[a]) / total));
  let normSquared = 0;
  for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) normSquared += weights[a] * G0[a][b] * weights[b];
  return { weights, normSquared: Math.max(0, normSquared), iterations: Number.isFinite(iterations) ? iterations : k };
}
