/**
 * `mtlkit doctor`: what this machine offers mtlkit and what to do about what is missing. Node, tfjs
 * and backend versions; which backends load (and compute a matmul that agrees with float64) and
 * why the others do not; GPUs seen (NVIDIA driver, WebGPU adapter, Vulkan loader, CUDA libraries);
 * Jupyter and the mtlkit kernelspec, found without running Python; a one-line verdict.
 */
import { loadNative } from "./native";
import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { BackendCandidate, BackendName, lastWebGpuProbe, useBestBackend } from "./backend";
import { silenceCpuBanner } from "./backends/cpuBanner";
import { firstLine } from "./backends/loaders";
import { packageVersion } from "./backends/packages";
import { gpuLibraries, NvidiaInfo, nvidiaInfo, SharedLibrary } from "./backends/system";
import { registerWebGpu, WebGpuProbe } from "./backends/webgpu";
import { findJupyter, installedJupyterPath } from "./util/jupyterPaths";

/** A backend as the doctor checked it: a candidate, and whether a 64×64 matmul on it agrees with float64. */
export interface BackendCheck extends BackendCandidate {
  /** For an available backend: a 64×64 matmul ran and agreed with float64 (relative error below 1e-4). */
  works?: boolean;
  /** Whether it reads tensors back synchronously (dataSync, arraySync); WebGPU in Node reads only with await. */
  syncReads?: boolean;
  /** max |C − C64| / max |C64| of that matmul, or why it could not run. */
  check?: string;
}

/** An mtlkit kernelspec found on Jupyter's data path, and whether the files it runs exist. */
export interface KernelspecFound {
  name: string;
  dir: string;
  argv: string[];
  /** Whether argv's program and script exist. */
  ok: boolean;
  problem?: string;
}

/** Jupyter as the doctor found it, without running Python. */
export interface JupyterInfo {
  /** The `jupyter` executable, when there is one. */
  executable?: string;
  /** Jupyter's data path, in jupyter_core's order (JUPYTER_PATH, user, environment, system). */
  dataDirs: string[];
  /** Every mtlkit kernelspec (kernel.json whose argv runs mtlkit's cli.js, or named mtlkit*). */
  kernelspecs: KernelspecFound[];
}

/** Everything {@link doctor} found, as plain data, with a one-line verdict and what to do. */
export interface DoctorReport {
  node: { version: string; platform: string; arch: string; execPath: string };
  tfjsVersion: string;
  /** Optional and backend packages: version or null when not installed. */
  packages: Record<string, string | null>;
  /** Every backend, best first, with a correctness check for those that load. */
  backends: BackendCheck[];
  /** What useBestBackend picks here. */
  best: { backend: string; device: string };
  /** mtlkit's optional native addon (OpenBLAS matmul, fused Adam and MLP steps): loaded, or why not. */
  native: { available: boolean; enabled: boolean; reason: string };
  gpu: { nvidia: NvidiaInfo; webgpu?: WebGpuProbe; libraries: SharedLibrary[] };
  jupyter: JupyterInfo;
  verdict: string;
  todo: string[];
}

/** Options of {@link doctor}. */
export interface DoctorOptions {
  /** Limit on the WebGPU probe (default 5000 ms). */
  webgpuTimeoutMs?: number;
  /** Kernelspec name to look for (default "mtlkit"). */
  kernelName?: string;
}

const PACKAGES = [
  "@tensorflow/tfjs",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-backend-webgpu",
  "webgpu",
  "@tensorflow/tfjs-node-gpu",
  "@tensorflow/tfjs-node",
];

