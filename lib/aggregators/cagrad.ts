/**
 * CAGrad — Liu, Liu, Jin, Stone, Liu, "Conflict-Averse Gradient Descent for Multi-task Learning",
 * NeurIPS 2021 (Algorithm 1).
 *   g_0 = (1/k) Σ_i g_i,   ρ = c ||g_0||,   c ∈ [0, 1)
 *   w* = argmin_{w ∈ Δ} g_wᵀ g_0 + ρ ||g_w||,   g_w = Σ_i w_i g_i
 *   d  = g_0 + (ρ / ||g_w*||) g_w*            (weights 1/k + ρ w*_i / ||g_w*||)
 * `rescale` divides d as in the authors' code: "none" (Algorithm 1, default), "1+c^2" (their
 * rescale=1), "1+c" (their rescale=2).
 * Solving the dual exactly: for fixed n > 0, ρ||g_w|| ≤ ρ(||g_w||²/(2n) + n/2) with equality at
 * n = ||g_w||, so the problem is min_n min_w [g_wᵀg_0 + ρ||g_w||²/(2n)] + ρn/2, whose inner problem
 * is the min-norm point of the shifted gradients g_i + (n/ρ) g_0 (Wolfe's algorithm). We iterate
 * n ← ||g_w|| (a majorise–minimise scheme, monotone) to locate the support S of w*, then solve the
 * KKT system on S in closed form: with M = G_SS, a = G_S· 1/k,
 *   w_S = (n/ρ) M⁻¹(λ1 − a),  (λ1 − a)ᵀ M⁻¹ (λ1 − a) = ρ²,  n = ρ / (λ 1ᵀM⁻¹1 − 1ᵀM⁻¹a).
 * Degenerate cases (readings): ρ = 0 (c = 0 or g_0 = 0) gives d = g_0; ||g_w*|| = 0 (the origin is
 * in the hull: Pareto-stationary) gives d = 0, as torchjd does.
 */
import { checkNumberIn, checkOneOf, options } from "./common";
import { minNormPoint } from "./linalg/minNorm";
import { Matrix, matVec, maxDiagonal, pinvPsd, quad, subMatrix, Vector } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

/** How CAGrad's update is divided afterwards: not at all (Algorithm 1), by 1 + c² or by 1 + c (the authors' rescale=1 and 2). */
export type CagradRescale = "none" | "1+c^2" | "1+c";

/** Options of {@link cagrad}. */
export interface CagradOptions {
  /** Radius of the ball around g_0, relative to ||g_0|| (default 0.5, must be in [0, 1)). */
  c?: number;
  rescale?: CagradRescale;
}

function objective(G: Matrix, a: Vector, rho: number, w: Vector): number {
  return w.reduce((s, wi, i) => s + wi * a[i], 0) + rho * Math.sqrt(Math.max(0, quad(G, w)));
}

