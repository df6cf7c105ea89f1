/**
 * Small float64 statistics for results over seeds: mean, sample standard deviation (n − 1) and
 * Student-t intervals. The t quantile comes from the regularized incomplete beta function
 * (continued fraction, Lentz's method) inverted by bisection; no dependency.
 */
import { check } from "../errors";

/** The arithmetic mean of values (e.g. one metric over seeds); NaN for none. */
export function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation with Bessel's correction; 0 for a single value. */
export function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** A confidence interval, with its level and how it was computed. */
export interface Interval {
  low: number;
  high: number;
  /** Confidence level, e.g. 0.95. */
  level: number;
  /** How it was computed, e.g. "Student-t, 4 df". */
  method: string;
}

/** Mean, sample standard deviation and Student-t interval of the mean of independent runs. */
export interface Summary {
  mean: number;
  std: number;
  n: number;
  /** Two-sided Student-t interval for the mean: mean ± t_{(1+level)/2, n−1} · std/√n; undefined for n < 2. */
  interval?: Interval;
  values: number[];
}

/** Mean, std and the Student-t confidence interval of the mean of independent runs (seeds). */
export function summarize(values: readonly number[], level = 0.95): Summary {
  check(values.length > 0, "summarize", () => "needs at least one value.");
  checkLevel(level);
  const m = mean(values);
  const s = std(values);
  const n = values.length;
  const out: Summary = { mean: m, std: s, n, values: [...values] };
  if (n >= 2) {
    const half = studentTQuantile((1 + level) / 2, n - 1) * (s / Math.sqrt(n));
    out.interval = { low: m - half, high: m + half, level, method: `Student-t, ${n - 1} df` };
  }
  return out;
}

export function checkLevel(level: number): void {
  check(Number.isFinite(level) && level > 0 && level < 1, "confidence level", () => `must lie in (0, 1), got ${level}.`);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; ~15 significant digits). */
export function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized incomplete beta I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  // The continued fraction converges fast for x < (a + 1)/(a + b + 2); use the symmetry otherwise.
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(x, a, b)) / a;
  return 1 - (front * betaFraction(1 - x, b, a)) / b;
}

function betaFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** P(T ≤ t) for Student's t with `df` degrees of freedom (df may be fractional, as Welch's). */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The p-quantile of Student's t (p in (0, 1)). */
export function studentTQuantile(p: number, df: number): number {
  check(p > 0 && p < 1 && df > 0, "studentTQuantile", () => `needs p in (0, 1) and df > 0, got p ${p}, df ${df}.`);
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
