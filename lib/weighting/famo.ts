/**
 * FAMO — Liu, Liu, Jin, Stone & Liu, "FAMO: Fast Adaptive Multitask Optimization", NeurIPS 2023.
 * Logits ξ ∈ R^k, z = softmax(ξ). The model descends Σ_i c z_i log(L_i − b_i), c = 1 / Σ_j z_j/(L_j − b_j),
 * i.e. with the weights
 *
 *   w_i = (z_i / (L_i − b_i)) / Σ_j (z_j / (L_j − b_j))      (Σ_i w_i = 1),
 *
 * and after the update the logits follow the observed log-loss decrease on the same batch:
 *
 *   δ_i = log(L_i(θ_t) − b_i) − log(L_i(θ_{t+1}) − b_i),   ξ ← ξ − β (J_z(ξ)ᵀ δ + γ ξ),
 *   J_z(ξ)ᵀ δ = z ⊙ (δ − ⟨z, δ⟩).
 *
 * Readings: as in the authors' code, b_i = 0 (option `minLosses`), a 1e-8 is added inside the logs,
 * the ξ step is Adam with learning rate β = 0.025 and L2 weight decay γ, and L(θ_{t+1}) is
 * recomputed on the same batch after the update (one extra forward pass per step). γ = 0.001 by
 * default (the paper tunes γ per benchmark).
 * Label masks: a step's weights are normalised over the tasks present in it (labelled rows in the
 * batch; an absent task's weight is 0), and the logit step uses the softmax over the present tasks'
 * logits with δ over them; an absent task's logit and Adam moments are held (docs/missing-labels.md).
 */
import {
  Adam64,
  AdamState,
  checkBound,
  checkOptions,
  checkPerTask,
  numberArray,
  numberOption,
  presentIn,
  presentIndices,
  readState,
  softmax,
} from "./common";
import { AfterStepContext, WeighContext, Weighting, WeightingSetup } from "./types";

/** Options of {@link famo}. */
export interface FamoOptions {
  /** β, learning rate of the logits' Adam (default 0.025). */
  learningRate?: number;
  /** γ ≥ 0, weight decay of the logits (default 0.001). */
  gamma?: number;
  /** b_i, a lower bound of each loss (default 0). */
  minLosses?: readonly number[];
}

const EPS = 1e-8;

/** FAMO's model weights from the logits and the losses. */
export function famoWeights(logits: readonly number[], losses: readonly number[], minLosses: readonly number[]): number[] {
  const z = softmax(logits);
  const q = z.map((zi, i) => zi / (losses[i] - minLosses[i] + EPS));
  const s = q.reduce((a, b) => a + b, 0);
  return q.map((v) => v / s);
}

/** ∂/∂ξ of ⟨softmax(ξ), δ⟩ with δ the log-loss decrease: FAMO's logit gradient (before decay). */
export function famoLogitGradient(
  logits: readonly number[],
  before: readonly number[],
  after: readonly number[],
  minLosses: readonly number[],
): number[] {
  const z = softmax(logits);
  const delta = before.map((b, i) => Math.log(b - minLosses[i] + EPS) - Math.log(after[i] - minLosses[i] + EPS));
  const zd = z.reduce((s, zi, i) => s + zi * delta[i], 0);
  return z.map((zi, i) => zi * (delta[i] - zd));
}

/**
 * FAMO (Liu et al., NeurIPS 2023): weights that make every task's loss fall at the same log rate, updated from
 * one extra forward pass per step.
 */
export function famo(options: FamoOptions = {}): Weighting<FamoOptions & { learningRate: number; gamma: number }> & { logits(): number[] } {
  checkOptions("famo", options, ["learningRate", "gamma", "minLosses"]);
  const learningRate = numberOption("famo", "learningRate", options.learningRate ?? 0.025, { above: 0 });
  const gamma = numberOption("famo", "gamma", options.gamma ?? 0.001, { min: 0 });
  (options.minLosses ?? []).forEach((b) => numberOption("famo", "minLosses", b));
  let k: number | undefined;
  let xi: number[] = [];
  let b: number[] = [];
  let adam: Adam64 | undefined;
  let presentNow: boolean[] | undefined;
  return {
    name: "famo",
    options: Object.freeze({ learningRate, gamma, ...(options.minLosses ? { minLosses: [...options.minLosses] } : {}) }),
    bind(setup: WeightingSetup) {
      k = setup.tasks.length;
      if (options.minLosses) checkPerTask("famo", "minLosses", options.minLosses, setup);
      b = options.minLosses ? [...options.minLosses] : new Array(k).fill(0);
      xi = new Array(k).fill(0);
      adam = new Adam64(k, learningRate, gamma);
    },
    weigh(context: WeighContext) {
      const n = checkBound("famo", k);
      const present = presentIn(context);
      const idx = presentIndices(present);
      presentNow = present;
      if (idx.length === n) return famoWeights(xi, context.losses, b);
      const out = new Array<number>(n).fill(0);
      if (idx.length === 0) return out;
      const pick = (xs: readonly number[]) => idx.map((i) => xs[i]);
      famoWeights(pick(xi), pick(context.losses), pick(b)).forEach((w, j) => (out[idx[j]] = w));
      return out;
    },
    async afterStep(context: AfterStepContext) {
      const after = await context.lossesAfter();
      const present = presentNow ?? xi.map(() => true);
      const idx = presentIndices(present);
      if (idx.length === xi.length) {
        const grad = famoLogitGradient(xi, context.losses, after, b);
        if (grad.every(Number.isFinite)) xi = adam!.step(xi, grad);
        return;
      }
      if (idx.length === 0) return;
      const pick = (xs: readonly number[]) => idx.map((i) => xs[i]);
      const sub = famoLogitGradient(pick(xi), pick(context.losses), pick(after), pick(b));
      if (!sub.every(Number.isFinite)) return;
      const grad = new Array<number>(xi.length).fill(0);
      idx.forEach((i, j) => (grad[i] = sub[j]));
      xi = adam!.step(xi, grad, present);
    },
    logits: () => [...xi],
    variables: () => [],
    state: () => ({ method: "famo", logits: [...xi], adam: adam?.getState() ?? null }),
    loadState(state: unknown) {
      const st = readState("famo", state);
      xi = numberArray("famo", "logits", st.logits, checkBound("famo", k));
      if (st.adam) adam!.setState(st.adam as AdamState);
    },
  };
}
