/**
 * Backend selection. mtlkit runs on whichever TensorFlow.js backend is best here, a GPU first:
 * native TensorFlow from `@tensorflow/tfjs-node-gpu` (CUDA), WebGPU (Dawn, when an adapter exists),
 * native TensorFlow on the CPU (`@tensorflow/tfjs-node`), WebAssembly, plain JavaScript.
 * It never runs slow silently: `backendInfo()` says which backend runs, on what device, and why each
 * better one is not in use. `prefer` or the MTLKIT_BACKEND environment variable forces one.
 */
import * as tf from "@tensorflow/tfjs";
import { disableNativeKernels, enableNativeKernels, loadNative, nativeMatMulActive, NativeKernelsStatus } from "./native";
import { MtlError } from "./errors";
import { silenceCpuBanner } from "./backends/cpuBanner";
import { firstLine, loaders } from "./backends/loaders";
import { installedPackage } from "./backends/packages";
import { replaceWasmSlicing } from "./native/wasmSlice";
import { describeAdapter, isSoftwareAdapter, probeWebGpu, registerWebGpu, WebGpuProbe } from "./backends/webgpu";
import { withDisplay } from "./display/attach";
import { backendBundle } from "./display/backend";

/** The TensorFlow.js backends mtlkit knows, best first. */
export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";

/** One backend as `useBestBackend` found it: whether it is available here, whether it computes on a GPU, and why. */
export interface BackendCandidate {
  name: BackendName;
  /** The npm package that provides it. */
  package: string;
  /** That package's version, when installed. */
  version?: string;
  available: boolean;
  /** Whether it computes on a GPU (decides the ranking). */
  gpu: boolean;
  /** Why it is not available (or, when available, what it runs on). */
  reason: string;
}

/** What runs now: the backend, the device, every candidate with its reason, mtlkit's native kernels. */
export interface BackendInfo {
  /** The backend tfjs runs now. */
  backend: string;
  /** What the backend computes on, e.g. "CPU (WebAssembly, SIMD, 1 thread)". */
  device: string;
  /** Every backend considered, best first. */
  candidates: BackendCandidate[];
  tfjsVersion: string;
  /** mtlkit's optional native kernels (OpenBLAS matmul, fused Adam) for the wasm and cpu backends. */
  native: { enabled: boolean; reason: string };
  /** Whether tensors can be read synchronously (dataSync, arraySync); false on webgpu in Node. */
  syncReads: boolean;
  /** On webgpu: the adapter Dawn gave, and whether it is a software one (computing on the CPU). */
  adapter?: AdapterInfo;
}

/** The WebGPU adapter in use, and whether it is a software one (computing on the CPU). */
export interface AdapterInfo {
  /** A readable name, e.g. "NVIDIA H200" or "llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)". */
  name: string;
  vendor: string;
  architecture: string;
  device: string;
  /** A software adapter (lavapipe, SwiftShader, WARP…): WebGPU on the CPU, slower than wasm. */
  software: boolean;
}

/** Options of {@link useBestBackend}. */
export interface UseBackendOptions {
  /** Force a backend; also settable with the MTLKIT_BACKEND environment variable. */
  prefer?: BackendName;
  /** Print one line saying which backend runs (default false). */
  verbose?: boolean;
  /**
   * WebGPU is probed by default (a child process, under a second) and picked when the adapter is a
   * hardware GPU; a software adapter ranks below wasm. `false` skips the probe and never picks it
   * (`prefer: "webgpu"` / MTLKIT_BACKEND=webgpu still force it).
   */
  webgpu?: boolean;
  /** Limit on the WebGPU probe (default 5000 ms). */
  webgpuTimeoutMs?: number;
  /** Use mtlkit's native kernels on wasm and cpu when the addon is built (default true; MTLKIT_NATIVE=0 also turns them off). */
  native?: boolean;
}

export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "webgpu", "wasm", "cpu"];
let lastCandidates: BackendCandidate[] | undefined;
let lastWebGpu: WebGpuProbe | undefined;
let nativeStatus: NativeKernelsStatus | undefined;

