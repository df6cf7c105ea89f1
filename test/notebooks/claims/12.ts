/**
 * Notebook 12 (missing labels, L1/L2): its key claims, on the values its reading cells recorded.
 * Only claims that hold beyond the seed spread in the run are asserted.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

type Verdicts = Record<string, Record<string, Record<string, string>>>;

export default function claims(readings: Readings): void {
  const data = readings.get<{ table: number; rows: number; species: number; sex: number; mass: number }>("12-data");
  expect(data).toMatchObject({ table: 344, rows: 342, species: 342, mass: 342, sex: 333 });

  const m = readings.get<{ verdicts: Verdicts; sexLabelsPerMaskedBatch: number; dropRowsAt01: number; maskRowsAt01: number }>(
    "12-mask-vs-drop",
  );
  // Labels removed not at random (mostly females' sex): dropping those rows biases the body-mass
  // training set, and masking is better for body mass R² beyond the seed spread.
  expect(m.verdicts["not at random"]["0.1"].mass).toBe("better");
  expect(m.verdicts["not at random"]["0.2"].mass).toBe("better");
  // Masking is never worse for the tasks whose rows dropping throws away.
  for (const byFraction of Object.values(m.verdicts)) {
    for (const v of Object.values(byFraction)) {
      expect(v.species).not.toBe("worse");
      expect(v.mass).not.toBe("worse");
    }
  }
  // With every label kept the two are the same training set up to the few unsexed birds.
  expect(Object.values(m.verdicts["at random"]["1"])).toEqual(["indistinguishable", "indistinguishable", "indistinguishable"]);
  expect(m.dropRowsAt01).toBeLessThan(m.maskRowsAt01 / 5);
  expect(m.sexLabelsPerMaskedBatch).toBeLessThan(3);

  const r = readings.get<{
    gapL2: string;
    gapL1: string;
    sparsity: Record<string, string>;
    zerosL1Mid: number;
    zerosL2Mid: number;
    bestL2VsNone: string;
  }>("12-regularisation");
  expect(r.gapL2).toBe("better"); // a smaller train/test gap at the largest λ than without a penalty
  expect(r.gapL1).toBe("better");
  expect(r.sparsity["0.01"]).toBe("better"); // L1 leaves more weights near zero than L2 at the same λ
  expect(r.sparsity["0.03"]).toBe("better");
  expect(r.zerosL1Mid).toBeGreaterThan(0.5);
  expect(r.zerosL2Mid).toBeLessThan(0.3);
  expect(r.bestL2VsNone).toBe("better");
}
