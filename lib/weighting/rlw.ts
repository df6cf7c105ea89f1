/**
 * Random Loss Weighting — Lin, Ye, Xu, Shi & Zhang, "Reasonable Effectiveness of Random Weighting:
 * A Litmus Test for Multi-Task Learning", TMLR 2022. Fresh weights every step:
 *
 *   λ̃ ~ p(λ̃),   w = softmax(λ̃)   (so Σ_i w_i = 1),
 *
 * with p the standard normal by default (the paper's main choice) or U(0, 1). Seeded; the
 * generator's state is the method's state, so a restored run draws the same weights.
 */
import { check } from "../errors";
import { Rng, RngState } from "../random";
import { checkBound, checkOptions, numberArray, numberOption, readState, softmax, where } from "./common";
import { Weighting, WeightingSetup } from "./types";

/** Options of {@link rlw}. */
export interface RlwOptions {
  seed?: number;
  /** Distribution of λ̃ before the softmax (default "normal"). */
  distribution?: "normal" | "uniform";
}

/** Random Loss Weighting (Lin et al., TMLR 2022): fresh random weights at every step (softmax of normal draws by default). */
export function rlw(options: RlwOptions = {}): Weighting<Required<RlwOptions>> {
  checkOptions("rlw", options, ["seed", "distribution"]);
  const seed = numberOption("rlw", "seed", options.seed ?? 0);
  const distribution = options.distribution ?? "normal";
  check(
    distribution === "normal" || distribution === "uniform",
    where("rlw"),
    () => `option 'distribution' must be "normal" or "uniform", got ${JSON.stringify(distribution)}.`,
  );
  const rng = new Rng(seed);
  let k: number | undefined;
  return {
    name: "rlw",
    options: Object.freeze({ seed, distribution }),
    bind(setup: WeightingSetup) {
      k = setup.tasks.length;
    },
    weigh() {
      const n = checkBound("rlw", k);
      const raw = Array.from({ length: n }, () => (distribution === "normal" ? rng.normal() : rng.uniform()));
      return softmax(raw);
    },
    variables: () => [],
    state: () => ({ method: "rlw", rng: rng.getState() }),
    loadState(state: unknown) {
      const st = readState("rlw", state);
      rng.setState(numberArray("rlw", "rng", st.rng, 4) as RngState);
    },
  };
}
