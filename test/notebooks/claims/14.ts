/**
 * Claims of notebooks/14-sweeps.ipynb, on the values its readings recorded: every run of the grid
 * finished, re-running the sweep ran nothing again, one worker reproduced the two-worker sweep's
 * metrics, two workers shorten the runs' critical path, and each method's verdict against
 * single-task learning is the one its Δm interval gives (indistinguishable when it includes 0).
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

export default function claims(readings: Readings): void {
  const sweep = readings.get<{ runs: number; ok: number; failed: number; seeds: number; methods: number }>("14-sweep");
  expect(sweep.seeds).toBeGreaterThanOrEqual(5);
  expect(sweep.runs).toBe(sweep.seeds * sweep.methods);
  expect(sweep.ok).toBe(sweep.runs);
  expect(sweep.failed).toBe(0);

  const resume = readings.get<{ ran: number; resumed: number; records: number }>("14-resume");
  expect(resume).toEqual({ ran: 0, resumed: sweep.runs, records: sweep.runs });

  const speed = readings.get<{
    speedUp: number;
    criticalSpeedUp: number;
    oneWorkerCriticalCpu: number;
    twoWorkerCriticalCpu: number;
    maxDifference: number;
  }>("14-speed-up");
  expect(speed.maxDifference).toBeLessThanOrEqual(1e-6);
  expect(speed.criticalSpeedUp).toBeCloseTo(speed.oneWorkerCriticalCpu / speed.twoWorkerCriticalCpu, 10);
  expect(speed.criticalSpeedUp).toBeGreaterThan(1.3);
  expect(speed.speedUp).toBeGreaterThan(0);

  const dm = readings.get<{
    methods: Array<{ method: string; mean: number; low: number; high: number; n: number; verdict: string }>;
    best: string;
    tiedWithBest: string[];
  }>("14-deltam");
  expect(dm.methods.map((m) => m.method)).toEqual(["equal", "uncertainty", "dwa", "pcgrad"]);
  for (const m of dm.methods) {
    expect(m.n).toBe(sweep.seeds);
    expect(m.low).toBeLessThanOrEqual(m.mean);
    expect(m.high).toBeGreaterThanOrEqual(m.mean);
    expect(m.verdict).toBe(m.low > 0 ? "better" : m.high < 0 ? "worse" : "indistinguishable");
  }
  expect(dm.best).toBe([...dm.methods].sort((a, b) => b.mean - a.mean)[0].method);
  expect(dm.tiedWithBest).toContain(dm.best);
}