/** CAGrad's dual weights w* on the simplex (before the 1/k + ρ w / ||g_w|| mapping). */
export function cagradDual(G: Matrix, c: number): { w: Vector; rho: number; gwNorm: number } {
  const k = G.length;
  const ones = new Array<number>(k).fill(1 / k);
  const a = matVec(G, ones);
  const g0sq = Math.max(0, quad(G, ones));
  const rho = c * Math.sqrt(g0sq);
  const scale = maxDiagonal(G);
  if (!(rho > 1e-15 * Math.sqrt(scale)) || scale === 0) return { w: ones, rho: 0, gwNorm: Math.sqrt(g0sq) };
  // Majorise–minimise on n from w = 1/k (so n starts at ||g_0||), each inner step an exact
  // min-norm problem; F decreases monotonically.
  let w = ones;
  let n = Math.sqrt(g0sq);
  let best = { w, value: objective(G, a, rho, w) };
  for (let it = 0; it < 2000; it++) {
    const t = n / rho;
    const shifted = G.map((row, i) => row.map((v, j) => v + t * (a[i] + a[j]) + t * t * g0sq));
    w = minNormPoint(shifted).weights;
    const value = objective(G, a, rho, w);
    const nextN = Math.sqrt(Math.max(0, quad(G, w)));
    if (value < best.value) best = { w, value };
    if (nextN < 1e-12 * Math.sqrt(scale)) break;
    if (Math.abs(nextN - n) <= 1e-13 * n) break;
    n = nextN;
  }
  // Polish on the support with the closed form.
  const S = best.w.flatMap((v, i) => (v > 1e-9 ? [i] : []));
  const polished = closedForm(G, a, rho, S);
  if (polished) {
    const value = objective(G, a, rho, polished);
    if (value <= best.value + 1e-12 * Math.abs(best.value)) best = { w: polished, value };
  }
  // The origin in the hull (F = 0 at g_w = 0) is a candidate the iteration only approaches.
  const origin = minNormPoint(G);
  if (origin.normSquared <= 1e-20 * scale && best.value >= -1e-9 * rho * Math.sqrt(scale)) {
    return { w: origin.weights, rho, gwNorm: 0 };
  }
  return { w: best.w, rho, gwNorm: Math.sqrt(Math.max(0, quad(G, best.w))) };
}

function closedForm(G: Matrix, a: Vector, rho: number, S: number[]): Vector | undefined {
  if (S.length === 0) return undefined;
  const M = subMatrix(G, S);
  const Minv = pinvPsd(M, 1e-12);
  const aS = S.map((i) => a[i]);
  const one = S.map(() => 1);
  const Mi1 = matVec(Minv, one);
  const Mia = matVec(Minv, aS);
  const alpha = one.reduce((s, _, i) => s + Mi1[i], 0);
  const beta = one.reduce((s, _, i) => s + Mia[i], 0);
  const gamma = aS.reduce((s, v, i) => s + v * Mia[i], 0);
  const disc = beta * beta - alpha * (gamma - rho * rho);
  if (!(alpha > 0) || !(disc >= 0)) return undefined;
  const lambda = (beta + Math.sqrt(disc)) / alpha;
  const denom = lambda * alpha - beta;
  if (!(denom > 0)) return undefined;
  const n = rho / denom;
  const wS = matVec(
    Minv,
    one.map((_, i) => lambda - aS[i]),
  ).map((v) => (n / rho) * v);
  if (wS.some((v) => v < -1e-12)) return undefined;
  const w = new Array<number>(G.length).fill(0);
  S.forEach((i, j) => (w[i] = Math.max(0, wS[j])));
  const total = w.reduce((s, v) => s + v, 0);
  return total > 0 ? w.map((v) => v / total) : undefined;
}

export function cagradWeights(G: Matrix, c = 0.5, rescale: CagradRescale = "none"): number[] {
  const k = G.length;
  const { w, rho, gwNorm } = cagradDual(G, c);
  const divisor = rescale === "none" ? 1 : rescale === "1+c^2" ? 1 + c * c : 1 + c;
  if (rho === 0) return new Array<number>(k).fill(1 / k / divisor);
  if (!(gwNorm > 0)) return new Array<number>(k).fill(0);
  return w.map((wi) => (1 / k + (rho / gwNorm) * wi) / divisor);
}

/**
 * CAGrad (Liu et al., NeurIPS 2021): the update that maximises the worst task's improvement within a ball of
 * radius c·‖g₀‖ around the mean gradient g₀.
 */
export function cagrad(opts?: CagradOptions): GramianAggregator {
  const o = options("cagrad", opts, ["c", "rescale"]);
  const c = o.c ?? 0.5;
  checkNumberIn("cagrad", "c", c, 0, 1, false, true);
  const rescale = o.rescale ?? "none";
  checkOneOf("cagrad", "rescale", rescale, ["none", "1+c^2", "1+c"] as const);
  return gramianAggregator("CAGrad", BOTH_LEVELS, (G) => cagradWeights(G, c, rescale), { describe: `CAGrad(c=${c}, rescale=${rescale})` });
}
