/**
 * PCGrad — Yu, Kumar, Gupta, Levine, Hausman, Finn, "Gradient Surgery for Multi-Task Learning",
 * NeurIPS 2020 (Algorithm 1).
 *   for each task i:  g_i^PC ← g_i;  for j ≠ i in a random order:
 *       if g_i^PC · g_j < 0:  g_i^PC ← g_i^PC − (g_i^PC · g_j / ||g_j||²) g_j
 *   d = Σ_i g_i^PC
 * Readings: projections are onto the *original* g_j (as in the paper and the authors' code); j = i is
 * skipped (the authors' code visits it too, but g_i^PC·g_i ≥ 0 holds in all but degenerate cases);
 * a zero g_j is skipped (no direction to project out). The order: `order` (a permutation used for
 * every i) makes the method deterministic; by default each i gets a fresh shuffle from a seeded
 * generator, as in the paper, and the generator is the method's state.
 * Computed on the Gramian: g_i^PC = Σ_m c_im g_m, so every inner product is a product with G.
 * Guarantee: for k = 2, g_1^PC·g_2 ≥ 0 and g_2^PC·g_1 ≥ 0; for k > 2, g_i^PC·g_j ≥ 0 for the last j
 * visited.
 */
import { Rng, RngState } from "../random";
import { checkOrder, options } from "./common";
import { Matrix } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

/** Options of {@link pcgrad}. */
export interface PCGradOptions {
  /** A fixed task order (permutation of 0..k−1) for the projections of every task. */
  order?: number[];
  /** Seed of the per-task shuffles when no order is given (default 0). */
  seed?: number;
}

/** The projected gradients' coefficients: row i holds c_i with g_i^PC = Σ_m c_im g_m. */
export function pcgradCoefficients(G: Matrix, orderFor: (i: number) => readonly number[]): Matrix {
  const k = G.length;
  return Array.from({ length: k }, (_, i) => {
    const c = new Array<number>(k).fill(0);
    c[i] = 1;
    for (const j of orderFor(i)) {
      if (j === i || !(G[j][j] > 0)) continue;
      let inner = 0;
      for (let m = 0; m < k; m++) inner += c[m] * G[m][j];
      if (inner < 0) c[j] -= inner / G[j][j];
    }
    return c;
  });
}

/**
 * PCGrad (Yu et al., NeurIPS 2020): projects each task's gradient off the other tasks' gradients it conflicts
 * with, then sums.
 */
export function pcgrad(opts?: PCGradOptions): GramianAggregator {
  const o = options("pcgrad", opts, ["order", "seed"]);
  const rng = new Rng(o.seed ?? 0);
  return gramianAggregator(
    "PCGrad",
    BOTH_LEVELS,
    (G) => {
      const k = G.length;
      if (o.order) checkOrder("pcgrad", o.order, k);
      const C = pcgradCoefficients(G, () => o.order ?? Array.from(rng.permutation(k)));
      return G.map((_, m) => C.reduce((s, c) => s + c[m], 0));
    },
    {
      describe: `PCGrad(${o.order ? `order=[${o.order}]` : `seed=${o.seed ?? 0}`})`,
      state: () => ({ rng: rng.getState() }),
      loadState: (s) => rng.setState(s.rng as RngState),
    },
  );
}
