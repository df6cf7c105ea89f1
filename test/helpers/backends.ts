/**
 * The one list of backends the per-backend tests run on: wasm and cpu always, and webgpu for the
 * test files that opt in (`eachBackend(body, { webgpu: true })`) when Dawn offers an adapter here.
 * With MTLKIT_REQUIRE_WEBGPU=1 (CI, where .ci/run installs a software Vulkan) webgpu is always in
 * the list and a missing adapter fails its tests with Dawn's reason instead of leaving them out.
 *
 * Opt in only where the code under test reads tensors with await: tfjs-backend-webgpu cannot read
 * synchronously in Node.
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { replaceWasmSlicing } from "../../lib/native/wasmSlice";

// Tests that set the wasm backend themselves run on the same slicing kernels as useBestBackend.
replaceWasmSlicing();
import { beforeAll, describe } from "vitest";
import { probeWebGpuSync, registerWebGpu, WebGpuProbe } from "../../lib/backends/webgpu";

export const CPU_BACKENDS = ["wasm", "cpu"] as const;
export type CpuBackend = (typeof CPU_BACKENDS)[number];
export type TestBackend = CpuBackend | "webgpu";

export interface BackendChoice {
  /** Also run on webgpu (when an adapter is here, or always under MTLKIT_REQUIRE_WEBGPU=1). */
  webgpu?: boolean;
}

export const REQUIRE_WEBGPU = process.env.MTLKIT_REQUIRE_WEBGPU === "1";

let webgpuProbe: WebGpuProbe | undefined;

/**
 * Dawn's answer in this test process: probed at most once, and only by files that opt in (a child
 * process, about half a second), while the file is collected, since the list must be known then.
 */
export function webGpuProbeHere(): WebGpuProbe {
  webgpuProbe ??= probeWebGpuSync({ timeoutMs: 15_000 });
  return webgpuProbe;
}

/** The backends a per-backend test runs on, in order. */
export function backendsToTest(choice: BackendChoice = {}): TestBackend[] {
  const withWebGpu = choice.webgpu === true && (REQUIRE_WEBGPU || webGpuProbeHere().status === "adapter");
  return [...CPU_BACKENDS, ...(withWebGpu ? (["webgpu"] as const) : [])];
}

export async function setBackend(name: TestBackend): Promise<void> {
  if (name === "webgpu") {
    const probe = webGpuProbeHere();
    if (probe.status !== "adapter") throw new Error(`MTLKIT_REQUIRE_WEBGPU=1 but there is no WebGPU adapter here: ${probe.reason}`);
    if (!tf.findBackendFactory("webgpu")) registerWebGpu(probe.dawnPath!);
  }
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}

export function eachBackend(body: (backend: TestBackend) => void, choice: BackendChoice = {}): void {
  for (const backend of backendsToTest(choice)) {
    describe(`[${backend}]`, () => {
      beforeAll(async () => {
        await setBackend(backend);
      });
      body(backend);
    });
  }
}