/** Loads native TensorFlow if one of its packages is installed and loads; says why not otherwise. */
export function probeNative(): BackendCandidate {
  const failures: string[] = [];
  for (const pkg of ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"]) {
    const manifest = installedPackage(pkg);
    if (!manifest) {
      failures.push(`${pkg} is not installed`);
      continue;
    }
    // danfojs-node's `@tensorflow/tfjs-node` is aliased to plain tfjs (see package.json overrides).
    if (manifest.name !== pkg) {
      failures.push(`${pkg} is not installed (the name is an alias of ${manifest.name ?? "another package"})`);
      continue;
    }
    const gpu = pkg.endsWith("-gpu");
    try {
      loaders.require(pkg);
      if (tf.findBackendFactory("tensorflow")) {
        return { name: "tensorflow", package: pkg, version: manifest.version, available: true, gpu, reason: `loaded from ${pkg}` };
      }
      failures.push(`${pkg} loaded but registered no 'tensorflow' backend (two copies of @tensorflow/tfjs-core?)`);
    } catch (e) {
      failures.push(`${pkg} is installed but failed to load: ${explainNativeFailure(firstLine(e))}`);
    }
  }
  return { name: "tensorflow", package: "@tensorflow/tfjs-node-gpu", available: false, gpu: false, reason: failures.join("; ") };
}

/** Names the missing CUDA piece when libtensorflow's loader says which library it could not open. */
export function explainNativeFailure(message: string): string {
  const lib = /(lib(?:cudart|cublas|cublasLt|cudnn|cufft|curand|cusolver|cusparse|tensorflow)[\w.]*\.so[\w.]*)/.exec(message)?.[1];
  if (!lib) return message;
  if (lib.startsWith("libtensorflow"))
    return `${message} (libtensorflow 2.9.1 was not downloaded at install: reinstall with network access)`;
  return `${message} (tfjs-node-gpu 4.22 runs libtensorflow 2.9.1, which needs CUDA 11.2 and cuDNN 8.1 on the library path)`;
}

export function probeWasm(): BackendCandidate {
  const version = installedPackage("@tensorflow/tfjs-backend-wasm")?.version;
  try {
    loaders.require("@tensorflow/tfjs-backend-wasm");
    replaceWasmSlicing();
    return {
      name: "wasm",
      package: "@tensorflow/tfjs-backend-wasm",
      version,
      available: true,
      gpu: false,
      reason: "WebAssembly with SIMD",
    };
  } catch (e) {
    return {
      name: "wasm",
      package: "@tensorflow/tfjs-backend-wasm",
      version,
      available: false,
      gpu: false,
      reason: `failed to load: ${firstLine(e)}`,
    };
  }
}

/** The WebGPU candidate from a probe; a software adapter counts as no GPU. */
export function webGpuCandidate(probe: WebGpuProbe | undefined): BackendCandidate {
  const version = installedPackage("@tensorflow/tfjs-backend-webgpu")?.version;
  const base = { name: "webgpu" as const, package: "@tensorflow/tfjs-backend-webgpu + webgpu", version };
  if (!probe) return { ...base, available: false, gpu: false, reason: "not probed (call useBestBackend() or mtl.backends.doctor())" };
  if (!version) return { ...base, available: false, gpu: false, reason: "@tensorflow/tfjs-backend-webgpu is not installed" };
  if (probe.status !== "adapter") return { ...base, available: false, gpu: false, reason: probe.reason };
  const gpu = !isSoftwareAdapter(probe.adapter!);
  return { ...base, available: true, gpu, reason: `Dawn ${probe.version}, ${describeAdapter(probe.adapter!)}` };
}

const CPU_CANDIDATE = (): BackendCandidate => ({
  name: "cpu",
  package: "@tensorflow/tfjs",
  version: tf.version.tfjs,
  available: true,
  gpu: false,
  reason: "plain JavaScript (slowest)",
});

/**
 * Best first: available before unavailable, GPU before CPU, then native TensorFlow, WebGPU, wasm,
 * cpu. (A software WebGPU adapter is CPU work through a GPU API: it ranks after wasm.)
 */
export function rankBackends(candidates: BackendCandidate[]): BackendCandidate[] {
  const cpuOrder: BackendName[] = ["tensorflow", "wasm", "webgpu", "cpu"];
  const score = (c: BackendCandidate) => (c.available ? 0 : 100) + (c.gpu ? 0 : 10) + (c.gpu ? BACKEND_NAMES : cpuOrder).indexOf(c.name);
  return [...candidates].sort((a, b) => score(a) - score(b));
}

function probeSync(webgpu: BackendCandidate = webGpuCandidate(lastWebGpu)): BackendCandidate[] {
  return rankBackends([probeNative(), webgpu, probeWasm(), CPU_CANDIDATE()]);
}

function parseForced(options: UseBackendOptions): BackendName | undefined {
  const fromEnv = process.env.MTLKIT_BACKEND?.trim() || undefined;
  const forced = options.prefer ?? fromEnv;
  if (forced !== undefined && !BACKEND_NAMES.includes(forced as BackendName)) {
    throw new MtlError(
      "useBestBackend",
      `unknown backend '${forced}'${options.prefer ? "" : " (from MTLKIT_BACKEND)"}. Known backends: ${BACKEND_NAMES.join(", ")}.`,
    );
  }
  return forced as BackendName | undefined;
}

