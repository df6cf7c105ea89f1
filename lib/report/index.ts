/**
 * Readings: the sentences of a tutorial (or any report) that state a number, a ranking or a verdict,
 * written from the run's own values so that they cannot contradict them.
 *
 * ```ts
 * const eq = [0.81, 0.83, 0.80, 0.82, 0.84];  // one value per seed
 * const gn = [0.86, 0.88, 0.85, 0.87, 0.86];
 * const c = mtl.report.compare(gn, eq, { higherIsBetter: true });
 * mtl.report.reading("03-gradnorm-vs-equal", { verdict: c.verdict },
 *   `GradNorm ${mtl.report.verdictPhrase(c, "GradNorm", "equal weighting")}.`);
 * ```
 *
 * A reading displays as Markdown and also carries its values under the MIME type
 * `application/vnd.mtlkit.reading+json`, so tests can assert a notebook's claims on the executed file.
 * Two results are called different only when their confidence intervals do not overlap: a deliberately
 * conservative rule that a reader can check by eye on the printed intervals.
 * @module
 */
import { withDisplay } from "../display/attach";
import type { MimeBundle } from "../display/table";
import { MtlError } from "../errors";
import { summarize, Summary } from "../eval/stats";

/** The MIME type under which a reading's values are stored in the notebook. */
export const READING_MIME = "application/vnd.mtlkit.reading+json";

/**
 * How one result stands against another: "better" or "worse" only when their confidence intervals
 * do not overlap (in the metric's own direction), else "indistinguishable".
 */
export type Verdict = "better" | "worse" | "indistinguishable";

/** Values across seeds, or their summary. */
export type Sample = readonly number[] | Summary;

/** Options of {@link compare} and {@link rank}: the metric's direction and the intervals' level. */
export interface CompareOptions {
  /** Whether larger values are better (accuracy) or worse (loss, error). Default true. */
  higherIsBetter?: boolean;
  /** Confidence level of each interval. Default 0.95. */
  level?: number;
}

/**
 * What {@link compare} found: the verdict, each sample's summary (mean, standard deviation, interval),
 * and the difference of the means, in the metric's own units.
 */
export interface Comparison {
  /** How the first sample stands against the second. */
  verdict: Verdict;
  /** The first sample's summary. */
  a: Summary;
  /** The second sample's summary. */
  b: Summary;
  /** mean(a) − mean(b), in the metric's own direction (positive: a has the larger mean). */
  difference: number;
  /** The direction the verdict was given in (the option, default true). */
  higherIsBetter: boolean;
}

function summaryOf(where: string, s: Sample, level: number): Summary {
  if (isSummary(s)) {
    if (s.n >= 2 && !s.interval) throw new MtlError(where, "a summary of several values needs its interval.");
    return s;
  }
  if (s.length === 0) throw new MtlError(where, "needs at least one value.");
  const bad = s.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new MtlError(where, `value ${bad} is ${s[bad]}; every value must be finite.`);
  return summarize(s, level);
}

function isSummary(s: Sample): s is Summary {
  return !Array.isArray(s) && typeof (s as Summary).mean === "number";
}

/** The interval of a summary, or the single value as a point when there is only one. */
export function bounds(s: Summary): [number, number] {
  return s.interval ? [s.interval.low, s.interval.high] : [s.mean, s.mean];
}

/**
 * Compares two results by their confidence intervals of the mean: "better" or "worse" only when the
 * intervals do not overlap, else "indistinguishable". A single value has no spread, so a comparison
 * that involves one is always "indistinguishable".
 */
export function compare(a: Sample, b: Sample, options: CompareOptions = {}): Comparison {
  const higherIsBetter = options.higherIsBetter ?? true;
  const level = options.level ?? 0.95;
  const sa = summaryOf("report.compare (first sample)", a, level);
  const sb = summaryOf("report.compare (second sample)", b, level);
  const [aLow, aHigh] = bounds(sa);
  const [bLow, bHigh] = bounds(sb);
  let verdict: Verdict = "indistinguishable";
  if (sa.n >= 2 && sb.n >= 2) {
    if (aLow > bHigh) verdict = higherIsBetter ? "better" : "worse";
    else if (aHigh < bLow) verdict = higherIsBetter ? "worse" : "better";
  }
  return { verdict, a: sa, b: sb, difference: sa.mean - sb.mean, higherIsBetter };
}

