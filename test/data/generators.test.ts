import { describe, expect, it } from "vitest";
import { gradNormToy, mmoeSynthetic } from "../../lib/data/generators";
import { MtlError } from "../../lib/errors";

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

describe("mmoeSynthetic", () => {
  it.each([-0.5, 0, 0.5, 0.9, 1])("cos(w1, w2) = p = %s and |w_k| = c", (p) => {
    const g = mmoeSynthetic({ p, rows: 10, c: 2, seed: 3 });
    expect(cosine(g.w1, g.w2)).toBeCloseTo(p, 10);
    expect(Math.hypot(...g.w1)).toBeCloseTo(2, 10);
    expect(Math.hypot(...g.w2)).toBeCloseTo(2, 10);
  });

  it("labels follow y = wᵀx + Σ sin(α wᵀx + β) + ε for each row", () => {
    const g = mmoeSynthetic({ p: 0.3, rows: 50, inputSize: 8, m: 3, noiseStd: 0, seed: 1 });
    const { features, featureCount } = g.data;
    for (let r = 0; r < 50; r++) {
      let dot = 0;
      for (let j = 0; j < featureCount; j++) dot += g.w2[j] * features[r * featureCount + j];
      const expected = dot + Math.sin(1 * dot + 0) + Math.sin(2 * dot + 1) + Math.sin(3 * dot + 4);
      expect(g.data.targets.y2.values[r]).toBeCloseTo(expected, 4);
    }
  });

  it("the label correlation grows with p (the paper's control knob)", () => {
    const corr = [0, 0.5, 0.9, 1].map((p) => {
      const g = mmoeSynthetic({ p, rows: 4000, seed: 7 });
      return pearson(g.data.targets.y1.values, g.data.targets.y2.values);
    });
    for (let i = 1; i < corr.length; i++) expect(corr[i]).toBeGreaterThan(corr[i - 1]);
    expect(corr[3]).toBeGreaterThan(0.999);
    expect(Math.abs(corr[0])).toBeLessThan(0.1);
  });

  it("is seeded: the same seed gives the same data, another seed does not", () => {
    const a = mmoeSynthetic({ p: 0.5, rows: 20, seed: 1 });
    const b = mmoeSynthetic({ p: 0.5, rows: 20, seed: 1 });
    const c = mmoeSynthetic({ p: 0.5, rows: 20, seed: 2 });
    expect(Array.from(a.data.targets.y1.values)).toEqual(Array.from(b.data.targets.y1.values));
    expect(Array.from(a.data.features)).not.toEqual(Array.from(c.data.features));
    expect(a.tasks.map((t) => t.name)).toEqual(["y1", "y2"]);
  });

  it("refuses p outside [-1, 1], bad sizes and unknown options", () => {
    expect(() => mmoeSynthetic({ p: 1.5, rows: 10 })).toThrow(/'p'.*\[-1, 1\]/);
    expect(() => mmoeSynthetic({ p: 0.5, rows: 0 })).toThrow(MtlError);
    expect(() => mmoeSynthetic({ p: 0.5, rows: 10, inputSize: 1 })).toThrow(/inputSize/);
    expect(() => mmoeSynthetic({ p: 0.5, rows: 10, corr: 1 } as never)).toThrow(/unknown option 'corr'/);
  });
});

describe("gradNormToy", () => {
  it("has the paper's shapes and f_i = σ_i tanh(·), so |f_i| ≤ σ_i", () => {
    const g = gradNormToy({ rows: 30, seed: 2 });
    expect(g.data.featureCount).toBe(250);
    expect(g.tasks.map((t) => [t.name, t.outputUnits])).toEqual([
      ["task0", 100],
      ["task1", 100],
    ]);
    for (const [t, sigma] of [
      [0, 1],
      [1, 100],
    ]) {
      const v = g.data.targets[`task${t}`].values;
      expect(v.length).toBe(30 * 100);
      const max = Array.from(v).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(max).toBeLessThanOrEqual(sigma + 1e-4);
      expect(max).toBeGreaterThan(0.5 * sigma);
    }
  });

  it("tasks share B: their outputs agree in sign far more often than chance", () => {
    const g = gradNormToy({ rows: 200, sigmas: [1, 1], seed: 5 });
    const a = g.data.targets.task0.values;
    const b = g.data.targets.task1.values;
    let same = 0;
    for (let i = 0; i < a.length; i++) if (Math.sign(a[i]) === Math.sign(b[i])) same++;
    // With ε std 3.5 against B std 10, corr(B+ε_0, B+ε_1) = 100 / 112.25 ≈ 0.89.
    expect(same / a.length).toBeGreaterThan(0.75);
  });

  it("with ε = 0 and the same σ, every task is the same function", () => {
    const g = gradNormToy({ rows: 5, sigmas: [2, 2, 2], epsilonStd: 0, inputSize: 6, outputSize: 3, seed: 1 });
    expect(Array.from(g.data.targets.task2.values)).toEqual(Array.from(g.data.targets.task0.values));
  });

  it("refuses non-positive σ", () => {
    expect(() => gradNormToy({ sigmas: [1, 0] })).toThrow(/sigmas/);
    expect(() => gradNormToy({ sigmas: [] })).toThrow(/sigmas/);
  });
});
