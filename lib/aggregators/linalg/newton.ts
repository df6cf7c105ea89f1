/**
 * Solves (G w)_i = w_i^{−1/α} for w > 0, the optimality condition of the α-fair allocation
 * (FairGrad, Ban & Ji 2024; α = 1 is Nash-MTL's bargaining condition G w = 1/w, Navon et al. 2022).
 * It is the stationary point of the strictly convex
 *   f(w) = ½ wᵀ G w + Σ_i φ(w_i),  φ(w) = −log w (α = 1),  φ(w) = −w^{1−1/α} / (1 − 1/α) (α ≠ 1),
 * found by damped Newton steps (Hessian G + diag φ''(w) is positive definite) with a backtracking
 * line search that keeps w > 0. Converges quadratically to float64 precision.
 * Tasks whose gradient is zero (G_ii = 0) have no solution (their equation reads 0 = w^{−1/α});
 * they get weight 0, which does not change the update. Returns undefined when f has no minimum
 * (0 in the conic hull of the gradients, e.g. two exactly opposite gradients).
 */
import { Matrix, matVec, maxDiagonal, solve, subMatrix, Vector } from "./matrix";

export function fairWeights(G: Matrix, alpha: number, start?: Vector): Vector | undefined {
  const k = G.length;
  const scale = maxDiagonal(G);
  const active = Array.from({ length: k }, (_, i) => i).filter((i) => G[i][i] > 1e-20 * scale && scale > 0);
  const out = new Array<number>(k).fill(0);
  if (active.length === 0) return out;
  const A = subMatrix(G, active);
  const n = active.length;
  const p = 1 - 1 / alpha;
  const phi = (w: number) => (alpha === 1 ? -Math.log(w) : -Math.pow(w, p) / p);
  const dphi = (w: number) => -Math.pow(w, -1 / alpha);
  const d2phi = (w: number) => Math.pow(w, -1 / alpha - 1) / alpha;
  const f = (w: Vector) => {
    const Aw = matVec(A, w);
    let s = 0;
    for (let i = 0; i < n; i++) s += 0.5 * w[i] * Aw[i] + phi(w[i]);
    return s;
  };
  // Start at the solution for orthogonal gradients: G_ii w_i = w_i^{−1/α}  ⇒  w_i = G_ii^{−α/(α+1)}.
  let w = active.map((i, a) => {
    const s = start?.[i];
    return s !== undefined && s > 0 && Number.isFinite(s) ? s : Math.pow(A[a][a], -alpha / (alpha + 1));
  });
  let value = f(w);
  for (let it = 0; it < 200; it++) {
    const Aw = matVec(A, w);
    const grad = w.map((wi, i) => Aw[i] + dphi(wi));
    const H = A.map((row, i) => row.map((v, j) => (i === j ? v + d2phi(w[i]) : v)));
    const step = solve(
      H,
      grad.map((g) => -g),
    );
    if (!step) return undefined;
    // Newton decrement: stop when it is at rounding level.
    const decrement = -grad.reduce((s, g, i) => s + g * step[i], 0);
    if (!(decrement > 1e-28 * Math.max(1, Math.abs(value)))) break;
    let t = 1;
    for (let i = 0; i < n; i++) if (step[i] < 0) t = Math.min(t, (-0.99 * w[i]) / step[i]);
    let next = w.map((wi, i) => wi + t * step[i]);
    let nextValue = f(next);
    // Near the optimum f changes by less than its rounding error: take the (quadratically
    // convergent) full step without the line search, which could not tell better from worse.
    const local = decrement < 1e-8 * Math.max(1, Math.abs(value)) && t === 1;
    while (!local && !(nextValue <= value - 0.25 * t * decrement) && t > 1e-12) {
      t /= 2;
      next = w.map((wi, i) => wi + t * step[i]);
      nextValue = f(next);
    }
    if (!local && !(nextValue <= value)) break;
    const moved = next.some((x, i) => x !== w[i]);
    w = next;
    value = nextValue;
    if (!moved || (local && decrement < 1e-30 * Math.max(1, Math.abs(value)))) break;
    if (w.some((x) => x > 1e15 * Math.pow(scale, -alpha / (alpha + 1)))) return undefined;
  }
  // Unbounded problems drift without converging: verify the stationarity condition.
  const Aw = matVec(A, w);
  const residual = Math.max(...w.map((wi, i) => Math.abs(Aw[i] + dphi(wi)) / Math.max(Math.abs(dphi(wi)), 1e-300)));
  if (!(residual < 1e-6)) return undefined;
  active.forEach((i, a) => (out[i] = w[a]));
  return out;
}
