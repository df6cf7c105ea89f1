/**
 * Claims of notebooks/09-cv-multitask.ipynb, on the values its readings recorded: with equal weights
 * the box task loses to the box-only model, the static weight chosen on validation brings it back
 * (better than equal weights) without costing the class task, the losses differ by orders of magnitude
 * and GLS's weight ratio follows them, and every verdict the prose states is the one the recorded
 * per-seed values give ("indistinguishable" where the intervals overlap).
 */
import { expect } from "vitest";
import { compare } from "../../../lib/report";
import type { Readings } from "../readings";

type Verdict = "better" | "worse" | "indistinguishable";
interface Versus {
  verdict: Verdict;
  a: number[];
  b: number[];
}

function expectConsistent(v: Versus, seeds: number): void {
  expect(v.a).toHaveLength(seeds);
  expect(v.b).toHaveLength(seeds);
  expect(v.verdict).toBe(compare(v.a, v.b).verdict);
}

export default function claims(readings: Readings): void {
  const box = readings.get<{
    seeds: number;
    chosenWeight: number;
    chosen: string;
    iou: Record<string, number[]>;
    accuracy: Record<string, number[]>;
    equalVsBoxOnly: Versus;
    uncertaintyVsEqual: Versus;
    chosenVsEqual: Versus;
    chosenVsBoxOnly: Versus;
    chosenClassVsClassOnly: Versus;
    glsVsBoxOnly: Versus;
    glsClassVsClassOnly: Versus;
  }>("09-box");
  expect(box.seeds).toBeGreaterThanOrEqual(5);
  for (const key of [
    "equalVsBoxOnly",
    "uncertaintyVsEqual",
    "chosenVsEqual",
    "chosenVsBoxOnly",
    "chosenClassVsClassOnly",
    "glsVsBoxOnly",
    "glsClassVsClassOnly",
  ] as const) {
    expectConsistent(box[key], box.seeds);
  }
  expect(box.chosenVsEqual.a).toEqual(box.iou[box.chosen]);
  expect(box.equalVsBoxOnly.b).toEqual(box.iou["box only"]);
  expect([10, 30, 100]).toContain(box.chosenWeight);
  // Equal weights starve the box task; the weight chosen on validation brings it back without costing the class task.
  expect(box.equalVsBoxOnly.verdict).toBe("worse");
  expect(box.chosenVsEqual.verdict).toBe("better");
  expect(box.chosenClassVsClassOnly.verdict).not.toBe("worse");

  const weights = readings.get<{ lossRatio: number[]; uncertaintyRatio: number[]; glsRatio: number[]; chosenWeight: number }>("09-weights");
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(weights.chosenWeight).toBe(box.chosenWeight);
  // The losses differ by about two orders of magnitude.
  expect(mean(weights.lossRatio)).toBeGreaterThan(30);
  for (const r of weights.uncertaintyRatio) expect(r).toBeGreaterThan(0);
  // GLS weighs each task by 1 / L_i, so its ratio follows the loss ratio, far above the grid's weights.
  expect(mean(weights.glsRatio)).toBeGreaterThan(100);

  const mf = readings.get<{ seeds: number; parameterRatio: number; left: Versus; right: Versus }>("09-multifashion");
  expect(mf.seeds).toBeGreaterThanOrEqual(5);
  expectConsistent(mf.left, mf.seeds);
  expectConsistent(mf.right, mf.seeds);
  expect(mf.parameterRatio).toBeLessThan(0.75);
}