export function findKernelspecs(dataDirs: string[], name = "mtlkit"): KernelspecFound[] {
  const found: KernelspecFound[] = [];
  for (const dir of dataDirs) {
    let entries: string[] = [];
    try {
      entries = fs.readdirSync(path.join(dir, "kernels"));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const specDir = path.join(dir, "kernels", entry);
      let argv: string[];
      try {
        argv = (JSON.parse(fs.readFileSync(path.join(specDir, "kernel.json"), "utf8")) as { argv?: string[] }).argv ?? [];
      } catch {
        if (entry === name) found.push({ name: entry, dir: specDir, argv: [], ok: false, problem: "kernel.json is missing or not JSON" });
        continue;
      }
      const isOurs = entry === name || argv.some((a) => /mtlkit|kernel[\\/]cli\.js|dist[\\/]kernel[\\/]cli\.js/.test(a));
      if (!isOurs) continue;
      const missing = argv.slice(0, 2).filter((a) => path.isAbsolute(a) && !fs.existsSync(a));
      found.push({
        name: entry,
        dir: specDir,
        argv,
        ok: missing.length === 0,
        problem: missing.length ? `missing: ${missing.join(", ")}` : undefined,
      });
    }
  }
  return found;
}

/** A 64×64 matmul on `backend`, compared with float64; restores nothing (the caller does). */
async function checkBackend(backend: BackendName): Promise<{ works: boolean; syncReads?: boolean; check: string }> {
  try {
    if (!(await tf.setBackend(backend))) return { works: false, check: "tf.setBackend returned false" };
    await tf.ready();
    silenceCpuBanner(); // the doctor says it better
    const n = 64;
    const a = Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37));
    const b = Array.from({ length: n * n }, (_, i) => Math.cos(i * 0.11));
    const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [n, n]), tf.tensor2d(b, [n, n])));
    const c = await product.data();
    product.dispose();
    let syncReads = true;
    try {
      // Large enough to stay on the device (WebGPU computes tiny tensors on the CPU).
      const probe = tf.tidy(() => tf.matMul(tf.ones([n, n]), tf.ones([n, n])));
      probe.dataSync();
      probe.dispose();
    } catch {
      syncReads = false;
    }
    let err = 0;
    let scale = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
        err = Math.max(err, Math.abs(c[i * n + j] - s));
        scale = Math.max(scale, Math.abs(s));
      }
    }
    const rel = err / scale;
    const note = syncReads ? "" : "; reads back only asynchronously (await t.data())";
    return { works: rel < 1e-4, syncReads, check: `matmul 64×64 rel. error ${rel.toExponential(1)}${note}` };
  } catch (e) {
    return { works: false, check: `failed: ${firstLine(e)}` };
  }
}

/**
 * What this machine offers mtlkit: Node, tfjs and backend package versions; each backend, whether it loads and
 * computes correctly; the GPUs the system shows; Jupyter and the mtlkit kernelspec; a verdict and what to do.
 * `npx mtlkit doctor` prints it.
 */
export async function doctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const previous = (tf.engine() as unknown as { backendName: string | null }).backendName;
  const packages = Object.fromEntries(PACKAGES.map((p) => [p, packageVersion(p)]));
  const [nvidia, bestInfo] = await Promise.all([nvidiaInfo(), useBestBackend({ webgpuTimeoutMs: options.webgpuTimeoutMs })]);
  const best = { backend: bestInfo.backend, device: bestInfo.device };
  const native = { available: loadNative().status.available, enabled: bestInfo.native.enabled, reason: bestInfo.native.reason };
  const backends: BackendCheck[] = [];
  for (const c of bestInfo.candidates) {
    if (!c.available) {
      backends.push({ ...c });
      continue;
    }
    // useBestBackend registers WebGPU only when it picks it; the check needs it either way.
    if (c.name === "webgpu" && !tf.findBackendFactory("webgpu")) {
      try {
        registerWebGpu(lastWebGpuProbe()!.dawnPath!);
      } catch (e) {
        backends.push({ ...c, works: false, check: `failed to load: ${firstLine(e)}` });
        continue;
      }
    }
    backends.push({ ...c, ...(await checkBackend(c.name)) });
  }
  await tf.setBackend(previous ?? best.backend);

  const executable = findJupyter();
  const dataDirs = installedJupyterPath(executable);
  const jupyter: JupyterInfo = { executable, dataDirs, kernelspecs: findKernelspecs(dataDirs, options.kernelName) };
  const gpu = { nvidia, webgpu: lastWebGpuProbe(), libraries: gpuLibraries() };
  const report: DoctorReport = {
    node: { version: process.version, platform: process.platform, arch: process.arch, execPath: process.execPath },
    tfjsVersion: tf.version.tfjs,
    packages,
    backends,
    best,
    native,
    gpu,
    jupyter,
    verdict: "",
    todo: [],
  };
  Object.assign(report, diagnose(report));
  return report;
}

