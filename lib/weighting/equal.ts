/**
 * Equal weighting (EW): the plain sum of task losses, the usual MTL baseline.
 *
 *   L_total = Σ_i L_i,   w_i = 1.
 *
 * (Some libraries average instead, w_i = 1/k; that only rescales the learning rate. We use 1, the
 * trainer's default and LibMTL's EW.)
 */
import { checkBound, checkOptions, readState } from "./common";
import { Weighting, WeightingSetup } from "./types";

/** {@link equal} takes no options. */
export type EqualOptions = Record<string, never>;

/** Equal weighting: L_total = Σ_i L_i, the usual baseline. */
export function equal(options: EqualOptions = {}): Weighting<EqualOptions> {
  checkOptions("equal", options, []);
  let k: number | undefined;
  return {
    name: "equal",
    options: Object.freeze({}),
    bind(setup: WeightingSetup) {
      k = setup.tasks.length;
    },
    weigh() {
      return new Array(checkBound("equal", k)).fill(1);
    },
    variables: () => [],
    state: () => ({ method: "equal" }),
    loadState(state: unknown) {
      readState("equal", state);
    },
  };
}
