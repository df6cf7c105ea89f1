/**
 * What this machine really has, found independently of the selection code under test, so that
 * tests assert that selection and `mtlkit doctor` agree with the machine, on any machine: with or
 * without a GPU, a WebGPU adapter or native TensorFlow.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { probeWebGpu, WebGpuProbe } from "../../lib/backends/webgpu";

const fromRepo = createRequire(path.join(__dirname, "..", "..", "package.json"));

export type NativePackage = "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node";

export interface InstalledPackage {
  /** The version when the real package is installed, else null. */
  version: string | null;
  /** What its name resolves to when it is an alias of another package (danfojs-node's tfjs-node). */
  aliasOf?: string;
}

/** Whether `pkg` is installed as itself, as an alias, or not at all (read from its package.json on disk). */
export function installedPackage(pkg: NativePackage): InstalledPackage {
  let manifestPath: string;
  try {
    manifestPath = fromRepo.resolve(`${pkg}/package.json`);
  } catch {
    return { version: null };
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as { name?: string; version?: string };
  if (manifest.name !== pkg) return { version: null, aliasOf: manifest.name };
  return { version: manifest.version ?? null };
}

/** Dawn's answer here (the same cached probe useBestBackend reuses, so both see one answer). */
export function webGpuHere(): Promise<WebGpuProbe> {
  return probeWebGpu();
}
