/**
 * Claims of notebooks/13-deploy-in-the-browser.ipynb, on the values its readings recorded: the saved
 * and loaded model agree exactly, it trains on, the page in Chromium agrees with Node to 1e-5 with no
 * page errors, PyTorch-layout weights reproduce the model, and a square kernel without a layout is refused.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

export default function claims(readings: Readings): void {
  const roundTrip = readings.get<{ rows: number; maxDifference: number; sameDecisions: boolean; sameMetrics: boolean }>("13-round-trip");
  expect(roundTrip.rows).toBeGreaterThan(50);
  expect(roundTrip.maxDifference).toBe(0);
  expect(roundTrip.sameDecisions).toBe(true);
  expect(roundTrip.sameMetrics).toBe(true);

  const fineTune = readings.get<{ epochs: number; firstTrainLoss: number; lastTrainLoss: number }>("13-fine-tune");
  expect(fineTune.epochs).toBe(10);
  expect(Number.isFinite(fineTune.firstTrainLoss) && Number.isFinite(fineTune.lastTrainLoss)).toBe(true);

  const browser = readings.get<{
    rows: number;
    tasks: number;
    maxDifference: number;
    tolerance: number;
    sameDecisions: boolean;
    pageErrors: number;
    backend: string;
  }>("13-browser");
  expect(browser.rows).toBe(roundTrip.rows);
  expect(browser.tasks).toBe(3);
  expect(browser.tolerance).toBe(1e-5);
  expect(browser.maxDifference).toBeLessThanOrEqual(browser.tolerance);
  expect(browser.sameDecisions).toBe(true);
  expect(browser.pageErrors).toBe(0);

  const weights = readings.get<{ fromTorchDifference: number; squareRefused: boolean; refusal: string }>("13-weights");
  expect(weights.fromTorchDifference).toBe(0);
  expect(weights.squareRefused).toBe(true);
  expect(weights.refusal).toMatch(/layout cannot be checked/);
}
