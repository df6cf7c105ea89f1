/**
 * Geometric Loss Strategy — Chennupati, Sistu, Yogamani & Rawashdeh, "MultiNet++: Multi-Stream
 * Feature Aggregation and Geometric Loss Strategy for Multi-Task Learning", CVPR Workshops 2019:
 *
 *   L_total = (Π_i L_i)^{1/k},   so   w_i = ∂L_total/∂L_i = L_total / (k · L_i).
 *
 * The model's gradient Σ w_i ∇L_i is exactly the geometric mean's gradient; the recorded total
 * Σ w_i L_i equals the geometric mean. Needs every L_i > 0 (refused otherwise, naming the task).
 * Label masks: a step's geometric mean runs over the tasks present in it (those with labelled rows
 * in the batch); an absent task's weight is 0 (docs/missing-labels.md).
 */
import { MtlError } from "../errors";
import { checkOptions, presentIn, presentIndices, readState, where } from "./common";
import { WeighContext, Weighting, WeightingSetup } from "./types";

/** {@link gls} takes no options. */
export type GlsOptions = Record<string, never>;

/** GLS's weights for given losses. */
export function glsWeights(losses: readonly number[], taskNames?: readonly string[]): number[] {
  losses.forEach((l, i) => {
    if (!(l > 0))
      throw new MtlError(where("gls"), `the loss of task '${taskNames?.[i] ?? i}' is ${l}; the geometric mean needs every loss > 0.`);
  });
  const k = losses.length;
  const geometric = Math.exp(losses.reduce((s, l) => s + Math.log(l), 0) / k);
  return losses.map((l) => geometric / (k * l));
}

/** Geometric Loss Strategy (Chennupati et al., CVPRW 2019): minimises the geometric mean of the task losses. */
export function gls(options: GlsOptions = {}): Weighting<GlsOptions> {
  checkOptions("gls", options, []);
  let names: string[] = [];
  return {
    name: "gls",
    options: Object.freeze({}),
    bind(setup: WeightingSetup) {
      names = setup.tasks.map((t) => t.name);
    },
    weigh(context: WeighContext) {
      const idx = presentIndices(presentIn(context));
      if (idx.length === context.losses.length) return glsWeights(context.losses, names);
      const out = new Array<number>(context.losses.length).fill(0);
      if (idx.length === 0) return out;
      const sub = glsWeights(
        idx.map((i) => context.losses[i]),
        idx.map((i) => names[i]),
      );
      idx.forEach((i, j) => (out[i] = sub[j]));
      return out;
    },
    variables: () => [],
    state: () => ({ method: "gls" }),
    loadState(state: unknown) {
      readState("gls", state);
    },
  };
}
