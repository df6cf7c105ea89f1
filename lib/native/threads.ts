/**
 * How many threads the native kernels (OpenBLAS) use: MTLKIT_THREADS when set, else the standard
 * OPENBLAS_NUM_THREADS, then OMP_NUM_THREADS (as OpenBLAS itself reads them), else one per CPU.
 * Without this, a process started with OPENBLAS_NUM_THREADS=1 (a benchmark, a job on a shared
 * machine) would still run on every core once the addon loads.
 */
import { availableParallelism, cpus } from "node:os";

const VARIABLES = ["MTLKIT_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"] as const;

export function nativeThreads(env: NodeJS.ProcessEnv = process.env): number {
  for (const name of VARIABLES) {
    const value = Number(env[name]?.trim() || NaN);
    if (Number.isInteger(value) && value > 0) return value;
  }
  return typeof availableParallelism === "function" ? availableParallelism() : cpus().length;
}
