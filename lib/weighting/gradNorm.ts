/**
 * GradNorm — Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient Normalization for
 * Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018 (Algorithm 1). With W the last
 * shared layer's weights (or, cheaper, the shared representation z),
 *
 *   G_i(t) = ‖∇_W w_i(t) L_i(t)‖₂ = w_i ‖∇_W L_i‖₂,   Ḡ(t) = mean_i G_i(t),
 *   L̃_i(t) = L_i(t) / L_i(0),   r_i(t) = L̃_i(t) / mean_j L̃_j(t),
 *   L_grad = Σ_i | G_i(t) − Ḡ(t) · r_i(t)^α |,   targets Ḡ·r_i^α held constant,
 *   ∂L_grad/∂w_i = sign(G_i − Ḡ r_i^α) · ‖∇_W L_i‖₂,
 *
 * then w ← optimizer step on ∂L_grad/∂w and w ← k · w / Σ_j w_j. Step t's model update uses w(t);
 * the new w(t+1) is used from the next step on. w(0) = 1.
 *
 * Readings where the paper leaves a choice: L_i(0) is the loss of the first step the method sees;
 * the weights are updated by their own Adam (learning rate `learningRate`, default 0.025; the
 * paper names no optimizer for w); a weight the step would push below 0 is clipped to 0 before
 * the renormalisation (the paper assumes w_i > 0). α = 1.5 by default (the paper's NYUv2 value;
 * its toy problem used α = 0.12).
 * The last shared layer must be shared: if at the first step some task's loss has exactly zero
 * gradient on it while another's does not (soft sharing, where the last shared kernel is one task's
 * tower), G_i = 0 can never meet its target and that task's weight would grow without end, so the
 * method refuses and names target "representation".
 * Label masks (docs/missing-labels.md): a task absent from a step (no labelled row in the batch)
 * keeps its weight, its Adam moments and, until it is first present, has no L_i(0) (which is then
 * the loss of the first step it is present at); the present tasks are balanced among themselves
 * (Ḡ and the mean rate over them) and renormalised to the weight they had together before.
 */
import { check } from "../errors";
import {
  Adam64,
  AdamState,
  checkBound,
  checkOptions,
  finiteOrNull,
  numberArray,
  numberOption,
  numbersOrNaN,
  presentIn,
  presentIndices,
  readState,
  where,
} from "./common";
import { GradientTarget, WeighContext, Weighting, WeightingSetup } from "./types";

/** Options of {@link gradNorm}. */
export interface GradNormOptions {
  /** Asymmetry α ≥ 0 (default 1.5): how hard tasks that train slower are pulled back. */
  alpha?: number;
  /** Which gradients are normalised (default "lastSharedLayer"). */
  target?: GradientTarget;
  /** Learning rate of the weights' Adam (default 0.025). */
  learningRate?: number;
}

/** GradNorm's quantities at one step: each task's gradient norm, its target and the loss that moves the weights. */
export interface GradNormTerms {
  /** G_i = w_i ‖∇L_i‖. */
  norms: number[];
  meanNorm: number;
  /** r_i, the relative inverse training rates. */
  rates: number[];
  /** Ḡ · r_i^α. */
  targets: number[];
  /** ∂L_grad/∂w_i. */
  gradient: number[];
  /** L_grad itself. */
  loss: number;
}

/** GradNorm's quantities for one step, from the weights, the unweighted gradient norms and the losses. */
export function gradNormTerms(
  weights: readonly number[],
  gradNorms: readonly number[],
  losses: readonly number[],
  initialLosses: readonly number[],
  alpha: number,
): GradNormTerms {
  const k = weights.length;
  const norms = weights.map((w, i) => w * gradNorms[i]);
  const meanNorm = norms.reduce((a, b) => a + b, 0) / k;
  const ratios = losses.map((l, i) => l / initialLosses[i]);
  const meanRatio = ratios.reduce((a, b) => a + b, 0) / k;
  const rates = ratios.map((r) => r / meanRatio);
  const targets = rates.map((r) => meanNorm * Math.pow(r, alpha));
  const gradient = norms.map((g, i) => Math.sign(g - targets[i]) * gradNorms[i]);
  const loss = norms.reduce((s, g, i) => s + Math.abs(g - targets[i]), 0);
  return { norms, meanNorm, rates, targets, gradient, loss };
}

/**
 * GradNorm (Chen et al., ICML 2018): learns weights that bring each task's gradient norm to the mean norm times
 * its relative inverse training rate to the power α.
 */
