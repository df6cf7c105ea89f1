/**
 * Notebook 07's key claims on the two cities' weather: the targets are related (r > 0.5), frozen transfer
 * is worse than training the target from scratch in both directions, and neither joint training nor
 * fine-tuning is worse than scratch.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

interface Target {
  target: string;
  vsScratch: Record<string, string>;
}

export default (r: Readings) => {
  expect(r.get<{ targetCorrelation: number }>("07-relatedness").targetCorrelation).toBeGreaterThan(0.5);
  const { seeds, perTarget } = r.get<{ seeds: number; perTarget: Target[] }>("07-strategies");
  expect(seeds).toBeGreaterThanOrEqual(5);
  expect(perTarget.map((t) => t.target).sort()).toEqual(["newYork", "seattle"]);
  for (const t of perTarget) {
    expect(t.vsScratch.frozen).toBe("hurts");
    expect(t.vsScratch.joint).not.toBe("hurts");
    expect(t.vsScratch.fineTune).not.toBe("hurts");
  }
};
