/**
 * The two-objective toy of Liu et al., "Conflict-Averse Gradient Descent for Multi-task Learning"
 * (CAGrad), NeurIPS 2021 (Section 5.1), reused by Navon et al., "Multi-Task Learning as a
 * Bargaining Game" (Nash-MTL), ICML 2022 (Section 6.1), who scale the first loss by 0.1 so that the
 * two losses also differ in size. Two losses over θ = (x₁, x₂) ∈ R²:
 *
 *   u₁ = ½(−x₁ − 7) − tanh(−x₂),       u₂ = ½(−x₁ + 3) + tanh(−x₂) + 2
 *   h_i = log max(|u_i|, 5·10⁻⁶) + 6                                   (a narrow valley, for x₂ > 0)
 *   q₁ = ((−x₁ + 7)² + 0.1(−x₂ − 8)²)/10 − 20,  q₂ = ((−x₁ − 7)² + 0.1(−x₂ − 8)²)/10 − 20   (x₂ < 0)
 *   c₁ = max(tanh(x₂/2), 0),  c₂ = max(tanh(−x₂/2), 0)
 *   L₁ = s·(c₁h₁ + c₂q₁),  L₂ = c₁h₂ + c₂q₂       (s = `scale`: 1 in CAGrad, 0.1 in Nash-MTL)
 *
 * The Pareto set lies near x₂ ≈ −8.36 for x₁ ∈ [−7, 7] (the papers draw it there); `paretoFront`
 * computes it numerically instead: the losses on a fine grid, then the non-dominated points.
 * Gradients are written out analytically (the papers use autograd; the clamp in h_i has zero
 * gradient where it is active and max(·, 0) passes it where its argument is ≥ 0, as PyTorch's clamp does). `trajectory` runs an aggregator on the toy with Adam,
 * as both papers do (CAGrad: lr 10⁻³, 10⁵ steps; Nash-MTL: lr 10⁻³, 3.5·10⁴ steps).
 */
import * as tf from "@tensorflow/tfjs";
import { Aggregator, GramianAggregator } from "../../aggregators/types";
import { check, checkKnownOptions, checkPositiveInteger } from "../../errors";
import { Adam64 } from "../../weighting/common";

/** Options of {@link cagradToy}. */
export interface CagradToyOptions {
  /** s, the factor on the first loss (default 1, CAGrad's toy; Nash-MTL uses 0.1). */
  scale?: number;
}

/** Options of `CagradToy.paretoFront`: the grid the non-dominated points are searched on. */
export interface ParetoFrontOptions {
  /** Grid points per axis (default 801). */
  resolution?: number;
  /** The grid covers [−range, range]² (default 10). */
  range?: number;
}

/** Options of `CagradToy.trajectory`: the Adam run that follows an aggregator's updates. */
export interface TrajectoryOptions {
  /** Adam steps (default 35000, Nash-MTL's). */
  steps?: number;
  /** Adam's learning rate (default 10⁻³, both papers'). */
  learningRate?: number;
  /** Keep every n-th point of the path (default: about 500 points in all). */
  every?: number;
}

/** One optimisation path of the toy, subsampled, with its losses. */
export interface Trajectory {
  /** θ along the path (the start first, the final point last). */
  points: Array<[number, number]>;
  /** (L₁, L₂) at those points. */
  losses: Array<[number, number]>;
  /** The final θ and losses. */
  final: [number, number];
  finalLosses: [number, number];
}

/** The toy problem: its two losses and Jacobian, its Pareto front, and aggregator trajectories. */
export interface CagradToy {
  /** s, the factor on the first loss. */
  scale: number;
  /** (L₁(θ), L₂(θ)). */
  losses(x1: number, x2: number): [number, number];
  /** The Jacobian, row i = ∇θ L_i. */
  jacobian(x1: number, x2: number): [[number, number], [number, number]];
  /** Non-dominated points of the losses on a grid, ordered by L₁ (ascending). */
  paretoFront(options?: ParetoFrontOptions): Array<{ x: [number, number]; losses: [number, number] }>;
  /** Adam on the aggregator's update from `start`. */
  trajectory(aggregator: Aggregator, start: readonly [number, number], options?: TrajectoryOptions): Trajectory;
}