export function gradNorm(options: GradNormOptions = {}): Weighting<Required<GradNormOptions>> & { lastTerms(): GradNormTerms | undefined } {
  checkOptions("gradNorm", options, ["alpha", "target", "learningRate"]);
  const alpha = numberOption("gradNorm", "alpha", options.alpha ?? 1.5, { min: 0 });
  const target = options.target ?? "lastSharedLayer";
  check(
    target === "lastSharedLayer" || target === "representation",
    where("gradNorm"),
    () => `option 'target' must be "lastSharedLayer" or "representation", got ${JSON.stringify(target)}.`,
  );
  const learningRate = numberOption("gradNorm", "learningRate", options.learningRate ?? 0.025, { above: 0 });
  let k: number | undefined;
  let weights: number[] = [];
  let initialLosses: number[] | undefined;
  let adam: Adam64 | undefined;
  let last: GradNormTerms | undefined;
  let taskNames: string[] = [];
  let lastKernel: string | undefined;
  return {
    name: "gradNorm",
    options: Object.freeze({ alpha, target, learningRate }),
    bind(setup: WeightingSetup) {
      k = setup.tasks.length;
      taskNames = setup.tasks.map((t) => t.name);
      lastKernel = setup.model
        .sharedVariables()
        .filter(([name]) => name === "kernel" || name.endsWith(".kernel"))
        .at(-1)?.[0];
      weights = new Array(k).fill(1);
      initialLosses = undefined;
      adam = new Adam64(k, learningRate);
    },
    async weigh(context: WeighContext) {
      const n = checkBound("gradNorm", k);
      const used = [...weights];
      const present = presentIn(context);
      const gradientNorms = await context.gradientNorms(target);
      if (!initialLosses) {
        initialLosses = new Array<number>(n).fill(NaN);
        if (target === "lastSharedLayer") checkShared(gradientNorms, context.losses, taskNames, lastKernel, present);
      }
      // L_i(0) is the task's loss at the first step it is present (has labelled rows).
      present.forEach((p, i) => {
        if (p && !Number.isFinite(initialLosses![i])) initialLosses![i] = context.losses[i];
      });
      const idx = presentIndices(present);
      if (idx.length === n) {
        last = gradNormTerms(used, gradientNorms, context.losses, initialLosses, alpha);
        const stepped = adam!.step(used, last.gradient).map((w) => Math.max(w, 0));
        const sum = stepped.reduce((a, b) => a + b, 0);
        weights = sum > 0 ? stepped.map((w) => (w * n) / sum) : new Array(n).fill(1);
        return used;
      }
      // Some tasks are absent: balance the present ones among themselves; the absent keep their weight.
      const pick = (xs: readonly number[]) => idx.map((i) => xs[i]);
      const sub =
        idx.length > 0 ? gradNormTerms(pick(used), pick(gradientNorms), pick(context.losses), pick(initialLosses), alpha) : undefined;
      const spread = (values: number[] | undefined, fill: number) => {
        const out = new Array<number>(n).fill(fill);
        idx.forEach((i, j) => (out[i] = values![j]));
        return out;
      };
      if (!sub) return used;
      last = {
        ...sub,
        norms: spread(sub.norms, NaN),
        rates: spread(sub.rates, NaN),
        targets: spread(sub.targets, NaN),
        gradient: spread(sub.gradient, 0),
      };
      const stepped = adam!.step(used, last.gradient, present).map((w) => Math.max(w, 0));
      const before = idx.reduce((a, i) => a + used[i], 0);
      const after = idx.reduce((a, i) => a + stepped[i], 0);
      weights = used.map((w, i) => (present[i] ? (after > 0 ? (stepped[i] * before) / after : before / idx.length) : w));
      return used;
    },
    lastTerms: () => last,
    variables: () => [],
    state: () => ({
      method: "gradNorm",
      weights: [...weights],
      initialLosses: initialLosses ? finiteOrNull(initialLosses) : null,
      adam: adam?.getState() ?? null,
    }),
    loadState(state: unknown) {
      const st = readState("gradNorm", state);
      const n = checkBound("gradNorm", k);
      weights = numberArray("gradNorm", "weights", st.weights, n);
      initialLosses = st.initialLosses === null ? undefined : numbersOrNaN("gradNorm", "initialLosses", st.initialLosses, n);
      if (st.adam) adam!.setState(st.adam as AdamState);
    },
  };
}

/**
 * Refuses a "last shared layer" that some tasks do not use: their loss is non-zero but its gradient
 * on the layer is exactly 0. (A task whose loss is 0 in this batch, e.g. all its labels missing,
 * says nothing and is not counted.)
 */
function checkShared(
  norms: number[],
  losses: readonly number[],
  taskNames: string[],
  kernel: string | undefined,
  present: readonly boolean[],
): void {
  const unused = taskNames.filter((_, i) => present[i] && norms[i] === 0 && losses[i] !== 0);
  check(
    unused.length === 0 || unused.length === present.filter(Boolean).length,
    where("gradNorm"),
    () =>
      `the last shared layer${kernel ? ` ('${kernel}')` : ""} is not used by task${unused.length > 1 ? "s" : ""} ${unused.map((t) => `'${t}'`).join(", ")} ` +
      `(its gradient is zero), so GradNorm cannot balance ${unused.length > 1 ? "them" : "it"} there; in soft sharing that layer belongs to one task's tower. ` +
      `Use option target: "representation".`,
  );
}
