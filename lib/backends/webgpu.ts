/**
 * WebGPU through Dawn (the npm `webgpu` package: Vulkan on Linux, Metal on macOS, D3D12 on Windows)
 * and `@tensorflow/tfjs-backend-webgpu`.
 *
 * Probing loads Dawn in a child process with a time limit, so a native crash, a hang in a GPU
 * driver, or Dawn's warnings on stderr cannot reach the caller (a notebook kernel, say): the
 * answer is an adapter, or "no adapter" with the reason, within `timeoutMs`. Only after a probe
 * found a usable adapter does `registerWebGpu` load Dawn into this process.
 */
import { execFile, spawnSync } from "node:child_process";
import * as path from "node:path";
import { MtlError } from "../errors";
import { firstLine, loaders } from "./loaders";
import { repairWebGpuAddN } from "./webgpuKernels";

/** The outcome of a WebGPU probe. */
export type WebGpuStatus = "adapter" | "no-adapter" | "device-failed" | "not-installed" | "load-failed" | "crashed" | "timeout";

/** A WebGPU adapter as Dawn describes it. */
export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software or otherwise "fallback" adapter: WebGPU on the CPU, slower than wasm. */
  isFallbackAdapter: boolean;
  features: string[];
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

/** The result of asking Dawn for a WebGPU adapter in a child process. */
export interface WebGpuProbe {
  status: WebGpuStatus;
  /** The adapter Dawn offers for "high-performance", when there is one and a device opens on it. */
  adapter?: GpuAdapterSummary;
  /** A sentence a user can act on. */
  reason: string;
  /** Warnings Dawn printed (first line of each). */
  warnings: string[];
  /** How long the probe took. */
  ms: number;
  /** The Dawn binary that was (or would have been) loaded. */
  dawnPath?: string;
  /** `webgpu` package version, when installed. */
  version?: string;
}

/** Options of {@link probeWebGpu}. */
export interface WebGpuProbeOptions {
  /** Kill the probe after this long (default 5000 ms). */
  timeoutMs?: number;
  /** Probe again instead of answering from this process's cache. */
  refresh?: boolean;
}

/**
 * Where the `webgpu` package keeps Dawn for this platform (mirrors the package's own index.js, which
 * is an ES module; loading dawn.node directly works on every Node that mtlkit supports).
 */
export function dawnBinaryPath(): { path: string; version: string } | undefined {
  // A Dawn build of your own (or a test double) instead of the package's.
  const override = process.env.MTLKIT_DAWN_PATH;
  if (override) return { path: path.resolve(override), version: "MTLKIT_DAWN_PATH" };
  let manifest: string;
  try {
    manifest = loaders.resolve("webgpu/package.json");
  } catch {
    return undefined;
  }
  const version = (loaders.require("webgpu/package.json") as { version?: string }).version ?? "?";
  const arch = process.platform === "darwin" ? "universal" : process.arch;
  return { path: path.join(path.dirname(manifest), "dist", `${process.platform}-${arch}`, "dawn.node"), version };
}

// Runs in the child: load Dawn, ask for an adapter, open a device on it, print one JSON line.
// `process.exit` because Dawn's threads can keep a process alive.
const CHILD = `
const done = (o) => { process.stdout.write(JSON.stringify(o) + "\\n"); process.exit(0); };
const msg = (e) => String((e && e.message) || e).split("\\n")[0];
let dawn;
try { dawn = require(process.argv[1]); } catch (e) { done({ status: "load-failed", error: msg(e) }); }
(async () => {
  const gpu = dawn.create([]);
  const a = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!a) return done({ status: "no-adapter" });
  const i = a.info || {};
  const adapter = {
    vendor: String(i.vendor || ""), architecture: String(i.architecture || ""),
    device: String(i.device || ""), description: String(i.description || ""),
    isFallbackAdapter: Boolean(a.isFallbackAdapter ?? i.isFallbackAdapter ?? false),
    features: [...a.features].sort(),
    maxBufferSize: Number(a.limits.maxBufferSize), maxStorageBufferBindingSize: Number(a.limits.maxStorageBufferBindingSize),
  };
  try { const d = await a.requestDevice(); d.destroy(); } catch (e) { return done({ status: "device-failed", adapter, error: msg(e) }); }
  done({ status: "adapter", adapter });
})().catch((e) => done({ status: "no-adapter", error: msg(e) }));
`;

