/**
 * GradVac — Wang, Tsvetkov, Firat, Cao, "Gradient Vaccine: Investigating and Improving Multi-task
 * Optimization in Massively Multilingual Models", ICLR 2021 (Algorithm 2).
 *   for each task i: g_i' ← g_i; for j ≠ i in a random order:
 *     φ_ij = cos(g_i', g_j)
 *     if φ_ij < φ̂_ij:  g_i' ← g_i' + ||g_i'|| (φ̂_ij √(1−φ_ij²) − φ_ij √(1−φ̂_ij²)) / (||g_j|| √(1−φ̂_ij²)) · g_j
 *     φ̂_ij ← (1 − β) φ̂_ij + β φ_ij
 *   d = Σ_i g_i'
 * The EMA targets φ̂ (k × k, starting at 0) and the shuffling generator are the state.
 * Readings: φ_ij uses the current g_i' and the original g_j (as PCGrad and the authors' pseudo-code);
 * the EMA is updated for every visited pair, corrected or not (as LibMTL); the whole gradient is one
 * group (the paper also applies it per layer); a pair with a zero gradient is skipped, EMA
 * included. β defaults to 1e-2 (the paper's value; LibMTL uses 0.5). Order as in PCGrad.
 * Label masks: a task absent from a step reaches it as a zero row (`absentTasks: "zero"`), so its
 * pairs are skipped and their EMA targets held (docs/missing-labels.md).
 */
import { Rng, RngState } from "../random";
import { checkNumberIn, checkOrder, options } from "./common";
import { Matrix } from "./linalg/matrix";
import { BOTH_LEVELS, GramianAggregator, gramianAggregator } from "./types";

/** Options of {@link gradvac}: the EMA rate β (default 0.01) and the task order (`order`, or a seeded shuffle from `seed`). */
export interface GradVacOptions {
  beta?: number;
  order?: number[];
  seed?: number;
}

/**
 * GradVac (Wang et al., ICLR 2021): raises each pair's gradient cosine towards its running average, correcting
 * even positive but below-target similarities.
 */
export function gradvac(opts?: GradVacOptions): GramianAggregator {
  const o = options("gradvac", opts, ["beta", "order", "seed"]);
  const beta = o.beta ?? 0.01;
  checkNumberIn("gradvac", "beta", beta, 0, 1);
  const rng = new Rng(o.seed ?? 0);
  let target: Matrix | undefined;
  const weighting = (G: Matrix): number[] => {
    const k = G.length;
    if (o.order) checkOrder("gradvac", o.order, k);
    target ??= Array.from({ length: k }, () => new Array<number>(k).fill(0));
    const total = new Array<number>(k).fill(0);
    for (let i = 0; i < k; i++) {
      const c = new Array<number>(k).fill(0);
      c[i] = 1;
      const order = o.order ?? Array.from(rng.permutation(k));
      for (const j of order) {
        if (j === i || !(G[j][j] > 0)) continue;
        let inner = 0;
        let norm2 = 0;
        for (let m = 0; m < k; m++) {
          inner += c[m] * G[m][j];
          for (let n = 0; n < k; n++) norm2 += c[m] * G[m][n] * c[n];
        }
        if (!(norm2 > 0)) continue;
        const ni = Math.sqrt(norm2);
        const nj = Math.sqrt(G[j][j]);
        const phi = Math.max(-1, Math.min(1, inner / (ni * nj)));
        const hat = target[i][j];
        if (phi < hat && hat < 1) {
          const coef = (ni * (hat * Math.sqrt(1 - phi * phi) - phi * Math.sqrt(1 - hat * hat))) / (nj * Math.sqrt(1 - hat * hat));
          c[j] += coef;
        }
        target[i][j] = (1 - beta) * hat + beta * phi;
      }
      for (let m = 0; m < k; m++) total[m] += c[m];
    }
    return total;
  };
  return gramianAggregator("GradVac", BOTH_LEVELS, weighting, {
    describe: `GradVac(beta=${beta})`,
    rowsNeeded: () => target?.length,
    absentTasks: "zero",
    state: () => ({ target: target?.map((r) => [...r]) ?? null, rng: rng.getState() }),
    loadState: (s) => {
      target = (s.target as Matrix | null)?.map((r) => [...r]) ?? undefined;
      rng.setState(s.rng as RngState);
    },
  });
}
