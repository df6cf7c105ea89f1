/**
 * The native kernels' thread count honours the standard variables: MTLKIT_THREADS, then
 * OPENBLAS_NUM_THREADS, then OMP_NUM_THREADS, else one per CPU. (Before, only MTLKIT_THREADS counted,
 * so a process started with OPENBLAS_NUM_THREADS=1 ran OpenBLAS on every core.)
 */
import { availableParallelism } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { nativeThreads } from "../../lib/native/threads";

describe("nativeThreads", () => {
  it("takes MTLKIT_THREADS over OPENBLAS_NUM_THREADS over OMP_NUM_THREADS over the CPU count", () => {
    expect(nativeThreads({ MTLKIT_THREADS: "3", OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "2" })).toBe(3);
    expect(nativeThreads({ OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "2" })).toBe(1);
    expect(nativeThreads({ OMP_NUM_THREADS: "2" })).toBe(2);
    expect(nativeThreads({})).toBe(availableParallelism());
  });

  it("skips values that are not positive whole numbers", () => {
    expect(nativeThreads({ MTLKIT_THREADS: "", OPENBLAS_NUM_THREADS: "0", OMP_NUM_THREADS: "4" })).toBe(4);
    expect(nativeThreads({ MTLKIT_THREADS: "two", OPENBLAS_NUM_THREADS: "1.5" })).toBe(availableParallelism());
  });
});

const { addon, status } = loadNative();

describe.runIf(status.available)("enableNativeKernels", () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ["MTLKIT_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    disableNativeKernels();
  });

  it("runs OpenBLAS on OPENBLAS_NUM_THREADS threads when MTLKIT_THREADS is unset", () => {
    delete process.env.MTLKIT_THREADS;
    process.env.OPENBLAS_NUM_THREADS = "1";
    disableNativeKernels();
    expect(enableNativeKernels().reason).toMatch(/1 thread\b/);
    expect(addon!.info().threads).toBe(1);
  });
});
