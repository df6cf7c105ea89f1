/** Key claims of notebooks/03-task-weighting.ipynb, on the values its reading cells recorded. */
import { expect } from "vitest";
import type { Readings } from "../readings";

type Verdict = "better" | "worse" | "indistinguishable";

export default (r: Readings) => {
  // Equal weighting lets task 0 fall far behind; GradNorm keeps the training rates within a small band.
  const balance = r.get<{ equal: number[]; gradNorm: number[]; verdict: Verdict }>("03-balance");
  expect(balance.equal.length).toBeGreaterThanOrEqual(5);
  expect(Math.min(...balance.equal)).toBeGreaterThan(20);
  expect(Math.max(...balance.gradNorm)).toBeLessThan(5);
  expect(balance.verdict).toBe("better");

  // The learnable scales barely move at the model's learning rate and do move with their own.
  const scales = r.get<{ modelRate: { drift: number[] }; ownRate: { drift: number[] }; imtlL: { drift: number[] } }>("03-scales");
  expect(Math.max(...scales.modelRate.drift)).toBeLessThan(0.02);
  expect(Math.min(...scales.ownRate.drift)).toBeGreaterThan(0.1);
  expect(Math.min(...scales.imtlL.drift)).toBeGreaterThan(0.1);

  // Against the static-weight grid tuned on validation data: no adaptive method is better; GradNorm and the
  // scale-free objectives (GLS, FAMO, STCH) are worse; equal weighting is indistinguishable.
  const ranking = r.get<{ vsGrid: Record<string, Verdict>; gridVsGradNormTask1: Verdict }>("03-ranking");
  expect(Object.values(ranking.vsGrid)).not.toContain("better");
  for (const m of ["gradNorm", "gls", "famo", "stch"]) expect(ranking.vsGrid[m], m).toBe("worse");
  expect(ranking.vsGrid.equal).toBe("indistinguishable");
  expect(ranking.gridVsGradNormTask1).toBe("better");
};
