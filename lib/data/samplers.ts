/**
 * Task samplers for multi-dataset multi-task learning (each task has its own dataset; every step
 * trains one task on a batch of its data). With dataset sizes n_1..n_k:
 *
 * - roundRobin:    task (s mod k) at step s; every task gets the same number of steps.
 * - proportional:  p_i = n_i / Σ_j n_j  (sampling examples uniformly from the union).
 * - temperature T: p_i = n_i^{1/T} / Σ_j n_j^{1/T}  (Arivazhagan et al. 2019, "Massively
 *                  Multilingual NMT"; T = 1 is proportional, T → ∞ uniform; T > 0).
 * - annealed:      p_i(s) ∝ n_i^{α(s)},  α(s) = 1 − (1 − α_end)·s/(S − 1)  (Stickland & Murray,
 *                  ICML 2019, "BERT and PALs": α = 1 − 0.8·(e − 1)/(E − 1) over E epochs; we
 *                  anneal per step over S total steps, α_end = 0.2 by default), so training starts
 *                  proportional and ends close to uniform.
 * Random samplers draw by inverse CDF from a seeded Rng; their state (the Rng) is checkpointable.
 */
import { check, checkKnownOptions, checkPositiveInteger, MtlError } from "../errors";
import { checkSeed, Rng, RngState } from "../random";

/**
 * Chooses the task that trains at each step when each task has its own dataset (the trainer's `sampler` option);
 * its state is checkpointable.
 */
export interface TaskSampler {
  readonly name: string;
  /** The task (index into `sizes`' order) trained at step `step`. */
  next(step: number): number;
  /** The probability of each task at `step` (round-robin: 1 for its task, 0 otherwise). */
  probabilities(step: number): number[];
  getState(): { rng?: RngState };
  setState(state: { rng?: RngState }): void;
}

/** Dataset sizes by task name, or in task order. */
export type TaskSizes = number[] | Record<string, number>;

function checkSizes(where: string, sizes: TaskSizes): number[] {
  const entries: Array<[string, number]> = Array.isArray(sizes) ? sizes.map((n, i) => [`task ${i}`, n]) : Object.entries(sizes ?? {});
  check(entries.length > 0, where, () => "no tasks: give one dataset size per task.");
  for (const [task, n] of entries) {
    if (!(Number.isInteger(n) && n > 0)) {
      throw new MtlError(
        where,
        `the dataset of ${Array.isArray(sizes) ? task : `task '${task}'`} has ${n} rows; every task needs a non-empty dataset.`,
      );
    }
  }
  return entries.map(([, n]) => n);
}

function powerProbabilities(sizes: number[], alpha: number): number[] {
  // Normalise by the largest size first so n^α never overflows.
  const max = Math.max(...sizes);
  const w = sizes.map((n) => Math.pow(n / max, alpha));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

function draw(rng: Rng, p: number[]): number {
  const u = rng.uniform();
  let c = 0;
  for (let i = 0; i < p.length; i++) {
    c += p[i];
    if (u < c) return i;
  }
  return p.length - 1;
}

function randomSampler(name: string, probs: (step: number) => number[], seed: number): TaskSampler {
  const rng = new Rng(seed);
  return {
    name,
    next: (step) => draw(rng, probs(step)),
    probabilities: probs,
    getState: () => ({ rng: rng.getState() }),
    setState: (s) => s.rng && rng.setState(s.rng),
  };
}

/** Tasks in turn, one per step. */
export function roundRobin(sizes: TaskSizes): TaskSampler {
  const k = checkSizes("roundRobin", sizes).length;
  return {
    name: "roundRobin",
    next: (step) => step % k,
    probabilities: (step) => Array.from({ length: k }, (_, i) => (i === step % k ? 1 : 0)),
    getState: () => ({}),
    setState: () => undefined,
  };
}

/** A task drawn per step with probability p_i ∝ n_i, its dataset's size. */
export function proportional(sizes: TaskSizes, options: { seed?: number } = {}): TaskSampler {
  checkKnownOptions("proportional", options, ["seed"]);
  const n = checkSizes("proportional", sizes);
  const p = powerProbabilities(n, 1);
  return randomSampler("proportional", () => p, checkSeed("proportional", options.seed));
}

/** A task drawn per step with p_i ∝ n_i^{1/T}: T = 1 is proportional, large T close to uniform. */
export function temperature(sizes: TaskSizes, options: { T: number; seed?: number }): TaskSampler {
  const where = "temperature";
  checkKnownOptions(where, options, ["T", "seed"]);
  const T = options?.T;
  check(
    typeof T === "number" && Number.isFinite(T) && T > 0,
    where,
    () => `the temperature T must be a finite number > 0 (T = 1: proportional, larger: closer to uniform), got ${T}.`,
  );
  const p = powerProbabilities(checkSizes(where, sizes), 1 / T);
  return randomSampler(`temperature(T=${T})`, () => p, checkSeed(where, options.seed));
}

/**
 * Annealed sampling (Stickland & Murray, ICML 2019): p_i ∝ n_i^{α(s)}, α going from 1 down to `alphaEnd` (0.2)
 * over `totalSteps`.
 */
export function annealed(sizes: TaskSizes, options: { totalSteps: number; alphaEnd?: number; seed?: number }): TaskSampler {
  const where = "annealed";
  checkKnownOptions(where, options, ["totalSteps", "alphaEnd", "seed"]);
  checkPositiveInteger(where, "totalSteps", options?.totalSteps);
  const alphaEnd = options.alphaEnd ?? 0.2;
  check(Number.isFinite(alphaEnd) && alphaEnd >= 0 && alphaEnd <= 1, where, () => `option 'alphaEnd' must lie in [0, 1], got ${alphaEnd}.`);
  const n = checkSizes(where, sizes);
  const S = options.totalSteps;
  const alpha = (step: number) => 1 - (1 - alphaEnd) * Math.min(1, S > 1 ? step / (S - 1) : 1);
  return randomSampler("annealed", (step) => powerProbabilities(n, alpha(step)), checkSeed(where, options.seed));
}
