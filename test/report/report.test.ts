import { describe, expect, it } from "vitest";
import { MtlError } from "../../lib/errors";
import { summarize } from "../../lib/eval/stats";
import { bounds, compare, fmt, fmtSummary, rank, reading, READING_MIME, verdictPhrase } from "../../lib/report";

const JUPYTER_DISPLAY = Symbol.for("Jupyter.display");

describe("report.compare", () => {
  const low = [0.8, 0.81, 0.82, 0.81, 0.8];
  const high = [0.9, 0.91, 0.89, 0.9, 0.92];
  const wide = [0.7, 0.95, 0.85, 0.78, 0.92];

  it("calls separated intervals better or worse, in the metric's direction", () => {
    expect(compare(high, low).verdict).toBe("better");
    expect(compare(low, high).verdict).toBe("worse");
    expect(compare(high, low, { higherIsBetter: false }).verdict).toBe("worse");
    expect(compare(low, high, { higherIsBetter: false }).verdict).toBe("better");
  });

  it("calls overlapping intervals indistinguishable, even with different means", () => {
    const c = compare(wide, high);
    expect(c.a.mean).toBeLessThan(c.b.mean);
    expect(c.verdict).toBe("indistinguishable");
  });

  it("never separates a single run from anything", () => {
    expect(compare([0.1], high).verdict).toBe("indistinguishable");
  });

  it("is decided exactly at the boundary by the intervals themselves", () => {
    const a = summarize(high);
    const [, aHigh] = bounds(a);
    // b's interval starts just above a's: separated; a hair lower: overlapping.
    const shift = (d: number) => high.map((x) => x + (aHigh - a.interval!.low) + d);
    expect(compare(shift(1e-9), a).verdict).toBe("better");
    expect(compare(shift(-1e-3), a).verdict).toBe("indistinguishable");
  });

  it("refuses non-finite or empty samples with an MtlError", () => {
    expect(() => compare([], low)).toThrow(MtlError);
    expect(() => compare([1, NaN], low)).toThrow(/value 1 is NaN/);
  });
});

describe("report.rank", () => {
  it("orders by mean and marks entries tied with the best", () => {
    const r = rank({ a: [1, 1.1, 0.9, 1, 1], b: [3, 3.1, 2.9, 3, 3], c: [2.5, 3.5, 2, 4, 3] });
    expect(r.map((e) => e.name)).toEqual(["b", "c", "a"]);
    expect(r.map((e) => e.tiedWithBest)).toEqual([true, true, false]);
    const lowFirst = rank({ a: [1, 1.1, 0.9], b: [3, 3.1, 2.9] }, { higherIsBetter: false });
    expect(lowFirst[0].name).toBe("a");
    expect(lowFirst[1].tiedWithBest).toBe(false);
  });
});

describe("report formatting", () => {
  it("formats significant digits without exponents for everyday sizes", () => {
    expect(fmt(0.123456)).toBe("0.123");
    expect(fmt(123.456)).toBe("123");
    expect(fmt(1234.5)).toBe("1235");
    expect(fmt(0.00012345, 2)).toBe("0.00012");
    expect(fmt(0)).toBe("0");
  });

  it("prints a mean with its interval, and verdicts as sentences", () => {
    expect(fmtSummary([2])).toBe("2");
    expect(fmtSummary([1, 2, 3])).toMatch(/^2 \[-0\.484, 4\.48\]$/);
    const c = compare([0.9, 0.91, 0.92], [0.5, 0.51, 0.52]);
    expect(verdictPhrase(c, "GradNorm", "equal")).toMatch(/^GradNorm is better than equal \(0\.91 \[.*\] vs 0\.51 \[.*\]\)$/);
    const d = compare([0.9, 0.5, 0.7], [0.6, 0.8, 0.7]);
    expect(verdictPhrase(d, "A", "B")).toMatch(/^A and B are indistinguishable/);
  });
});

describe("report.reading", () => {
  it("displays Markdown and records its values under the reading MIME type", () => {
    const r = reading("03-balance", { ratio: 25.5, method: "equal" }, (v) => `ratio **${v.ratio}**`);
    const bundle = (r as unknown as Record<symbol, () => Record<string, unknown>>)[JUPYTER_DISPLAY]();
    expect(bundle["text/markdown"]).toBe("ratio **25.5**");
    expect(bundle[READING_MIME]).toEqual({ id: "03-balance", values: { ratio: 25.5, method: "equal" } });
    expect(JSON.parse(JSON.stringify(r))).toEqual({
      id: "03-balance",
      values: { ratio: 25.5, method: "equal" },
      markdown: "ratio **25.5**",
    });
  });

  it("refuses ids that tests could not name and values JSON cannot hold", () => {
    expect(() => reading("has space", {}, "x")).toThrow(MtlError);
    expect(() => reading("ok", { x: NaN }, "x")).toThrow(/value 'x' is NaN/);
  });
});
