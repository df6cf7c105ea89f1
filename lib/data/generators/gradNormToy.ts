/**
 * The toy regression of Chen et al., "GradNorm: Gradient Normalization for Adaptive Loss Balancing
 * in Deep Multitask Networks", ICML 2018 (Section 4): T tasks whose losses differ in scale by σ_i,
 *
 *   f_i(x) = σ_i · tanh((B + ε_i) x),   i = 1..T,   x ∈ R^250, f_i(x) ∈ R^100
 *   B_jk ~ N(0, 10²)  (shared by all tasks),   (ε_i)_jk ~ N(0, 3.5²)  (task-specific)
 *
 * Readings where the paper is vague: "N(0, 10)" and "N(0, 3.5)" are taken as standard deviations,
 * and the inputs, whose distribution the paper does not give, are x ~ U(0, 1)^250; both as in the
 * public reimplementations of the experiment. Default σ = [1, 100] (the paper's T = 2 case).
 */
import { check, checkKnownOptions, checkPositiveInteger } from "../../errors";
import { Rng } from "../../random";
import { regression } from "../../tasks/regression";
import { Task } from "../../tasks/task";
import { MultiTaskData } from "../dataset";

/** Options of {@link gradNormToy}. */
export interface GradNormToyOptions {
  seed?: number;
  /** Rows of data (default 10000). */
  rows?: number;
  /** σ_i per task; the number of tasks T is its length (default [1, 100]). */
  sigmas?: number[];
  /** Input dimension (default 250). */
  inputSize?: number;
  /** Output dimension per task (default 100). */
  outputSize?: number;
  /** Standard deviation of B's entries (default 10). */
  bStd?: number;
  /** Standard deviation of each ε_i's entries (default 3.5). */
  epsilonStd?: number;
}

/** What {@link gradNormToy} returns: the dataset and its regression tasks. */
export interface GradNormToy {
  data: MultiTaskData;
  /** regression("task0", { outputs }), …, one per σ. */
  tasks: Task[];
  sigmas: number[];
}

/**
 * The toy regression of Chen et al. (GradNorm, ICML 2018): tasks f_i(x) = σ_i tanh((B + ε_i)x) whose losses
 * differ in scale by σ_i.
 */
export function gradNormToy(options: GradNormToyOptions = {}): GradNormToy {
  const where = "gradNormToy";
  checkKnownOptions(where, options, ["seed", "rows", "sigmas", "inputSize", "outputSize", "bStd", "epsilonStd"]);
  const rows = options.rows ?? 10000;
  const n = options.inputSize ?? 250;
  const k = options.outputSize ?? 100;
  checkPositiveInteger(where, "rows", rows);
  checkPositiveInteger(where, "inputSize", n);
  checkPositiveInteger(where, "outputSize", k);
  const sigmas = options.sigmas ?? [1, 100];
  check(
    Array.isArray(sigmas) && sigmas.length >= 1 && sigmas.every((s) => Number.isFinite(s) && s > 0),
    where,
    () => `option 'sigmas' must be a non-empty list of positive numbers (one per task), got ${JSON.stringify(sigmas)}.`,
  );
  const bStd = options.bStd ?? 10;
  const epsilonStd = options.epsilonStd ?? 3.5;
  check(Number.isFinite(bStd) && bStd >= 0, where, () => `option 'bStd' must be ≥ 0, got ${bStd}.`);
  check(Number.isFinite(epsilonStd) && epsilonStd >= 0, where, () => `option 'epsilonStd' must be ≥ 0, got ${epsilonStd}.`);

  const rng = new Rng(options.seed ?? 0);
  const B = Float64Array.from({ length: k * n }, () => rng.normal(0, bStd));
  // Per task, the full matrix B + ε_i (k × n, row-major).
  const mats = sigmas.map(() => {
    const m = new Float64Array(k * n);
    for (let i = 0; i < m.length; i++) m[i] = B[i] + rng.normal(0, epsilonStd);
    return m;
  });
  const features = new Float32Array(rows * n);
  for (let i = 0; i < features.length; i++) features[i] = rng.uniform();
  const targets: Record<string, { values: Float32Array; width: number }> = {};
  sigmas.forEach((sigma, t) => {
    const m = mats[t];
    const out = new Float32Array(rows * k);
    for (let r = 0; r < rows; r++) {
      const x = features.subarray(r * n, r * n + n);
      for (let j = 0; j < k; j++) {
        let s = 0;
        const row = j * n;
        for (let c = 0; c < n; c++) s += m[row + c] * x[c];
        out[r * k + j] = sigma * Math.tanh(s);
      }
    }
    targets[`task${t}`] = { values: out, width: k };
  });
  const data: MultiTaskData = {
    rows,
    features,
    featureCount: n,
    featureNames: Array.from({ length: n }, (_, j) => `x${j}`),
    targets,
  };
  const tasks = sigmas.map((_, t) => regression(`task${t}`, { outputs: k }));
  return { data, tasks, sigmas: [...sigmas] };
}
