/** Key claims of notebooks/04-gradient-balancing.ipynb, on the values its reading cells recorded. */
import { expect } from "vitest";
import type { Readings } from "../readings";

type Verdict = "better" | "worse" | "indistinguishable";

export default (r: Readings) => {
  // In the plane: the conflicting pair's mean harms task 2; every other method stays in the dual cone.
  const plane = r.get<{ g1g2: number; outside: string[]; harms: Record<string, boolean[]> }>("04-plane");
  expect(plane.g1g2).toBeLessThan(0);
  expect(plane.outside).toEqual(["mean"]);
  expect(plane.harms.mean).toEqual([false, true]);

  // The CAGrad / Nash-MTL toy: MGDA and Nash-MTL reach the Pareto front from all five starts; the mean
  // (equal weighting) stops short from (9, 9), the third start.
  const toy = r.get<{ methods: Record<string, { reached: number; distances: number[] }> }>("04-toy");
  expect(toy.methods.MGDA.reached).toBe(5);
  expect(toy.methods["Nash-MTL"].reached).toBe(5);
  expect(toy.methods["mean (equal weighting)"].reached).toBeLessThan(5);
  expect(toy.methods["mean (equal weighting)"].distances[2]).toBeGreaterThan(1);

  // MultiFashion: the narrow trunk's gradients conflict on most steps, more often than the wide trunk's.
  type Geo = { cosine: number[]; conflict: number[]; ratio: number[] };
  const conflict = r.get<{ geometry: Record<string, Record<string, Geo>>; narrowVsWideConflict: Verdict; narrowVsWideCosine: Verdict }>(
    "04-conflict",
  );
  const narrow = conflict.geometry.narrow["equal weighting"];
  expect(narrow.conflict.length).toBeGreaterThanOrEqual(5);
  expect(narrow.conflict.reduce((a, b) => a + b, 0) / narrow.conflict.length).toBeGreaterThan(0.5);
  expect(narrow.cosine.reduce((a, b) => a + b, 0) / narrow.cosine.length).toBeLessThan(0);
  expect(conflict.narrowVsWideConflict).toBe("better"); // a higher conflict rate
  expect(conflict.narrowVsWideCosine).toBe("worse"); // a lower mean cosine

  // ... and yet no aggregator differs from equal weighting beyond the seed spread, on either trunk;
  // sharing the narrow trunk costs accuracy against single-task models.
  const acc = r.get<{ verdicts: Record<string, Record<string, Verdict>>; equalVsSingle: Record<string, Verdict> }>("04-accuracy");
  for (const size of ["wide", "narrow"]) {
    for (const [method, verdict] of Object.entries(acc.verdicts[size])) expect(verdict, `${size} ${method}`).toBe("indistinguishable");
  }
  expect(acc.equalVsSingle.narrow).toBe("worse");
};
