/**
 * Aligned-MTL — Senushkin, Patakin, Kuznetsov, Konushin, "Independent Component Alignment for
 * Multi-Task Learning", CVPR 2023 (Algorithm 1).
 * With G = J Jᵀ = V Λ Vᵀ (rank r, eigenvalues below k·ε₃₂·λ_max dropped), the balance transform
 *   B = √σ · V_r Λ_r^{−1/2} V_rᵀ
 * makes the aligned gradients Ĵ = Bᵀ J have equal singular values √σ (condition number 1), and
 *   d = Ĵᵀ w = Jᵀ B w,
 * with σ = λ_min of the kept spectrum ("min", the paper), or the median ("median") or mean ("rmse")
 * as in the authors' code. w are the pre-defined task weights: 1/k each by default (as torchjd);
 * the authors' code sums the aligned gradients (w = 1, pass `weights: [1, …]`), k times larger.
 * All-zero gradients (rank 0): B = I as in torchjd and the authors' code, so d = Jᵀ w = 0.
 */
import { check } from "../errors";
import { checkOneOf, options } from "./common";
import { Matrix, rankTolerance, symmetricEigen } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

/** The σ Aligned-MTL aligns to: the smallest kept eigenvalue ("min", the paper), the median, or the mean ("rmse"). */
export type AlignedScale = "min" | "median" | "rmse";

/** Options of {@link alignedMtl}. */
export interface AlignedMtlOptions {
  scale?: AlignedScale;
  /** Task weights w (default 1/k each). */
  weights?: number[];
}

export function alignedMtlWeights(G: Matrix, scale: AlignedScale = "min", w?: number[]): number[] {
  const k = G.length;
  const pref = w ?? new Array<number>(k).fill(1 / k);
  const { values, vectors } = symmetricEigen(G);
  const tol = rankTolerance(values, k);
  const kept = values.flatMap((l, i) => (l > tol ? [i] : []));
  if (kept.length === 0) return [...pref];
  const lambdas = kept.map((i) => values[i]);
  let sigma: number;
  if (scale === "min") sigma = lambdas[lambdas.length - 1];
  else if (scale === "median") {
    const s = [...lambdas].sort((a, b) => a - b);
    const m = s.length >> 1;
    sigma = s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  } else sigma = lambdas.reduce((a, b) => a + b, 0) / lambdas.length;
  const out = new Array<number>(k).fill(0);
  for (const idx of kept) {
    const v = vectors[idx];
    const coef = (Math.sqrt(sigma) / Math.sqrt(values[idx])) * v.reduce((s, vi, j) => s + vi * pref[j], 0);
    for (let i = 0; i < k; i++) out[i] += coef * v[i];
  }
  return out;
}

/**
 * Aligned-MTL (Senushkin et al., CVPR 2023): aligns the task gradients to equal singular values (condition
 * number 1), then d = Ĵᵀw.
 */
export function alignedMtl(opts?: AlignedMtlOptions): GramianAggregator {
  const o = options("alignedMtl", opts, ["scale", "weights"]);
  const scale = o.scale ?? "min";
  checkOneOf("alignedMtl", "scale", scale, ["min", "median", "rmse"] as const);
  if (o.weights)
    check(
      o.weights.every((x) => Number.isFinite(x)),
      "alignedMtl",
      () => "option 'weights' must be finite numbers.",
    );
  return gramianAggregator(
    "Aligned-MTL",
    BOTH_LEVELS,
    (G) => {
      if (o.weights)
        check(o.weights.length === G.length, "alignedMtl", () => `option 'weights' has ${o.weights!.length} values for ${G.length} tasks.`);
      return alignedMtlWeights(G, scale, o.weights);
    },
    { describe: `Aligned-MTL(scale=${scale})` },
  );
}
