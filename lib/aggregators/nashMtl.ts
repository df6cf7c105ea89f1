/**
 * Nash-MTL — Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik, Fetaya, "Multi-Task Learning as a
 * Bargaining Game", ICML 2022.
 * The Nash bargaining solution d = Σ_i α_i g_i with α > 0 solving
 *   G α = 1/α   (elementwise: α_i (Gα)_i = 1, i.e. g_iᵀ d = 1/α_i),
 * the stationary point of ½αᵀGα − Σ log α_i, solved exactly by damped Newton steps in float64
 * (./linalg/newton.ts); the authors approximate it with 20 CCP iterations of cvxpy.
 * Readings: the paper's equation exactly, so ||d||² = αᵀGα = k; the authors' code divides G by its
 * Frobenius norm first, which scales d by ||G||_F^{1/2} (`normalizeGramian: true`). Their gradient
 * clipping (max_norm) is a training detail left to the optimizer. A zero g_i gets α_i = 0; if the
 * problem has no solution (0 in the conic hull, e.g. exactly opposite gradients), d = 0.
 * `updateEvery` (default 1) recomputes α every n-th call and reuses it in between, as the
 * authors' `update_weights_every`; the last α is the state (also the warm start).
 */
import { check } from "../errors";
import { options } from "./common";
import { fairWeights } from "./linalg/newton";
import { Matrix } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

/**
 * Options of {@link nashMtl}: recompute the weights every `updateEvery` calls; `normalizeGramian` divides G by
 * its Frobenius norm, as the authors' code.
 */
export interface NashMtlOptions {
  updateEvery?: number;
  normalizeGramian?: boolean;
}

export function nashMtlWeights(G: Matrix, normalizeGramian = false, start?: number[]): number[] {
  let scale = 1;
  if (normalizeGramian) {
    let f = 0;
    for (const row of G) for (const v of row) f += v * v;
    scale = Math.sqrt(f) || 1;
  }
  const Gs = G.map((row) => row.map((v) => v / scale));
  return fairWeights(Gs, 1, start) ?? G.map(() => 0);
}

/** Nash-MTL (Navon et al., ICML 2022): the Nash bargaining solution, α > 0 with Gα = 1/α, solved exactly by Newton's method. */
export function nashMtl(opts?: NashMtlOptions): GramianAggregator {
  const o = options("nashMtl", opts, ["updateEvery", "normalizeGramian"]);
  const every = o.updateEvery ?? 1;
  check(Number.isInteger(every) && every > 0, "nashMtl", () => `option 'updateEvery' must be a positive integer, got ${o.updateEvery}.`);
  let previous: number[] | undefined;
  let calls = 0;
  return gramianAggregator(
    "Nash-MTL",
    BOTH_LEVELS,
    (G) => {
      const reuse = previous !== undefined && previous.length === G.length && calls % every !== 0;
      calls++;
      if (!reuse) previous = nashMtlWeights(G, o.normalizeGramian ?? false, previous?.length === G.length ? previous : undefined);
      return [...previous!];
    },
    {
      describe: `Nash-MTL(updateEvery=${every})`,
      state: () => ({ weights: previous ? [...previous] : null, calls }),
      loadState: (s) => {
        previous = (s.weights as number[] | null) ?? undefined;
        calls = Number(s.calls ?? 0);
      },
    },
  );
}
