/**
 * Dynamic Weight Average — Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention",
 * CVPR 2019 (Eq. 7). With L̄_i(t) the mean training loss of task i over epoch t:
 *
 *   r_i(t−1) = L̄_i(t−1) / L̄_i(t−2),   w_i(t) = k · exp(r_i(t−1)/T) / Σ_j exp(r_j(t−1)/T),
 *
 * and w_i(t) = 1 for the first two epochs (t = 0, 1), as in the paper. T = 2 by default.
 * Weights are constant within an epoch; the trainer passes each epoch's mean losses through
 * `endEpoch` (an epoch whose mean is not finite, e.g. all steps skipped, is not counted).
 * Label masks: a task that no step of the epoch trained (its labels were masked in every batch)
 * has no mean for that epoch; its previous epoch's mean is held in its place, so its ratio r_i is 1
 * (an epoch in which no task has a mean, or the first epoch with a gap, is not counted).
 */
import { checkBound, checkOptions, numberArray, numberOption, readState, softmax } from "./common";
import { Weighting, WeightingSetup } from "./types";

/** Options of {@link dwa}. */
export interface DwaOptions {
  /** Softmax temperature T > 0 (default 2); large T gives equal weights. */
  temperature?: number;
}

/** DWA's weights from the mean losses of the last two epochs (older first). */
export function dwaWeights(beforeLast: readonly number[], last: readonly number[], temperature: number): number[] {
  const r = last.map((l, i) => l / beforeLast[i]);
  return softmax(r.map((v) => v / temperature)).map((p) => p * last.length);
}

/**
 * Dynamic Weight Average (Liu, Johns & Davison, CVPR 2019): weights from the ratio of each task's last two epoch
 * losses, through a softmax with temperature T.
 */
export function dwa(options: DwaOptions = {}): Weighting<Required<DwaOptions>> {
  checkOptions("dwa", options, ["temperature"]);
  const temperature = numberOption("dwa", "temperature", options.temperature ?? 2, { above: 0 });
  let k: number | undefined;
  let epochs: number[][] = [];
  return {
    name: "dwa",
    options: Object.freeze({ temperature }),
    bind(setup: WeightingSetup) {
      k = setup.tasks.length;
    },
    weigh() {
      const n = checkBound("dwa", k);
      if (epochs.length < 2) return new Array(n).fill(1);
      return dwaWeights(epochs[0], epochs[1], temperature);
    },
    endEpoch(meanLosses: readonly number[]) {
      const previous = epochs[epochs.length - 1];
      const held = meanLosses.map((l, i) => (Number.isFinite(l) ? l : previous ? previous[i] : NaN));
      if (!meanLosses.some((l) => Number.isFinite(l)) || !held.every((l) => Number.isFinite(l))) return;
      epochs = [...epochs, held].slice(-2);
    },
    variables: () => [],
    state: () => ({ method: "dwa", epochLosses: epochs.map((e) => [...e]) }),
    loadState(state: unknown) {
      const st = readState("dwa", state);
      const list = Array.isArray(st.epochLosses) ? st.epochLosses : [];
      epochs = list.slice(-2).map((e) => numberArray("dwa", "epochLosses", e, k));
    },
  };
}