/** The one-line verdict and the list of things to do, from the facts gathered. */
export function diagnose(r: Omit<DoctorReport, "verdict" | "todo">): { verdict: string; todo: string[] } {
  const todo: string[] = [];
  const working = r.backends.filter((b) => b.works);
  const gpuBackend = working.find((b) => b.gpu);
  const lib = (name: string) => r.gpu.libraries.find((l) => l.name === name);
  const hasNvidia = r.gpu.nvidia.gpus.length > 0 || r.gpu.nvidia.driver !== undefined;
  const native = r.backends.find((b) => b.name === "tensorflow");
  const webgpu = r.backends.find((b) => b.name === "webgpu");

  let verdict: string;
  if (gpuBackend) {
    const asyncNote =
      gpuBackend.syncReads === false
        ? "; it reads tensors back only asynchronously: in your own code await t.data() / t.array() instead of dataSync() / arraySync()"
        : "";
    verdict = `OK: mtlkit trains on the GPU (${gpuBackend.name}: ${r.best.device})${asyncNote}.`;
  } else if (hasNvidia) {
    verdict = `A GPU is here (${r.gpu.nvidia.gpus[0] ?? `NVIDIA driver ${r.gpu.nvidia.driver}`}) but no GPU backend loads: mtlkit runs on ${r.best.backend} (${r.best.device}).`;
    if (lib("libvulkan.so.1") && !lib("libvulkan.so.1")!.path)
      todo.push(
        "for WebGPU: install the Vulkan loader (Debian/Ubuntu: apt-get install libvulkan1); NVIDIA's driver provides the Vulkan driver",
      );
    else if (webgpu && !webgpu.available) todo.push(`for WebGPU: ${webgpu.reason}`);
    if (r.packages["@tensorflow/tfjs-node-gpu"] === null)
      todo.push(
        "for native TensorFlow on CUDA: npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs CUDA 11.2 and cuDNN 8.1; see docs/gpu.md)",
      );
    else if (native && !native.available) todo.push(`for native TensorFlow: ${native.reason}`);
  } else {
    verdict = `No GPU here: mtlkit runs on ${r.best.backend} (${r.best.device}); the tutorials' default sizes are made for that.`;
    if (r.best.backend === "cpu") todo.push("install @tensorflow/tfjs-backend-wasm: several times faster than plain JavaScript");
  }
  if (r.backends.some((b) => b.available && b.works === false)) {
    for (const b of r.backends.filter((x) => x.available && x.works === false))
      todo.push(`the ${b.name} backend loads but its check failed (${b.check}): force another with MTLKIT_BACKEND`);
  }
  if (!r.native.available && (r.best.backend === "wasm" || r.best.backend === "cpu")) {
    todo.push(
      `for 2–30× faster CPU training, build the native addon (${r.native.reason}): install g++, make and libopenblas-dev, then npm run build:native`,
    );
  }
  const specs = r.jupyter.kernelspecs;
  if (specs.length === 0) todo.push("install the Jupyter kernel: npx mtlkit kernel install --user");
  else if (!specs.some((s) => s.ok))
    todo.push(`the mtlkit kernelspec points at files that are gone (${specs[0].problem}): rerun npx mtlkit kernel install --user`);
  if (!r.jupyter.executable) todo.push("Jupyter is not installed: `mtlkit run` still executes notebooks; install JupyterLab to edit them");
  return { verdict, todo };
}
