/**
 * Notebook 05's key claims: with one shared projection, sharing helps at p = 1 and hurts from p = 0.9 down
 * (Δm intervals on one side of 0), the early gradient cosine has the sign of transfer at the ends, and the
 * late cosine is negative at every p (the stationary-point artifact the notebook explains).
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

interface Row {
  p: number;
  deltaM: { mean: number; low: number; high: number };
}
interface Signal {
  p: number;
  meanCosine: number;
  lateCosine: number;
}

export default (r: Readings) => {
  const { rows, seeds } = r.get<{ rows: Row[]; seeds: number }>("05-transfer");
  expect(seeds).toBeGreaterThanOrEqual(5);
  const at = (p: number) => rows.find((x) => x.p === p)!;
  expect(at(1).deltaM.low).toBeGreaterThan(0);
  expect(at(0.5).deltaM.high).toBeLessThan(0);
  expect(at(0).deltaM.high).toBeLessThan(0);
  const { signals, lateCosineMax } = r.get<{ signals: Signal[]; lateCosineMax: number }>("05-signals");
  const s = (p: number) => signals.find((x) => x.p === p)!;
  expect(s(1).meanCosine).toBeGreaterThan(0);
  expect(s(0).meanCosine).toBeLessThan(0);
  expect(lateCosineMax).toBeLessThan(0);
};
