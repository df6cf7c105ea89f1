import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { deltaM, deltaMOverSeeds } from "../../lib/eval/deltaM";
import { compare, negativeTransfer } from "../../lib/eval/negativeTransfer";
import { studentTQuantile, summarize } from "../../lib/eval/stats";

const dirs = { a: { accuracy: true }, b: { mse: false, mae: false } };

describe("deltaM", () => {
  it("worked example where the multi-task model is better", () => {
    // a: accuracy 0.9 vs 0.8 → +12.5; b: mse 0.5 vs 0.4 → −25, mae 0.3 vs 0.4 → +25 → task b 0
    const r = deltaM(
      { a: { accuracy: 0.9 }, b: { mse: 0.5, mae: 0.3 } },
      { a: { accuracy: 0.8 }, b: { mse: 0.4, mae: 0.4 } },
      { higherIsBetter: dirs },
    );
    expect(r.terms.a.accuracy).toBeCloseTo(12.5, 12);
    expect(r.terms.b.mse).toBeCloseTo(-25, 12);
    expect(r.terms.b.mae).toBeCloseTo(25, 12);
    expect(r.perTask).toEqual({ a: expect.closeTo(12.5, 12), b: expect.closeTo(0, 12) });
    expect(r.value).toBeCloseTo(6.25, 12);
  });

  it("worked example where it is worse, and the sign follows each metric's direction", () => {
    // a: accuracy 0.7 vs 0.8 → −12.5; b (mse only): 0.6 vs 0.4 → −50 → Δm = −31.25
    const r = deltaM(
      { a: { accuracy: 0.7 }, b: { mse: 0.6, mae: 9 } },
      { a: { accuracy: 0.8 }, b: { mse: 0.4, mae: 1 } },
      {
        higherIsBetter: dirs,
        metrics: { b: ["mse"] },
      },
    );
    expect(r.perTask.a).toBeCloseTo(-12.5, 12);
    expect(r.perTask.b).toBeCloseTo(-50, 12);
    expect(r.value).toBeCloseTo(-31.25, 12);
    expect(Object.keys(r.terms.b)).toEqual(["mse"]);
  });

  it("takes directions from tasks, and summarises seeds with a Student-t interval", () => {
    const tasks = [mtl.tasks.regression("y")];
    const base = [{ y: { mse: 1, mae: 1, r2: 0.5 } }, { y: { mse: 3, mae: 1, r2: 0.5 } }]; // mean mse 2
    const runs = [1, 1.5, 2].map((mse) => ({ y: { mse, mae: 1, r2: 0.5 } }));
    const s = deltaMOverSeeds(runs, base, { tasks, metrics: { y: ["mse"] }, level: 0.9 });
    expect(s.baseline.y.mse).toBe(2);
    expect(s.runs.map((r) => r.value)).toEqual([50, 25, 0].map((v) => expect.closeTo(v, 12)));
    expect(s.summary.mean).toBeCloseTo(25, 12);
    expect(s.summary.std).toBeCloseTo(25, 12);
    const half = studentTQuantile(0.95, 2) * (25 / Math.sqrt(3));
    expect(s.summary.interval!.low).toBeCloseTo(25 - half, 10);
    expect(s.summary.interval!.method).toBe("Student-t, 2 df");
  });

  it("refuses mismatched tasks and metrics and a zero baseline, naming them", () => {
    const m = { a: { accuracy: 0.9 }, b: { mse: 0.5, mae: 0.3 } };
    expect(() => deltaM(m, { a: { accuracy: 0.8 } }, { higherIsBetter: dirs })).toThrow(/baseline has no task 'b'/);
    expect(() => deltaM({ a: { accuracy: 0.9 } }, { a: { accuracy: 0.8 }, c: { accuracy: 1 } }, { higherIsBetter: dirs })).toThrow(
      /baseline has task 'c'/,
    );
    expect(() => deltaM(m, { a: { accuracy: 0.8 }, b: { mse: 0.4 } }, { higherIsBetter: dirs })).toThrow(
      /baseline has no metric 'mae' for task 'b'/,
    );
    expect(() => deltaM(m, { a: { accuracy: 0 }, b: { mse: 0.4, mae: 0.4 } }, { higherIsBetter: dirs })).toThrow(
      /baseline's 'accuracy' of task 'a' is 0/,
    );
    expect(() => deltaM(m, m)).toThrow(/pass option 'tasks'/);
    expect(() => deltaM(m, m, { higherIsBetter: dirs, metrics: { a: ["f1"] } })).toThrow(/task 'a' has no metric 'f1'/);
  });
});