interface ChildAnswer {
  status: "adapter" | "no-adapter" | "device-failed" | "load-failed";
  adapter?: GpuAdapterSummary;
  error?: string;
}

let cached: Promise<WebGpuProbe> | undefined;

/** Is there a usable WebGPU adapter here? Never throws; answers within `timeoutMs` (plus process start). */
export function probeWebGpu(options: WebGpuProbeOptions = {}): Promise<WebGpuProbe> {
  if (!cached || options.refresh) cached = runProbe(options.timeoutMs ?? 5000);
  return cached;
}

/** Forget the cached probe (tests; after installing a driver). */
export function resetWebGpuProbe(): void {
  cached = undefined;
}

const NOT_INSTALLED: WebGpuProbe = {
  status: "not-installed",
  reason: "the optional package `webgpu` is not installed (npm install webgpu)",
  warnings: [],
  ms: 0,
};

interface ChildRun {
  stdout: string;
  stderr: string;
  signal: string | null;
  timedOut: boolean;
  ms: number;
}

async function runProbe(timeoutMs: number): Promise<WebGpuProbe> {
  const start = performance.now();
  const dawn = dawnBinaryPath();
  if (!dawn) return { ...NOT_INSTALLED };
  const run = await new Promise<ChildRun>((resolve) => {
    execFile(
      process.execPath,
      ["-e", CHILD, dawn.path],
      { timeout: timeoutMs, killSignal: "SIGKILL", maxBuffer: 1 << 20, encoding: "utf8", windowsHide: true },
      (error, out, err) => {
        const e = error as (NodeJS.ErrnoException & { killed?: boolean; signal?: string | null }) | null;
        const ms = performance.now() - start;
        resolve({ stdout: out, stderr: err, signal: e?.signal ?? null, timedOut: Boolean(e?.killed) && ms >= timeoutMs - 50, ms });
      },
    );
  });
  return interpretProbe(run, dawn, timeoutMs);
}

/**
 * The same probe, blocking: for callers that must know before anything asynchronous can run (a
 * test file deciding, while it is collected, which backends it runs on). Not cached.
 */
export function probeWebGpuSync(options: { timeoutMs?: number } = {}): WebGpuProbe {
  const timeoutMs = options.timeoutMs ?? 5000;
  const start = performance.now();
  const dawn = dawnBinaryPath();
  if (!dawn) return { ...NOT_INSTALLED };
  const r = spawnSync(process.execPath, ["-e", CHILD, dawn.path], {
    timeout: timeoutMs,
    killSignal: "SIGKILL",
    maxBuffer: 1 << 20,
    encoding: "utf8",
    windowsHide: true,
  });
  const ms = performance.now() - start;
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === "ETIMEDOUT";
  return interpretProbe({ stdout: r.stdout ?? "", stderr: r.stderr ?? "", signal: r.signal, timedOut, ms }, dawn, timeoutMs);
}

function interpretProbe(run: ChildRun, dawn: { path: string; version: string }, timeoutMs: number): WebGpuProbe {
  const { stdout, stderr, signal, timedOut } = run;
  const warnings = dawnWarnings(stderr);
  const base = { warnings, ms: Math.round(run.ms), dawnPath: dawn.path, version: dawn.version };
  if (timedOut)
    return { ...base, status: "timeout", reason: `Dawn did not answer within ${timeoutMs} ms (a GPU driver hung); the probe was killed` };
  const answer = parseAnswer(stdout);
  if (!answer) {
    const why = signal ? `killed by ${signal}` : `no answer; stderr: ${firstLine(stderr.trim()) || "(empty)"}`;
    return { ...base, status: "crashed", reason: `the WebGPU probe crashed (${why})` };
  }
  switch (answer.status) {
    case "adapter":
      return { ...base, status: "adapter", adapter: answer.adapter, reason: `adapter: ${describeAdapter(answer.adapter!)}` };
    case "device-failed":
      return {
        ...base,
        status: "device-failed",
        adapter: answer.adapter,
        reason: `Dawn offers ${describeAdapter(answer.adapter!)} but no device opens on it: ${answer.error}`,
      };
    case "load-failed":
      return { ...base, status: "load-failed", reason: `Dawn (${dawn.path}) failed to load: ${answer.error}` };
    default:
      return { ...base, status: "no-adapter", reason: explainNoAdapter(warnings, answer.error) };
  }
}

