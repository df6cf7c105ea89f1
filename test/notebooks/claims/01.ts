/**
 * Notebook 01 (hard parameter sharing on the penguins): its key claims, on the values its reading
 * cells recorded.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

export default function claims(readings: Readings): void {
  const d = readings.get<{ table: number; rows: number; sexLabelled: number; train: number; validation: number; test: number }>("01-data");
  // Masks keep the unsexed birds: only the two unmeasured ones go.
  expect(d).toMatchObject({ table: 344, rows: 342, sexLabelled: 333 });
  expect(d.train + d.validation + d.test).toBe(d.rows);

  const r = readings.get<{
    sharedTrunk: number;
    singleTrunks: number;
    testBirds: number;
    sexLabelledTest: number;
    verdicts: Record<string, string>;
    speciesLoss: number;
    sexLoss: number;
    massLoss: number;
  }>("01-reading");
  expect(r.singleTrunks).toBe(3 * r.sharedTrunk); // "a third of the trunk parameters"
  expect(r.testBirds).toBe(d.test);
  expect(r.sexLabelledTest).toBeLessThanOrEqual(r.testBirds);
  // Sharing one trunk costs no task anything measurable on this table (5 seeds).
  for (const task of ["species", "sex", "mass"]) expect(r.verdicts[task]).not.toBe("worse");
  // The losses sit on different scales.
  expect(r.sexLoss).toBeGreaterThan(5 * r.speciesLoss);
}
