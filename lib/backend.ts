/**
 * Backend selection. mtlkit runs on whichever TensorFlow.js backend is best here:
 * native TensorFlow (`@tensorflow/tfjs-node-gpu`, then `@tensorflow/tfjs-node`), else WebAssembly,
 * else plain JavaScript. It never runs slow silently: `backendInfo()` says which backend runs,
 * on what device, and why each better one is not in use.
 */
import * as tf from "@tensorflow/tfjs";
import { MtlError } from "./errors";

export type BackendName = "tensorflow" | "wasm" | "cpu";

export interface BackendCandidate {
  name: BackendName;
  /** The npm package that provides it. */
  package: string;
  available: boolean;
  /** Why it is not available (or, when available, what it runs on). */
  reason: string;
}

export interface BackendInfo {
  /** The backend tfjs runs now. */
  backend: string;
  /** What the backend computes on, e.g. "CPU (WebAssembly, SIMD, 1 thread)". */
  device: string;
  /** Every backend considered, best first. */
  candidates: BackendCandidate[];
  tfjsVersion: string;
}

export interface UseBackendOptions {
  /** Force a backend; also settable with the MTLKIT_BACKEND environment variable. */
  prefer?: BackendName;
  /** Print one line saying which backend runs (default false). */
  verbose?: boolean;
}

const ORDER: BackendName[] = ["tensorflow", "wasm", "cpu"];
let lastCandidates: BackendCandidate[] | undefined;

/** Loads native TensorFlow if one of its packages is installed and loads; says why not otherwise. */
function probeNative(): BackendCandidate {
  const failures: string[] = [];
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    let manifest: { name?: string } | undefined;
    try {
      manifest = require(`${pkg}/package.json`);
    } catch {
      failures.push(`${pkg} is not installed`);
      continue;
    }
    // danfojs-node's `@tensorflow/tfjs-node` is aliased to plain tfjs (see package.json overrides).
    if (manifest?.name !== pkg) {
      failures.push(`${pkg} is not installed (the name is an alias of ${manifest?.name ?? "another package"})`);
      continue;
    }
    try {
      require(pkg);
      if (tf.findBackend("tensorflow")) {
        return { name: "tensorflow", package: pkg, available: true, reason: `loaded from ${pkg}` };
      }
      failures.push(`${pkg} loaded but registered no 'tensorflow' backend`);
    } catch (e) {
      failures.push(`${pkg} is installed but failed to load: ${firstLine(e)}`);
    }
  }
  return { name: "tensorflow", package: "@tensorflow/tfjs-node-gpu", available: false, reason: failures.join("; ") };
}

function probeWasm(): BackendCandidate {
  try {
    require("@tensorflow/tfjs-backend-wasm");
    return { name: "wasm", package: "@tensorflow/tfjs-backend-wasm", available: true, reason: "WebAssembly with SIMD" };
  } catch (e) {
    return { name: "wasm", package: "@tensorflow/tfjs-backend-wasm", available: false, reason: `failed to load: ${firstLine(e)}` };
  }
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n")[0].slice(0, 300);
}

function probeAll(): BackendCandidate[] {
  const cpu: BackendCandidate = { name: "cpu", package: "@tensorflow/tfjs", available: true, reason: "plain JavaScript (slowest)" };
  return [probeNative(), probeWasm(), cpu];
}

/**
 * Chooses and initialises the best available backend (or the one asked for) and returns what runs.
 * A backend that fails to initialise is reported and the next one is tried.
 */
export async function useBestBackend(options: UseBackendOptions = {}): Promise<BackendInfo> {
  const forced = options.prefer ?? (process.env.MTLKIT_BACKEND as BackendName | undefined);
  if (forced !== undefined && !ORDER.includes(forced)) {
    throw new MtlError(
      "useBestBackend",
      `unknown backend '${forced}'${options.prefer ? "" : " (from MTLKIT_BACKEND)"}. Known backends: ${ORDER.join(", ")}.`,
    );
  }
  const candidates = probeAll();
  lastCandidates = candidates;
  const ranked = forced ? [candidates.find((c) => c.name === forced)!] : candidates;
  for (const candidate of ranked) {
    if (!candidate.available) continue;
    let ok = false;
    try {
      ok = await tf.setBackend(candidate.name);
      await tf.ready();
    } catch (e) {
      candidate.reason = `failed to initialise: ${firstLine(e)}`;
    }
    if (ok && tf.getBackend() === candidate.name) {
      const info = backendInfo();
      if (options.verbose) console.log(`mtlkit: using the ${info.backend} backend on ${info.device}`);
      return info;
    }
    candidate.available = false;
  }
  const tried = ranked.map((c) => `${c.name}: ${c.reason}`).join("; ");
  throw new MtlError("useBestBackend", `no backend could be initialised (${tried}).`);
}

/** What runs now, and why the better backends do not. */
export function backendInfo(): BackendInfo {
  const candidates = lastCandidates ?? probeAll();
  const backend = tf.getBackend();
  return { backend, device: describeDevice(backend), candidates, tfjsVersion: tf.version.tfjs };
}

function describeDevice(backend: string): string {
  switch (backend) {
    case "tensorflow": {
      const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
      return gpu ? "GPU (native TensorFlow, CUDA)" : "CPU (native TensorFlow)";
    }
    case "wasm":
      return "CPU (WebAssembly, SIMD, 1 thread)";
    case "cpu":
      return "CPU (plain JavaScript)";
    default:
      return backend;
  }
}
