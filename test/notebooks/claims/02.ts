/**
 * Notebook 02's key claims: λ pulls the soft-sharing towers together (the distance falls at every step of
 * λ, and the extremes' intervals are apart), MMoE's gates differ more for unrelated tasks than for
 * identical ones, and hard sharing's training MSE rises more than MMoE's from p = 1 to p = 0.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

interface Rise {
  d: number;
  se: number;
}

export default (r: Readings) => {
  const lambda = r.get<{ distanceMeans: number[]; distanceFalls: boolean }>("02-lambda");
  expect(lambda.distanceFalls).toBe(true);
  expect(lambda.distanceMeans.at(-1)!).toBeLessThan(lambda.distanceMeans[0] / 10);
  const gates = r.get<{ p0: number; p1: number }>("02-gates");
  expect(gates.p0).toBeGreaterThan(gates.p1);
  const mmoe = r.get<{ train: { hardRise: Rise; mmoeRise: Rise; hardDegradesMore: boolean } }>("02-mmoe");
  expect(mmoe.train.hardRise.d).toBeGreaterThan(2 * mmoe.train.hardRise.se);
  expect(mmoe.train.hardRise.d).toBeGreaterThan(mmoe.train.mmoeRise.d);
  // The summary is written from the same values, so it cannot claim what the sweep does not show.
  const summary = r.get<{ intermediateBeatsBoth: boolean; bestLambda: number }>("02-summary");
  expect(summary.bestLambda).toBe(r.get<{ bestLambda: number }>("02-lambda").bestLambda);
};