/** One named result in {@link rank}'s order, best first. */
export interface RankedEntry {
  /** The result's name, a key of the object given to `rank`. */
  name: string;
  /** Its values' summary: mean, standard deviation, confidence interval. */
  summary: Summary;
  /** Place by mean, 1 = best. */
  place: number;
  /** Whether this entry's interval overlaps the best entry's (so it may be as good as the best). */
  tiedWithBest: boolean;
}

/** Orders named results by mean, best first, and marks which are indistinguishable from the best. */
export function rank(results: Record<string, Sample>, options: CompareOptions = {}): RankedEntry[] {
  const names = Object.keys(results);
  if (names.length === 0) throw new MtlError("report.rank", "needs at least one named result.");
  const higherIsBetter = options.higherIsBetter ?? true;
  const level = options.level ?? 0.95;
  const entries = names.map((name) => ({ name, summary: summaryOf(`report.rank ('${name}')`, results[name], level) }));
  entries.sort((x, y) => (higherIsBetter ? y.summary.mean - x.summary.mean : x.summary.mean - y.summary.mean));
  const best = entries[0].summary;
  return entries.map((e, i) => ({
    ...e,
    place: i + 1,
    tiedWithBest: i === 0 || compare(e.summary, best, { higherIsBetter, level }).verdict === "indistinguishable",
  }));
}

/** A number with `digits` significant digits (at most), without exponent notation for everyday sizes. */
export function fmt(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const magnitude = Math.floor(Math.log10(Math.abs(x)));
  if (magnitude >= 6 || magnitude < -4) return x.toPrecision(digits);
  const decimals = Math.max(0, digits - 1 - magnitude);
  return Number(x.toFixed(decimals)).toString();
}

/** "0.831 [0.802, 0.860]": the mean and its interval (or the value alone for a single run). */
export function fmtSummary(s: Sample, digits = 3, level = 0.95): string {
  const sum = summaryOf("report.fmtSummary", s, level);
  if (!sum.interval) return fmt(sum.mean, digits);
  return `${fmt(sum.mean, digits)} [${fmt(sum.interval.low, digits)}, ${fmt(sum.interval.high, digits)}]`;
}

/**
 * The verdict of a comparison as a phrase: "is better than equal weighting (0.87 [0.85, 0.88] vs
 * 0.82 [0.80, 0.84])" or "and equal weighting are indistinguishable (…)". `aName` is the subject.
 */
export function verdictPhrase(c: Comparison, aName: string, bName: string, digits = 3): string {
  const numbers = `(${fmtSummary(c.a, digits)} vs ${fmtSummary(c.b, digits)})`;
  if (c.verdict === "indistinguishable") return `${aName} and ${bName} are indistinguishable ${numbers}`;
  return `${aName} is ${c.verdict} than ${bName} ${numbers}`;
}

/** The values a reading records: JSON data (numbers, strings, booleans, arrays, plain objects). */
export type ReadingValues = Record<string, unknown>;

/**
 * A claim of a report, as {@link reading} returns it: shown in a notebook as its Markdown, with its
 * values recorded under {@link READING_MIME} so that a test can assert the claim on the executed notebook.
 */
export interface Reading {
  /** Names the claim, e.g. "03-balance" (letters, digits, '.', '_', '-'). */
  id: string;
  /** The values the prose was written from, as JSON (finite numbers, strings, booleans, null, lists, objects). */
  values: ReadingValues;
  /** The prose shown. */
  markdown: string;
}

/**
 * A reading: Markdown prose built from the run's values, shown as the cell's output, with the values
 * recorded under {@link READING_MIME} for the notebook's tests. `id` names the claim (e.g. "03-balance").
 */
export function reading(id: string, values: ReadingValues, markdown: string | ((values: ReadingValues) => string)): Reading {
  if (typeof id !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) {
    throw new MtlError("report.reading", `id must be letters, digits, '.', '_' or '-', got ${JSON.stringify(id)}.`);
  }
  const text = typeof markdown === "function" ? markdown(values) : markdown;
  const json = JSON.stringify(values, (key, v) => {
    if (typeof v === "number" && !Number.isFinite(v)) {
      throw new MtlError(`report.reading('${id}')`, `value '${key}' is ${v}; record finite numbers (or null) only.`);
    }
    return v;
  });
  const out: Reading = { id, values: JSON.parse(json) as ReadingValues, markdown: text };
  return withDisplay(
    out,
    (r): MimeBundle => ({
      "text/markdown": r.markdown,
      "text/plain": r.markdown,
      [READING_MIME]: { id: r.id, values: r.values },
    }),
  );
}
