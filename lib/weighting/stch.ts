/**
 * Smooth Tchebycheff scalarisation (STCH) — Lin, Zhang, Yang, Liu, Wang & Zhang, "Smooth
 * Tchebycheff Scalarization for Multi-Objective Optimization", ICML 2024. The Tchebycheff max is
 * smoothed with a log-sum-exp of smoothing μ > 0:
 *
 *   g_μ(θ) = μ log Σ_i exp( λ_i (f_i(θ) − z*_i) / μ ),
 *
 * and for multi-task learning (the paper's MTL experiments and the authors' code) f_i is the
 * log-loss normalised by a nadir point n_i, z* = 0 and λ_i = 1, scaled by k:
 *
 *   L_total = k μ log Σ_i exp( log(L_i / n_i) / μ ),
 *   w_i = ∂L_total/∂L_i = k · softmax_i( log(L / n) / μ ) / L_i.
 *
 * Warm-up, as in the authors' code: for the first `warmupEpochs` epochs and the one after, the
 * model minimises Σ_i log L_i (w_i = 1/L_i); the nadir n is the mean training loss of that last
 * warm-up epoch (epoch index `warmupEpochs`); STCH applies from the epoch after. Pass `nadir` to
 * skip the warm-up. Defaults μ = 1 and warmupEpochs = 4 (the authors' code; the paper tunes μ).
 * Epochs are counted by the method itself through `endEpoch`.
 * Label masks: a step's weights run over the tasks present in it (labelled rows in the batch; an
 * absent task's weight is 0), and the nadir is the first epoch from `warmupEpochs` on in which every
 * task has a finite mean loss (docs/missing-labels.md).
 */
import { check } from "../errors";
import {
  checkBound,
  checkOptions,
  checkPerTask,
  numberArray,
  numberOption,
  presentIn,
  presentIndices,
  readState,
  softmax,
  where,
} from "./common";
import { WeighContext, Weighting, WeightingSetup } from "./types";

/** Options of {@link stch}. */
export interface StchOptions {
  /** Smoothing μ > 0 (default 1); μ → 0 approaches the Tchebycheff max. */
  mu?: number;
  /** Epochs of Σ log L_i before the nadir epoch (default 4). */
  warmupEpochs?: number;
  /** A nadir point n_i > 0 per task; when given there is no warm-up. */
  nadir?: readonly number[];
}

/** STCH's weights after warm-up. */
export function stchWeights(losses: readonly number[], nadir: readonly number[], mu: number): number[] {
  const k = losses.length;
  const p = softmax(losses.map((l, i) => Math.log(l / nadir[i]) / mu));
  return p.map((pi, i) => (k * pi) / losses[i]);
}

/**
 * Smooth Tchebycheff scalarisation (Lin et al., ICML 2024): a smooth maximum (log-sum-exp) of the task
 * log-losses normalised by a nadir point, after a warm-up.
 */
export function stch(
  options: StchOptions = {},
): Weighting<StchOptions & { mu: number; warmupEpochs: number }> & { nadir(): number[] | undefined } {
  checkOptions("stch", options, ["mu", "warmupEpochs", "nadir"]);
  const mu = numberOption("stch", "mu", options.mu ?? 1, { above: 0 });
  const warmupEpochs = numberOption("stch", "warmupEpochs", options.warmupEpochs ?? 4, { min: 0 });
  check(Number.isInteger(warmupEpochs), where("stch"), () => `option 'warmupEpochs' must be an integer ≥ 0, got ${warmupEpochs}.`);
  (options.nadir ?? []).forEach((n) => numberOption("stch", "nadir", n, { above: 0 }));
  let k: number | undefined;
  let names: string[] = [];
  let epoch = 0;
  let nadir: number[] | undefined;
  return {
    name: "stch",
    options: Object.freeze({ mu, warmupEpochs, ...(options.nadir ? { nadir: [...options.nadir] } : {}) }),
    bind(setup: WeightingSetup) {
      k = setup.tasks.length;
      names = setup.tasks.map((t) => t.name);
      if (options.nadir) checkPerTask("stch", "nadir", options.nadir, setup);
      nadir = options.nadir ? [...options.nadir] : undefined;
      epoch = 0;
    },
    weigh(context: WeighContext) {
      checkBound("stch", k);
      const idx = presentIndices(presentIn(context));
      idx.forEach((i) =>
        check(
          context.losses[i] > 0,
          where("stch"),
          () => `the loss of task '${names[i]}' is ${context.losses[i]}; STCH takes its log and needs every loss > 0.`,
        ),
      );
      const out = new Array<number>(context.losses.length).fill(0);
      if (!nadir) {
        idx.forEach((i) => (out[i] = 1 / context.losses[i]));
        return out;
      }
      const sub = stchWeights(
        idx.map((i) => context.losses[i]),
        idx.map((i) => nadir![i]),
        mu,
      );
      idx.forEach((i, j) => (out[i] = sub[j]));
      return out;
    },
    endEpoch(meanLosses: readonly number[]) {
      if (!nadir && epoch >= warmupEpochs && meanLosses.every((l) => Number.isFinite(l) && l > 0)) nadir = [...meanLosses];
      epoch++;
    },
    nadir: () => (nadir ? [...nadir] : undefined),
    variables: () => [],
    state: () => ({ method: "stch", epoch, nadir: nadir ? [...nadir] : null }),
    loadState(state: unknown) {
      const st = readState("stch", state);
      check(typeof st.epoch === "number", where("stch"), () => "state field 'epoch' must be a number.");
      epoch = st.epoch;
      nadir = st.nadir === null ? undefined : numberArray("stch", "nadir", st.nadir, checkBound("stch", k));
    },
  };
}