function parseAnswer(stdout: string): ChildAnswer | undefined {
  const line = stdout.trim().split("\n").pop();
  try {
    return line ? (JSON.parse(line) as ChildAnswer) : undefined;
  } catch {
    return undefined;
  }
}

/** Dawn prints "Warning: <text>\n    at operator() (<source>)": keep the text of each. */
export function dawnWarnings(stderr: string): string[] {
  const out = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("at "))
    .map((l) => l.replace(/^Warning:\s*/, ""));
  return [...new Set(out)].slice(0, 10);
}

// Vulkan/D3D drivers that run on the CPU: Mesa's llvmpipe/lavapipe and softpipe, Google's
// SwiftShader, Microsoft's WARP ("Basic Render Driver").
const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|basic render|\bwarp\b/i;

/**
 * Whether an adapter computes on the CPU. Dawn marks some as fallback adapters; others (lavapipe
 * through Vulkan) are recognised by their architecture ("software") or driver name.
 */
export function isSoftwareAdapter(a: GpuAdapterSummary): boolean {
  if (a.isFallbackAdapter) return true;
  if (/^(software|cpu)$/i.test(a.architecture)) return true;
  return SOFTWARE_NAMES.test(`${a.description} ${a.device} ${a.vendor}`);
}

export function describeAdapter(a: GpuAdapterSummary): string {
  const name = a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(" ") || "unnamed adapter";
  return `${name}${isSoftwareAdapter(a) ? " (software adapter: runs on the CPU)" : ""}`;
}

/** Why Dawn saw no adapter, from its warnings, in words a user can act on. */
export function explainNoAdapter(warnings: string[], error?: string): string {
  const all = warnings.join(" ");
  const tail = error ? ` (${error})` : "";
  if (/libvulkan\.so/.test(all)) {
    return (
      "no adapter: the Vulkan loader libvulkan.so.1 is not installed, so Dawn cannot reach a GPU; install libvulkan1 " +
      "and a Vulkan driver (NVIDIA's driver ships its own; mesa-vulkan-drivers for AMD/Intel)" +
      tail
    );
  }
  const said = warnings.length ? `; Dawn says: ${warnings.slice(0, 2).join(" ")}` : "";
  if (/Found no drivers|VK_ERROR_INCOMPATIBLE_DRIVER/.test(all)) {
    return `no adapter: the Vulkan loader is installed but finds no Vulkan driver (ICD); install your GPU's driver, or point VK_DRIVER_FILES at its ICD json${said}${tail}`;
  }
  if (process.platform === "linux") {
    return (
      "no adapter: Vulkan loaded but no driver offers an adapter Dawn can use (check `vulkaninfo --summary`; " +
      `software drivers such as Debian 12's lavapipe lack features Dawn requires)${said}${tail}`
    );
  }
  return `no adapter: Dawn found no ${process.platform === "darwin" ? "Metal" : "D3D12/Vulkan"} adapter${tail}`;
}

/**
 * tfjs-backend-webgpu 4.22 asks for `requiredFeatures: [..., ["bgra8unorm-storage"]]` (an array
 * inside the list), which Dawn rejects; flatten the list before the device is requested.
 */
