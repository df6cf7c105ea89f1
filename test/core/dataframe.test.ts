import * as dfd from "danfojs-node";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";

const records = [
  { bill: 39.1, island: "Torgersen", species: "Adelie", sex: "MALE", mass: 3750 },
  { bill: 46.5, island: "Dream", species: "Chinstrap", sex: "FEMALE", mass: 3500 },
  { bill: null, island: "Biscoe", species: "Gentoo", sex: "FEMALE", mass: 4500 },
  { bill: 47.2, island: "Biscoe", species: "Gentoo", sex: null, mass: 5000 },
  { bill: 40.0, island: "Dream", species: "Adelie", sex: "MALE", mass: 3900 },
];
const tasks = [
  mtl.tasks.classification("species", { classes: ["Adelie", "Chinstrap", "Gentoo"] }),
  mtl.tasks.binary("sex", { labels: ["FEMALE", "MALE"] }),
  mtl.tasks.regression("mass"),
];

describe("fromDataFrame", () => {
  it("refuses missing values by default, naming each column and its count", () => {
    expect(() => mtl.fromDataFrame(new dfd.DataFrame(records), { features: ["bill", "island"], tasks })).toThrow(
      /missing values in 'bill' \(1 rows\), 'sex' \(1 rows\); pass missing: "drop"/,
    );
  });

  it("drops incomplete rows when asked, one-hot encodes text features and encodes labels", () => {
    for (const table of [new dfd.DataFrame(records), records]) {
      const data = mtl.fromDataFrame(table, { features: ["bill", "island"], tasks, missing: "drop" });
      expect(data.rows).toBe(3);
      expect(Array.from(data.sourceRows)).toEqual([0, 1, 4]);
      // Categories come from the rows kept: both Biscoe rows were dropped.
      expect(data.featureNames).toEqual(["bill", "island=Dream", "island=Torgersen"]);
      expect(Array.from(data.features.subarray(0, 3))).toEqual([expect.closeTo(39.1, 4), 0, 1]);
      expect(Array.from(data.targets.species.values)).toEqual([0, 1, 0]);
      expect(Array.from(data.targets.sex.values)).toEqual([1, 0, 1]);
      expect(Array.from(data.targets.mass.values)).toEqual([3750, 3500, 3900]);
    }
  });

  it("names the column, row and value of a bad label", () => {
    const bad = records.map((r, i) => (i === 1 ? { ...r, sex: "." } : r));
    expect(() => mtl.fromDataFrame(bad, { features: ["island"], tasks, missing: "drop" })).toThrow(
      /binary\('sex'\).*"\." at row 1 of column 'sex' is neither of the labels/,
    );
    const unknownSpecies = records.map((r, i) => (i === 0 ? { ...r, species: "Emperor" } : r));
    expect(() => mtl.fromDataFrame(unknownSpecies, { features: ["island"], tasks, missing: "drop" })).toThrow(
      /"Emperor" at row 0 of column 'species' is not one of the classes/,
    );
    const textMass = records.map((r, i) => (i === 4 ? { ...r, mass: "heavy" } : r));
    expect(() => mtl.fromDataFrame(textMass, { features: ["island"], tasks, missing: "drop" })).toThrow(
      /regression\('mass'\).*column 'mass' has "heavy" at row 4; a regression target must be numeric/,
    );
  });

  it("refuses unknown columns and a target used as a feature", () => {
    expect(() => mtl.fromDataFrame(records, { features: ["beak"], tasks })).toThrow(/column 'beak' does not exist/);
    expect(() => mtl.fromDataFrame(records, { features: ["mass"], tasks })).toThrow(/'mass' is both a feature and a target/);
  });

  it("splits reproducibly and standardises with training statistics only", () => {
    const rng = new mtl.Rng(0);
    const x = Array.from({ length: 100 }, (_, i) => [i, rng.normal()]);
    const data = mtl.fromArrays({ x, targets: { y: x.map((r) => r[0]) } });
    const a = mtl.split(data, { seed: 5 });
    const b = mtl.split(data, { seed: 5 });
    expect(Array.from(a.test.features)).toEqual(Array.from(b.test.features));
    expect(a.train.rows + a.validation.rows + a.test.rows).toBe(100);
    const scaler = mtl.fitStandardizer(a.train);
    const z = scaler.apply(a.train);
    let mean = 0;
    for (let r = 0; r < z.rows; r++) mean += z.features[r * 2];
    expect(mean / z.rows).toBeCloseTo(0, 4);
    expect(scaler.apply(a.test).features[0]).toBeCloseTo((a.test.features[0] - scaler.mean[0]) / scaler.std[0], 5);
  });
});
