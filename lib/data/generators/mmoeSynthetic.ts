/**
 * The synthetic regression pair of Ma et al., "Modeling Task Relationships in Multi-task Learning
 * with Multi-gate Mixture-of-Experts", KDD 2018 (Section 3.2), whose task correlation is set by p:
 *
 *   u_1 ⟂ u_2 unit vectors in R^d,    w_1 = c·u_1,    w_2 = c·(p·u_1 + √(1 − p²)·u_2)
 *   x ~ N(0, I_d)
 *   y_k = w_kᵀx + Σ_{i=1..m} sin(α_i·w_kᵀx + β_i) + ε_k,    ε_k ~ N(0, σ_ε²)
 *
 * so cos(w_1, w_2) = p exactly, and the Pearson correlation of the linear parts is p as well.
 * Readings where the paper is vague: it leaves α_i and β_i unspecified; we default to
 * α_i = i, β_i = (i − 1)² (the values of the authors' group's public generator in
 * google-research/moe_mtl), and read its noise "N(0, 0.01)" as a standard deviation of 0.01 (same
 * source). u_1, u_2 come from Gram–Schmidt on two Gaussian vectors. Defaults: d = 100, c = 1, m = 10.
 */
import { check, checkKnownOptions, checkFiniteNumber, checkPositiveInteger } from "../../errors";
import { Rng } from "../../random";
import { regression } from "../../tasks/regression";
import { Task } from "../../tasks/task";
import { MultiTaskData } from "../dataset";

/** Options of {@link mmoeSynthetic}; `p` sets the tasks' correlation. */
export interface MmoeSyntheticOptions {
  /** Task correlation p ∈ [−1, 1]: the cosine between w_1 and w_2. */
  p: number;
  rows: number;
  /** Input dimension d (default 100). */
  inputSize?: number;
  /** Number of sine terms m (default 10). */
  m?: number;
  /** Scale c of the weight vectors (default 1). */
  c?: number;
  /** α_1..α_m (default 1..m). */
  alphas?: number[];
  /** β_1..β_m (default 0, 1, 4, …, (m−1)²). */
  betas?: number[];
  /** Standard deviation of the label noise ε (default 0.01). */
  noiseStd?: number;
  seed?: number;
}

/** What {@link mmoeSynthetic} returns: the dataset, its two regression tasks and the weight vectors behind them. */
export interface MmoeSynthetic {
  data: MultiTaskData;
  /** regression("y1"), regression("y2"). */
  tasks: Task[];
  /** The two task weight vectors (length d); cos(w1, w2) = p. */
  w1: Float64Array;
  w2: Float64Array;
  alphas: number[];
  betas: number[];
}

/** The synthetic regression pair of Ma et al. (MMoE, KDD 2018), whose relatedness is set exactly: cos(w₁, w₂) = p. */
export function mmoeSynthetic(options: MmoeSyntheticOptions): MmoeSynthetic {
  const where = "mmoeSynthetic";
  checkKnownOptions(where, options, ["p", "rows", "inputSize", "m", "c", "alphas", "betas", "noiseStd", "seed"]);
  check(options !== undefined, where, () => "expected options { p, rows }.");
  const { p, rows } = options;
  checkFiniteNumber(where, "p", p);
  check(p >= -1 && p <= 1, where, () => `option 'p' is a correlation and must lie in [-1, 1], got ${p}.`);
  checkPositiveInteger(where, "rows", rows);
  const d = options.inputSize ?? 100;
  checkPositiveInteger(where, "inputSize", d);
  check(d >= 2, where, () => `option 'inputSize' must be at least 2 to hold two orthogonal vectors, got ${d}.`);
  const m = options.m ?? 10;
  check(Number.isInteger(m) && m >= 0, where, () => `option 'm' must be a non-negative integer, got ${m}.`);
  const c = options.c ?? 1;
  checkFiniteNumber(where, "c", c);
  const noiseStd = options.noiseStd ?? 0.01;
  checkFiniteNumber(where, "noiseStd", noiseStd);
  check(noiseStd >= 0, where, () => `option 'noiseStd' must be ≥ 0, got ${noiseStd}.`);
  const alphas = options.alphas ?? Array.from({ length: m }, (_, i) => i + 1);
  const betas = options.betas ?? Array.from({ length: m }, (_, i) => i * i);
  check(alphas.length === m && alphas.every(Number.isFinite), where, () => `option 'alphas' must be ${m} finite numbers.`);
  check(betas.length === m && betas.every(Number.isFinite), where, () => `option 'betas' must be ${m} finite numbers.`);

  const rng = new Rng(options.seed ?? 0);
  const [u1, u2] = orthonormalPair(rng, d);
  const q = Math.sqrt(Math.max(0, 1 - p * p));
  const w1 = new Float64Array(d);
  const w2 = new Float64Array(d);
  for (let j = 0; j < d; j++) {
    w1[j] = c * u1[j];
    w2[j] = c * (p * u1[j] + q * u2[j]);
  }

  const features = new Float32Array(rows * d);
  const y1 = new Float32Array(rows);
  const y2 = new Float32Array(rows);
  const label = (dot: number): number => {
    let s = dot;
    for (let i = 0; i < m; i++) s += Math.sin(alphas[i] * dot + betas[i]);
    return s;
  };
  for (let r = 0; r < rows; r++) {
    let dot1 = 0;
    let dot2 = 0;
    for (let j = 0; j < d; j++) {
      const x = rng.normal();
      features[r * d + j] = x;
      dot1 += w1[j] * x;
      dot2 += w2[j] * x;
    }
    y1[r] = label(dot1) + rng.normal(0, noiseStd);
    y2[r] = label(dot2) + rng.normal(0, noiseStd);
  }
  const data: MultiTaskData = {
    rows,
    features,
    featureCount: d,
    featureNames: Array.from({ length: d }, (_, j) => `x${j}`),
    targets: { y1: { values: y1, width: 1 }, y2: { values: y2, width: 1 } },
  };
  return { data, tasks: [regression("y1"), regression("y2")], w1, w2, alphas, betas };
}

/** Two orthonormal vectors by Gram–Schmidt on Gaussian draws (uniform on the sphere). */
function orthonormalPair(rng: Rng, d: number): [Float64Array, Float64Array] {
  const a = Float64Array.from({ length: d }, () => rng.normal());
  normalise(a);
  for (;;) {
    const b = Float64Array.from({ length: d }, () => rng.normal());
    let dot = 0;
    for (let j = 0; j < d; j++) dot += a[j] * b[j];
    for (let j = 0; j < d; j++) b[j] -= dot * a[j];
    if (normalise(b) > 1e-8) return [a, b];
  }
}

function normalise(v: Float64Array): number {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n);
  if (n > 0) for (let j = 0; j < v.length; j++) v[j] /= n;
  return n;
}