/** The five starting points of Nash-MTL's toy (CAGrad used the first, (−8.5, −5) and (9, 9)). */
export const CAGRAD_TOY_STARTS: ReadonlyArray<readonly [number, number]> = [
  [-8.5, 7.5],
  [0, 0],
  [9, 9],
  [-7.5, -0.5],
  [9, -1],
];

const LOWER = 5e-6;

/**
 * The two-objective toy of the CAGrad (Liu et al., NeurIPS 2021) and Nash-MTL (Navon et al., ICML 2022)
 * papers: θ ∈ ℝ², two losses whose gradients conflict and differ in scale over most of the plane, the
 * exact Jacobian, a Pareto front computed on a grid, and Adam trajectories for any aggregator.
 *
 * ```ts
 * const toy = mtl.data.cagradToy({ scale: 0.1 });
 * const path = toy.trajectory(mtl.aggregators.mgda(), mtl.data.CAGRAD_TOY_STARTS[0]);
 * ```
 */
export function cagradToy(options: CagradToyOptions = {}): CagradToy {
  const where = "cagradToy";
  checkKnownOptions(where, options, ["scale"]);
  const s = options.scale ?? 1;
  check(Number.isFinite(s) && s > 0, where, () => `option 'scale' must be a positive number, got ${s}.`);

  function parts(x1: number, x2: number) {
    const t = Math.tanh(x2);
    const u1 = -0.5 * x1 - 3.5 + t;
    const u2 = -0.5 * x1 + 3.5 - t;
    const h1 = Math.log(Math.max(Math.abs(u1), LOWER)) + 6;
    const h2 = Math.log(Math.max(Math.abs(u2), LOWER)) + 6;
    const q1 = ((x1 - 7) ** 2 + 0.1 * (x2 + 8) ** 2) / 10 - 20;
    const q2 = ((x1 + 7) ** 2 + 0.1 * (x2 + 8) ** 2) / 10 - 20;
    const th = Math.tanh(x2 / 2);
    const c1 = Math.max(th, 0);
    const c2 = Math.max(-th, 0);
    return { t, u1, u2, h1, h2, q1, q2, th, c1, c2 };
  }

  function losses(x1: number, x2: number): [number, number] {
    const p = parts(x1, x2);
    return [s * (p.c1 * p.h1 + p.c2 * p.q1), p.c1 * p.h2 + p.c2 * p.q2];
  }

  function jacobian(x1: number, x2: number): [[number, number], [number, number]] {
    const p = parts(x1, x2);
    const sech2 = 1 - p.t * p.t;
    // d log|u| = du / u where the clamp is inactive.
    const dh1 = Math.abs(p.u1) > LOWER ? [-0.5 / p.u1, sech2 / p.u1] : [0, 0];
    const dh2 = Math.abs(p.u2) > LOWER ? [-0.5 / p.u2, -sech2 / p.u2] : [0, 0];
    const dq1 = [0.2 * (x1 - 7), 0.02 * (x2 + 8)];
    const dq2 = [0.2 * (x1 + 7), 0.02 * (x2 + 8)];
    const halfSech2 = 0.5 * (1 - p.th * p.th);
    // max(·, 0) passes the gradient where its argument is ≥ 0 (PyTorch's clamp), so x₂ = 0 is not a flat point.
    const dc1 = p.th >= 0 ? halfSech2 : 0;
    const dc2 = p.th <= 0 ? -halfSech2 : 0;
    const g1: [number, number] = [s * (p.c1 * dh1[0] + p.c2 * dq1[0]), s * (p.c1 * dh1[1] + dc1 * p.h1 + p.c2 * dq1[1] + dc2 * p.q1)];
    const g2: [number, number] = [p.c1 * dh2[0] + p.c2 * dq2[0], p.c1 * dh2[1] + dc1 * p.h2 + p.c2 * dq2[1] + dc2 * p.q2];
    return [g1, g2];
  }

  function paretoFront(opts: ParetoFrontOptions = {}) {
    checkKnownOptions(`${where}.paretoFront`, opts, ["resolution", "range"]);
    const n = opts.resolution ?? 801;
    const range = opts.range ?? 10;
    checkPositiveInteger(`${where}.paretoFront`, "resolution", n);
    check(n >= 2, `${where}.paretoFront`, () => `option 'resolution' must be at least 2, got ${n}.`);
    check(Number.isFinite(range) && range > 0, `${where}.paretoFront`, () => `option 'range' must be a positive number, got ${range}.`);
    const count = n * n;
    const f1 = new Float64Array(count);
    const f2 = new Float64Array(count);
    const coord = (i: number) => -range + (2 * range * i) / (n - 1);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const [a, b] = losses(coord(i), coord(j));
        f1[i * n + j] = a;
        f2[i * n + j] = b;
      }
    }
    // Sort by L₁ (ties by L₂); a point is non-dominated when its L₂ is below every L₂ seen before it.
    const order = Uint32Array.from({ length: count }, (_, i) => i).sort((a, b) => f1[a] - f1[b] || f2[a] - f2[b]);
    const front: Array<{ x: [number, number]; losses: [number, number] }> = [];
    let best = Infinity;
    for (const idx of order) {
      if (f2[idx] < best) {
        best = f2[idx];
        front.push({ x: [coord(Math.floor(idx / n)), coord(idx % n)], losses: [f1[idx], f2[idx]] });
      }
    }
    return front;
  }

  function trajectory(aggregator: Aggregator, start: readonly [number, number], opts: TrajectoryOptions = {}): Trajectory {
    checkKnownOptions(`${where}.trajectory`, opts, ["steps", "learningRate", "every"]);
    const steps = opts.steps ?? 35000;
    checkPositiveInteger(`${where}.trajectory`, "steps", steps);
    const lr = opts.learningRate ?? 1e-3;
    check(Number.isFinite(lr) && lr > 0, `${where}.trajectory`, () => `option 'learningRate' must be a positive number, got ${lr}.`);
    const every = opts.every ?? Math.max(1, Math.floor(steps / 500));
    checkPositiveInteger(`${where}.trajectory`, "every", every);
    check(
      Array.isArray(start) && start.length === 2 && start.every(Number.isFinite),
      `${where}.trajectory`,
      () => `the start must be two finite numbers, got ${JSON.stringify(start)}.`,
    );
    const weights = (aggregator as GramianAggregator).weights;
    // Gramian methods run in float64 on the 2 × 2 Gramian; any other aggregator gets the Jacobian as a tensor.
    const direction = (J: [[number, number], [number, number]]): number[] => {
      if (typeof weights === "function") {
        const G = J.map((a) => J.map((b) => a[0] * b[0] + a[1] * b[1]));
        const w = weights.call(aggregator, G, { taskNames: ["L1", "L2"] });
        return [w[0] * J[0][0] + w[1] * J[1][0], w[0] * J[0][1] + w[1] * J[1][1]];
      }
      return tf.tidy(() => Array.from(aggregator.aggregate(tf.tensor2d(J), { taskNames: ["L1", "L2"] }).dataSync()));
    };
    const adam = new Adam64(2, lr);
    let x = [start[0], start[1]];
    const points: Array<[number, number]> = [];
    for (let t = 0; t < steps; t++) {
      if (t % every === 0) points.push([x[0], x[1]]);
      const d = direction(jacobian(x[0], x[1]));
      if (!d.every(Number.isFinite)) break;
      x = adam.step(x, d);
    }
    const final: [number, number] = [x[0], x[1]];
    points.push(final);
    return { points, losses: points.map(([a, b]) => losses(a, b)), final, finalLosses: losses(final[0], final[1]) };
  }

  return { scale: s, losses, jacobian, paretoFront, trajectory };
}
