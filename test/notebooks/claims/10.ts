/**
 * Notebook 10's key claims, true on any machine: every backend that ran agrees with cpu (per-step losses
 * within 1e-3 relative, the same test metrics), and wasm trains faster than plain JavaScript per step
 * with the intervals of the median step times apart. Native and GPU lines depend on the machine.
 */
import { expect } from "vitest";
import type { Readings } from "../readings";

interface Agreement {
  backend: string;
  maxLossGap: number;
  thetaDistance: number;
  sameTestMetrics: boolean;
}
interface Speed {
  backend: string;
  ratio: number;
  separate: boolean;
}

export default (r: Readings) => {
  const b = r.get<{ backends: string[]; agreement: Agreement[]; speed: Speed[]; nativeOverWasm: Speed | null }>("10-backends");
  expect(b.backends[0]).toBe("cpu");
  expect(b.backends).toContain("wasm");
  for (const a of b.agreement) {
    expect(a.maxLossGap).toBeLessThan(1e-3);
    expect(a.sameTestMetrics).toBe(true);
  }
  const wasm = b.speed.find((s) => s.backend === "wasm")!;
  expect(wasm.separate).toBe(true);
  expect(wasm.ratio).toBeGreaterThan(2);
  expect(b.nativeOverWasm === null).toBe(!b.backends.some((n) => n.endsWith("+ native")));
  const gpu = r.get<{ gpu: string | null; trained: boolean }>("10-gpu");
  if (gpu.gpu === null) expect(gpu.trained).toBe(false);
};