export function flattenFeatures(descriptor: { requiredFeatures?: unknown[] } | undefined): { requiredFeatures?: string[] } {
  if (!descriptor?.requiredFeatures) return { ...(descriptor ?? {}) } as { requiredFeatures?: string[] };
  return { ...descriptor, requiredFeatures: [...new Set((descriptor.requiredFeatures as unknown[]).flat(Infinity).map(String))] };
}

interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: object): Promise<DawnAdapter | null> };
  globals: Record<string, unknown>;
}
interface DawnAdapter {
  requestDevice(descriptor?: object): Promise<unknown>;
}

/**
 * Loads Dawn into this process, exposes it as `navigator.gpu` (what tfjs-backend-webgpu looks for)
 * and loads the backend, which registers "webgpu". Call only after `probeWebGpu` found an adapter.
 */
export function registerWebGpu(dawnPath: string): void {
  const dawn = loaders.require(dawnPath) as DawnModule;
  const g = globalThis as Record<string, unknown>;
  // GPUBufferUsage, GPUMapMode, GPUShaderStage…: tfjs-backend-webgpu reads them as globals.
  for (const [name, value] of Object.entries(dawn.globals)) if (!(name in g)) g[name] = value;
  const gpu = dawn.create([]);
  const patched = {
    async requestAdapter(options?: object) {
      const adapter = await gpu.requestAdapter(options);
      if (!adapter) return adapter;
      return new Proxy(adapter, {
        get(target, prop) {
          if (prop === "requestDevice") return (d?: { requiredFeatures?: unknown[] }) => target.requestDevice(flattenFeatures(d));
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
    },
    getPreferredCanvasFormat: () => "rgba8unorm",
  };
  const nav = g.navigator as Record<string, unknown> | undefined;
  if (nav && typeof nav === "object") {
    Object.defineProperty(nav, "gpu", { value: patched, configurable: true, writable: true });
  } else {
    Object.defineProperty(g, "navigator", { value: { gpu: patched }, configurable: true, writable: true });
  }
  const backend = loaders.require("@tensorflow/tfjs-backend-webgpu") as
    | undefined
    | { WebGPUBackend?: { prototype: { readSync?: (id: object) => unknown } } };
  explainSyncReads(backend?.WebGPUBackend?.prototype);
  repairWebGpuAddN();
}

/** The awaited read that replaces each synchronous one. */
const AWAITED: Record<string, string> = { dataSync: "await t.data()", arraySync: "await t.array()", bufferSync: "await t.buffer()" };

/**
 * What a synchronous read on WebGPU in Node fails with, naming the call found on `stack` (the
 * outermost of Tensor.dataSync / arraySync / bufferSync, i.e. the one user code made) and what to
 * await instead.
 */
export function syncReadError(stack = ""): MtlError {
  const calls = [...stack.matchAll(/\.(dataSync|arraySync|bufferSync) \(/g)].map((m) => m[1]);
  const call = calls.at(-1);
  const what = call
    ? `tensor.${call}() reads synchronously; use \`${AWAITED[call]}\` instead`
    : "an operation read a tensor synchronously (readSync); use its asynchronous form (`await t.data()`, `await t.array()`, or the op's *Async variant)";
  return new MtlError(
    "webgpu backend",
    `${what}. The webgpu backend reads tensors back only asynchronously in Node (tfjs-backend-webgpu needs a browser's OffscreenCanvas for synchronous reads).`,
  );
}

/** tfjs-backend-webgpu's readSync fails in Node with "OffscreenCanvas is not defined": say which call, and what to await. */
function explainSyncReads(proto: { readSync?: (id: object) => unknown } | undefined): void {
  if (!proto?.readSync || (proto.readSync as { explained?: boolean }).explained) return;
  const original = proto.readSync;
  const readSync = function (this: unknown, dataId: object) {
    try {
      return original.call(this, dataId);
    } catch (e) {
      if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== "undefined") throw e;
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 40; // deep enough to reach the user's call through tfjs's frames
      const stack = new Error().stack;
      Error.stackTraceLimit = limit;
      throw syncReadError(stack);
    }
  };
  (readSync as { explained?: boolean }).explained = true;
  proto.readSync = readSync;
}