describe("Student-t", () => {
  it("matches tabulated quantiles", () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.7062, 3);
    expect(studentTQuantile(0.975, 4)).toBeCloseTo(2.7764, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.0423, 3);
    expect(studentTQuantile(0.95, 10)).toBeCloseTo(1.8125, 3);
    expect(studentTQuantile(0.025, 4)).toBeCloseTo(-2.7764, 3);
    expect(summarize([3]).interval).toBeUndefined();
  });
});

describe("negative transfer verdicts", () => {
  it("helps, hurts and inconclusive on constructed runs", () => {
    expect(compare("t", "accuracy", true, [0.9, 0.91, 0.92], [0.8, 0.81, 0.79]).verdict).toBe("helps");
    expect(compare("t", "accuracy", true, [0.7, 0.71, 0.72], [0.8, 0.81, 0.79]).verdict).toBe("hurts");
    // lower is better: a smaller MSE helps
    const mse = compare("t", "mse", false, [0.1, 0.11, 0.12], [0.2, 0.21, 0.19]);
    expect(mse.verdict).toBe("helps");
    expect(mse.difference).toBeCloseTo(0.09, 12);
    expect(mse.relativePercent).toBeCloseTo(45, 10);
    // overlapping spreads: no claim
    expect(compare("t", "accuracy", true, [0.8, 0.9, 0.7], [0.78, 0.86, 0.74]).verdict).toBe("inconclusive");
    // one seed: the spread is unknown, no claim however large the gap
    const one = compare("t", "accuracy", true, [0.99], [0.5, 0.51]);
    expect(one.verdict).toBe("inconclusive");
    expect(one.reason).toMatch(/at least 2 runs/);
    // a margin: a real but tiny gain does not count
    expect(compare("t", "accuracy", true, [0.801, 0.802], [0.8, 0.8], 0.95, 0.01).verdict).toBe("inconclusive");
  });

  it("computes Welch's interval", () => {
    const r = compare("t", "y", true, [1, 2, 3], [0, 0.5, 1]);
    const va = 1 / 3;
    const vb = 0.25 / 3;
    const df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 2);
    expect(r.interval!.df).toBeCloseTo(df, 12);
    const half = studentTQuantile(0.975, df) * Math.sqrt(va + vb);
    expect(r.interval!.low).toBeCloseTo(1.5 - half, 10);
    expect(r.interval!.high).toBeCloseTo(1.5 + half, 10);
    expect(r.verdict).toBe("inconclusive"); // half ≈ 2.07 > 1.5
  });

  it("reports per task from metric tables, with the primary metric by default", () => {
    const tasks = [mtl.tasks.classification("c", { classes: 2 }), mtl.tasks.regression("r")];
    const run = (acc: number, mse: number) => ({ c: { accuracy: acc, f1Macro: 0.5 }, r: { mse, mae: 1, r2: 0.1 } });
    const report = negativeTransfer([run(0.9, 2), run(0.91, 2.1), run(0.92, 2.2)], [run(0.8, 1), run(0.81, 1.1), run(0.79, 1.2)], {
      tasks,
    });
    expect(report.rows.map((r) => [r.task, r.metric, r.verdict])).toEqual([
      ["c", "accuracy", "helps"],
      ["r", "mse", "hurts"],
    ]);
    expect(report.toDataFrame().columns).toContain("verdict");
    expect(() => negativeTransfer([run(0.9, 2)], [{ c: { accuracy: 1 } } as never], { tasks })).toThrow(
      /single-task runs have no task 'r'/,
    );
    expect(() => negativeTransfer([run(0.9, 2)], [run(0.9, 2)], { tasks, metrics: { r: ["nope"] } })).toThrow(/metric 'nope' of task 'r'/);
  });
});
