import { describe, expect, it } from "vitest";
import { fromDataFrame } from "../../lib/data/dataframe";
import { fitStandardizer, split } from "../../lib/data/dataset";
import { balancedClassWeights, cars, penguins, seattleWeather, weather } from "../../lib/data/datasets/vega";
import { binary } from "../../lib/tasks/binary";
import { classification } from "../../lib/tasks/classification";
import { regression } from "../../lib/tasks/regression";

function countBy<T>(rows: T[], key: (r: T) => unknown): Record<string, number> {
  const c: Record<string, number> = {};
  for (const r of rows) c[String(key(r))] = (c[String(key(r))] ?? 0) + 1;
  return c;
}

describe("vega-datasets tables against their known totals", () => {
  it('penguins: 344 rows, 152 Adelie / 124 Gentoo / 68 Chinstrap, 11 missing sexes ("." included)', () => {
    const t = penguins();
    expect(t.length).toBe(344);
    expect(countBy(t, (r) => r.Species)).toEqual({ Adelie: 152, Gentoo: 124, Chinstrap: 68 });
    expect(countBy(t, (r) => r.Sex)).toEqual({ MALE: 168, FEMALE: 165, null: 11 });
    expect(t.filter((r) => r["Body Mass (g)"] === null).length).toBe(2);
  });

  it("seattleWeather: 1461 days, rain 641 vs snow 26; weather: two cities of 1461 days; cars: 406", () => {
    const s = seattleWeather();
    expect(s.length).toBe(1461);
    expect(countBy(s, (r) => r.weather)).toEqual({ drizzle: 53, rain: 641, sun: 640, snow: 26, fog: 101 });
    expect(typeof s[0].temp_max).toBe("number");
    expect(s[0].date).toBe("2012-01-01");
    const w = weather();
    expect(countBy(w, (r) => r.location)).toEqual({ Seattle: 1461, "New York": 1461 });
    const c = cars();
    expect(c.length).toBe(406);
    expect(countBy(c, (r) => r.Origin)).toEqual({ USA: 254, Europe: 73, Japan: 79 });
    expect(c.filter((r) => r.Miles_per_Gallon === null).length).toBe(8);
  });
});

describe("missing values, train-only normalisation, class weights", () => {
  const features = ["Beak Length (mm)", "Flipper Length (mm)", "Island"];
  const tasks = [
    classification("species", { classes: ["Adelie", "Chinstrap", "Gentoo"], column: "Species" }),
    binary("sex", { column: "Sex", labels: ["FEMALE", "MALE"] }),
    regression("mass", { columns: ["Body Mass (g)"] }),
  ];

  it("refuses by default, naming each column and its count", () => {
    expect(() => fromDataFrame(penguins(), { features, tasks })).toThrow(
      /missing values in 'Beak Length \(mm\)' \(2 rows\), 'Flipper Length \(mm\)' \(2 rows\), 'Sex' \(11 rows\), 'Body Mass \(g\)' \(2 rows\)/,
    );
  });

  it("drop removes the 11 incomplete rows", () => {
    expect(fromDataFrame(penguins(), { features, tasks, missing: "drop" }).rows).toBe(333);
  });

  it("impute fills features from the given rows (median / most frequent) and drops rows with a missing target", () => {
    const table = [
      { x: 1, c: "a", y: 0 },
      { x: 3, c: "b", y: 1 },
      { x: 100, c: "b", y: 0 },
      { x: null, c: null, y: 1 },
      { x: 2, c: "a", y: null },
    ];
    const t = [regression("y")];
    const all = fromDataFrame(table, { features: ["x", "c"], tasks: t, missing: "impute" });
    expect(all.rows).toBe(4); // the row with y missing is dropped
    expect(all.imputed).toEqual({ x: { value: 2.5, count: 1 }, c: { value: "a", count: 1 } }); // median of 1,3,100,2; a/b tie → "a"
    const trainOnly = fromDataFrame(table, { features: ["x", "c"], tasks: t, missing: "impute", imputeFrom: [1, 2] });
    expect(trainOnly.imputed).toEqual({ x: { value: 51.5, count: 1 }, c: { value: "b", count: 1 } });
    expect(trainOnly.features[3 * trainOnly.featureCount]).toBe(51.5);
    expect(() => fromDataFrame(table, { features: ["x"], tasks: t, missing: "impute", imputeFrom: [3] })).toThrow(
      /'x' has no value in the rows used for imputation/,
    );
    expect(() => fromDataFrame(table, { features: ["x"], tasks: t, missing: "fill" as never })).toThrow(
      /"refuse", "drop", "impute" or \{ features, labels \}/,
    );
    const peng = fromDataFrame(penguins(), { features, tasks, missing: "impute" });
    expect(peng.rows).toBe(333); // 11 rows lack sex (2 of them also lack body mass)
  });

  it("the standardizer is fitted on the training split only", () => {
    const data = fromDataFrame(penguins(), { features, tasks, missing: "drop" });
    const { train, test } = split(data, { seed: 1 });
    const s = fitStandardizer(train);
    const mean = (d: typeof train, c: number) => {
      let m = 0;
      for (let r = 0; r < d.rows; r++) m += d.features[r * d.featureCount + c];
      return m / d.rows;
    };
    expect(mean(s.apply(train), 0)).toBeCloseTo(0, 4);
    expect(Math.abs(mean(s.apply(test), 0))).toBeGreaterThan(1e-3); // test statistics played no part
  });

  it("balanced class weights for Seattle's imbalanced weather: w_c = n / (k n_c)", () => {
    const classes = ["drizzle", "fog", "rain", "snow", "sun"];
    const w = balancedClassWeights(
      seattleWeather().map((r) => r.weather as string),
      classes,
    );
    expect(w[3]).toBeCloseTo(1461 / (5 * 26), 10);
    expect(w[2]).toBeCloseTo(1461 / (5 * 641), 10);
    const task = classification("weather", { classes, classWeights: w });
    expect(task.name).toBe("weather");
    expect(balancedClassWeights([0, 0, 1], [0, 1, 2])).toEqual([0.5, 1, 0]);
  });
});