/**
 * Chooses and initialises the best available backend (or the one asked for) and returns what runs.
 * A backend that fails to initialise is reported and the next one is tried; a forced backend that
 * is not available is an error that says why.
 */
export async function useBestBackend(options: UseBackendOptions = {}): Promise<BackendInfo> {
  const forced = parseForced(options);
  const wantWebGpu = forced === "webgpu" || (forced === undefined && options.webgpu !== false);
  if (wantWebGpu) lastWebGpu = await probeWebGpu({ timeoutMs: options.webgpuTimeoutMs });
  const skipped: BackendCandidate = {
    ...webGpuCandidate(undefined),
    reason: forced ? `not probed (forced: ${forced})` : "not probed (webgpu: false)",
  };
  const candidates = probeSync(wantWebGpu ? webGpuCandidate(lastWebGpu) : skipped);
  lastCandidates = candidates;
  const ranked = forced ? [candidates.find((c) => c.name === forced)!] : candidates;
  for (const candidate of ranked) {
    if (!candidate.available) continue;
    let ok = false;
    try {
      if (candidate.name === "webgpu" && !tf.findBackendFactory("webgpu")) {
        registerWebGpu(lastWebGpu!.dawnPath!);
        if (!tf.findBackendFactory("webgpu"))
          throw new Error("@tensorflow/tfjs-backend-webgpu registered no 'webgpu' backend (was it loaded before navigator.gpu existed?)");
      }
      ok = await tf.setBackend(candidate.name);
      await tf.ready();
      if (!ok) candidate.reason = "failed to initialise (tf.setBackend returned false; see the warning above)";
    } catch (e) {
      candidate.reason = `failed to initialise: ${firstLine(e)}`;
    }
    if (ok && tf.getBackend() === candidate.name) {
      if (options.native === false) {
        disableNativeKernels();
        nativeStatus = { enabled: [], reason: "turned off by the option native: false" };
      } else if (candidate.name === "wasm" || candidate.name === "cpu") nativeStatus = enableNativeKernels();
      silenceCpuBanner();
      const info = backendInfo();
      if (options.verbose) console.log(`mtlkit: using the ${info.backend} backend on ${info.device}`);
      return info;
    }
    candidate.available = false;
  }
  const tried = ranked.map((c) => `${c.name}: ${c.reason}`).join("; ");
  throw new MtlError("useBestBackend", `no backend could be initialised${forced ? ` (forced: ${forced})` : ""} (${tried}).`);
}

/** What runs now, and why the better backends do not. */
export function backendInfo(): BackendInfo {
  const candidates = lastCandidates ?? probeSync();
  const backend = tf.getBackend();
  const native = nativeMatMulActive(backend);
  const reason = native ? (nativeStatus?.reason ?? "enabled") : (nativeStatus?.reason ?? loadNative().status.reason);
  const device = describeDevice(backend) + (native ? ` + native kernels (${reason})` : "");
  const a = backend === "webgpu" ? lastWebGpu?.adapter : undefined;
  const adapter = a && {
    name: describeAdapter(a),
    vendor: a.vendor,
    architecture: a.architecture,
    device: a.device,
    software: isSoftwareAdapter(a),
  };
  return withDisplay(
    {
      backend,
      device,
      candidates,
      tfjsVersion: tf.version.tfjs,
      native: { enabled: native, reason },
      syncReads: backend !== "webgpu",
      ...(adapter ? { adapter } : {}),
    },
    backendBundle,
  );
}

/** The last WebGPU probe this process ran (undefined before the first). */
export function lastWebGpuProbe(): WebGpuProbe | undefined {
  return lastWebGpu;
}

/** Forget cached probes (tests; after installing a package or driver). */
export function resetBackendProbes(): void {
  lastCandidates = undefined;
  lastWebGpu = undefined;
}

function describeDevice(backend: string): string {
  switch (backend) {
    case "tensorflow": {
      const gpu = (tf.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice;
      return gpu ? "GPU (native TensorFlow, CUDA)" : "CPU (native TensorFlow)";
    }
    case "webgpu": {
      const a = lastWebGpu?.adapter;
      return a ? `${isSoftwareAdapter(a) ? "CPU" : "GPU"} (WebGPU via Dawn: ${describeAdapter(a)})` : "GPU (WebGPU)";
    }
    case "wasm":
      return "CPU (WebAssembly, SIMD, 1 thread)";
    case "cpu":
      return "CPU (plain JavaScript)";
    default:
      return backend;
  }
}
