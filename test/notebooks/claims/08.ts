/**
 * Claims of notebooks/08-nlp-multitask.ipynb, on the values its readings recorded: the single-task
 * models beat the baselines that need no training (genre: the majority class; POS: each word's most
 * frequent tag), the language-model head beats the unigram model in cross-entropy, and every verdict
 * the prose states (sharing against single-task, tag by tag, mistakes within a division) is the one
 * the recorded per-seed values give, "indistinguishable" where the intervals overlap.
 */
import { expect } from "vitest";
import { compare } from "../../../lib/report";
import { summarize } from "../../../lib/eval/stats";
import type { Readings } from "../readings";

type Verdict = "better" | "worse" | "indistinguishable";
interface AgainstBaseline {
  mean: number;
  low: number;
  high: number;
  value: number;
  verdict: Verdict;
}
interface Shared {
  model: string;
  verdict: Verdict;
  difference: number;
}

/** The verdict of seeds against a fixed value: better / worse only when the value lies outside the interval. */
function againstBaseline(values: number[], value: number, higherIsBetter = true): Verdict {
  const s = summarize(values);
  const above = s.interval!.low > value;
  const below = s.interval!.high < value;
  if (above) return higherIsBetter ? "better" : "worse";
  if (below) return higherIsBetter ? "worse" : "better";
  return "indistinguishable";
}

function expectBaselineReading(a: AgainstBaseline, values: number[], higherIsBetter = true): void {
  const s = summarize(values);
  expect(a.mean).toBeCloseTo(s.mean, 12);
  expect(a.low).toBeCloseTo(s.interval!.low, 12);
  expect(a.verdict).toBe(againstBaseline(values, a.value, higherIsBetter));
}

export default function claims(readings: Readings): void {
  const base = readings.get<{
    genreMajority: number;
    posMajority: number;
    posPerWord: number;
    nextTokenMajority: number;
    nextTokenUnigramLoss: number;
  }>("08-baselines");
  expect(base.genreMajority).toBeGreaterThan(0.05);
  expect(base.genreMajority).toBeLessThan(0.3);
  expect(base.posPerWord).toBeGreaterThan(base.posMajority);
  expect(base.nextTokenUnigramLoss).toBeGreaterThan(0);

  const genre = readings.get<{
    seeds: number;
    genreOnly: number[];
    vsMajority: AgainstBaseline;
    shared: Shared[];
    sharedValues: Record<string, number[]>;
  }>("08-genre");
  expect(genre.seeds).toBeGreaterThanOrEqual(5);
  expect(genre.genreOnly).toHaveLength(genre.seeds);
  expect(genre.vsMajority.value).toBe(base.genreMajority);
  expectBaselineReading(genre.vsMajority, genre.genreOnly);
  // The single-task genre model is trained well enough to beat the majority class.
  expect(genre.vsMajority.verdict).toBe("better");
  for (const s of genre.shared) expect(s.verdict).toBe(compare(genre.sharedValues[s.model], genre.genreOnly).verdict);

  const pos = readings.get<{
    seeds: number;
    posOnly: number[];
    vsMajority: AgainstBaseline;
    vsPerWord: AgainstBaseline;
    shared: Shared[];
    sharedValues: Record<string, number[]>;
  }>("08-pos");
  expect(pos.posOnly).toHaveLength(pos.seeds);
  expectBaselineReading(pos.vsMajority, pos.posOnly);
  expectBaselineReading(pos.vsPerWord, pos.posOnly);
  expect(pos.vsMajority.verdict).toBe("better");
  // The POS-only tagger beats the lookup of each word's most frequent tag.
  expect(pos.vsPerWord.verdict).toBe("better");
  for (const s of pos.shared) expect(s.verdict).toBe(compare(pos.sharedValues[s.model], pos.posOnly).verdict);

  const lm = readings.get<{ loss: number[]; accuracy: number[]; majorityPredicted: number[]; lossVsUnigram: AgainstBaseline }>("08-lm");
  expect(lm.lossVsUnigram.value).toBe(base.nextTokenUnigramLoss);
  expectBaselineReading(lm.lossVsUnigram, lm.loss, false);
  // The language-model head learns from the context: its cross-entropy is below the unigram model's.
  expect(lm.lossVsUnigram.verdict).toBe("better");
  for (const share of lm.majorityPredicted) {
    expect(share).toBeGreaterThanOrEqual(0);
    expect(share).toBeLessThanOrEqual(1);
  }

  const confusion = readings.get<{
    genresPredicted: number;
    genresFor80: number;
    top: string[];
    withinDivision: number[];
    chance: number[];
    verdict: Verdict;
  }>("08-confusion");
  expect(confusion.genresPredicted).toBeLessThanOrEqual(15);
  expect(confusion.genresFor80).toBeLessThanOrEqual(confusion.genresPredicted);
  expect(confusion.top).toHaveLength(confusion.genresFor80);
  expect(confusion.verdict).toBe(compare(confusion.withinDivision, confusion.chance).verdict);

  const tags = readings.get<{
    rows: Array<{ tag: string; single: number[]; shared: number[]; verdict: Verdict }>;
    better: string[];
    worse: string[];
    indistinguishable: string[];
  }>("08-tags");
  expect(tags.rows.length).toBeGreaterThanOrEqual(10);
  for (const row of tags.rows) {
    expect(row.verdict).toBe(compare(row.shared, row.single).verdict);
    expect(tags[row.verdict]).toContain(row.tag);
  }
  expect(tags.better.length + tags.worse.length + tags.indistinguishable.length).toBe(tags.rows.length);

  const summary = readings.get<{
    genreVsMajority: Verdict;
    posVsPerWord: Verdict;
    lmVsUnigram: Verdict;
    genreShared: Shared[];
    posShared: Shared[];
  }>("08-summary");
  expect(summary.genreVsMajority).toBe(genre.vsMajority.verdict);
  expect(summary.posVsPerWord).toBe(pos.vsPerWord.verdict);
  expect(summary.lmVsUnigram).toBe(lm.lossVsUnigram.verdict);
  expect(summary.genreShared.map((s) => s.verdict)).toEqual(genre.shared.map((s) => s.verdict));
  expect(summary.posShared.map((s) => s.verdict)).toEqual(pos.shared.map((s) => s.verdict));
}
