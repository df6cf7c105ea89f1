/**
 * Runs a block of tests once per CPU backend mtlkit must support (wasm and cpu), switching
 * the tfjs backend before each block's tests run.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { beforeAll, describe } from "vitest";

export const CPU_BACKENDS = ["wasm", "cpu"] as const;
export type CpuBackend = (typeof CPU_BACKENDS)[number];

export async function setBackend(name: CpuBackend): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

export function eachBackend(body: (backend: CpuBackend) => void): void {
  for (const backend of CPU_BACKENDS) {
    describe(`[${backend}]`, () => {
      beforeAll(async () => {
        await setBackend(backend);
      });
      body(backend);
    });
  }
}
