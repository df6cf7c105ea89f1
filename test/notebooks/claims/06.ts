/**
 * Notebook 06's key claims on the penguins: no loss-weighting method beats the single-task models
 * (no Δm interval lies above 0), and none beats the static-weight grid chosen on validation.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

export default (r: Readings) => {
  const dm = r.get<{ sides: Record<string, string>; vsGrid: Record<string, string>; gridWeights: number[] }>("06-deltam");
  expect(Object.keys(dm.sides)).toEqual(expect.arrayContaining(["equal", "uncertainty", "dwa", "rlw", "famo", "static grid"]));
  expect(Object.values(dm.sides)).not.toContain("above");
  expect(Object.values(dm.vsGrid)).not.toContain("better");
  expect(dm.gridWeights).toHaveLength(3);
  const verdicts = r.get<{ helps: string[]; hurts: string[]; inconclusive: number; total: number }>("06-verdicts");
  expect(verdicts.helps.length + verdicts.hurts.length + verdicts.inconclusive).toBe(verdicts.total);
  expect(verdicts.helps).toEqual([]);
};
