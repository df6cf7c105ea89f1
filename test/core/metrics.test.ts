import { describe, expect, it } from "vitest";
import { binaryScores, classificationScores, confusionMatrix, multiLabelScores, regressionScores } from "../../lib/tasks/metrics";

describe("classification metrics", () => {
  it("match a hand-computed confusion matrix", () => {
    // targets 0 0 1 1 2 2, predictions 0 1 1 1 2 0
    const cm = confusionMatrix([0, 1, 1, 1, 2, 0], [0, 0, 1, 1, 2, 2], 3);
    expect(cm).toEqual([
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 1],
    ]);
    const s = classificationScores(cm);
    expect(s.accuracy).toBeCloseTo(4 / 6, 12);
    // precision: c0 1/2, c1 2/3, c2 1/1; recall: c0 1/2, c1 1, c2 1/2
    expect(s.precisionMacro).toBeCloseTo((1 / 2 + 2 / 3 + 1) / 3, 12);
    expect(s.recallMacro).toBeCloseTo((1 / 2 + 1 + 1 / 2) / 3, 12);
    const f1 = (p: number, r: number) => (2 * p * r) / (p + r);
    expect(s.f1Macro).toBeCloseTo((f1(0.5, 0.5) + f1(2 / 3, 1) + f1(1, 0.5)) / 3, 12);
    expect(s.f1Micro).toBeCloseTo(4 / 6, 12);
  });

  it("define precision of a never-predicted or absent class as 0, never NaN", () => {
    const s = classificationScores(confusionMatrix([0, 0, 0], [0, 0, 0], 3));
    expect(s.accuracy).toBe(1);
    expect(s.precisionMacro).toBeCloseTo(1 / 3, 12);
    expect(Object.values(s).every(Number.isFinite)).toBe(true);
  });
});

describe("binary and multi-label metrics", () => {
  it("binary scores for the positive class", () => {
    const s = binaryScores([1, 1, 0, 0, 1], [1, 0, 0, 1, 1]);
    expect(s).toEqual({ accuracy: 3 / 5, precision: 2 / 3, recall: 2 / 3, f1: 2 / 3 });
  });

  it("multi-label accuracy, exact match and F1", () => {
    // two rows, three labels
    const s = multiLabelScores([1, 0, 1, 0, 1, 0], [1, 0, 0, 0, 1, 0], 3);
    expect(s.accuracy).toBeCloseTo(5 / 6, 12);
    expect(s.exactMatch).toBe(0.5);
    expect(s.precisionMicro).toBeCloseTo(2 / 3, 12);
    expect(s.recallMicro).toBe(1);
    // per-label F1: label0 1, label1 1, label2 0 (one false positive)
    expect(s.f1Macro).toBeCloseTo(2 / 3, 12);
  });
});

describe("regression metrics", () => {
  it("MSE, MAE and R²", () => {
    const s = regressionScores([1, 2, 4], [1, 3, 5], 1);
    expect(s.mse).toBeCloseTo(2 / 3, 12);
    expect(s.mae).toBeCloseTo(2 / 3, 12);
    // mean 3, SS_tot = 4 + 0 + 4 = 8, SS_res = 2
    expect(s.r2).toBeCloseTo(1 - 2 / 8, 12);
  });

  it("R² of a constant target is 0, not NaN", () => {
    expect(regressionScores([1, 2], [3, 3], 1).r2).toBe(0);
  });
});
