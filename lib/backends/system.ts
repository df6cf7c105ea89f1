/**
 * What the system offers the GPU backends, read without loading any of them: NVIDIA driver and
 * GPUs, the Vulkan loader (Dawn needs it on Linux), and the CUDA/cuDNN libraries that
 * tfjs-node-gpu 4.22's libtensorflow 2.9.1 opens (CUDA 11.2, cuDNN 8.1).
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** What `nvidia-smi` and /proc say about NVIDIA GPUs and their driver. */
export interface NvidiaInfo {
  /** Driver version from /proc/driver/nvidia/version or nvidia-smi, when a driver is loaded. */
  driver?: string;
  /** One line per GPU ("NVIDIA H200, 143771 MiB"), from nvidia-smi. */
  gpus: string[];
  /** How this was found out, or why nothing was. */
  note: string;
}

/** A shared library a GPU backend needs (libvulkan, CUDA, cuDNN), and where it was found, if anywhere. */
export interface SharedLibrary {
  name: string;
  /** Where it was found, or undefined. */
  path?: string;
  /** Who needs it. */
  neededBy: string;
}

/** Directories the dynamic loader searches on common Linux layouts, LD_LIBRARY_PATH first. */
export function librarySearchPath(): string[] {
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? "").split(path.delimiter).filter(Boolean);
  const standard = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
    "/usr/local/cuda/lib64",
    "/usr/local/cuda-11.2/lib64",
    "/usr/local/nvidia/lib64",
  ];
  return [...new Set([...fromEnv, ...standard])];
}

export function findLibrary(name: string, neededBy: string, dirs = librarySearchPath()): SharedLibrary {
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return { name, path: candidate, neededBy };
  }
  return { name, neededBy };
}

/** The libraries the GPU backends open at run time. */
export function gpuLibraries(): SharedLibrary[] {
  if (process.platform !== "linux") return [];
  const tfGpu = "tfjs-node-gpu 4.22 (libtensorflow 2.9.1)";
  return [
    findLibrary("libvulkan.so.1", "WebGPU (Dawn's Vulkan backend)"),
    findLibrary("libcudart.so.11.0", `${tfGpu}: CUDA 11.2 runtime`),
    findLibrary("libcublas.so.11", `${tfGpu}: cuBLAS 11`),
    findLibrary("libcudnn.so.8", `${tfGpu}: cuDNN 8.1`),
  ];
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; stdout: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: "SIGKILL", encoding: "utf8", windowsHide: true }, (error, stdout) => {
      resolve(error ? { ok: false, stdout, error: error.message.split("\n")[0] } : { ok: true, stdout });
    });
  });
}

/** Finds an executable on PATH (and in `extra` places), like `which`. */
export function which(name: string, extra: string[] = []): string | undefined {
  const dirs = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean);
  for (const candidate of [...dirs.map((d) => path.join(d, name)), ...extra]) {
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function nvidiaInfo(timeoutMs = 5000): Promise<NvidiaInfo> {
  let driver: string | undefined;
  try {
    const text = fs.readFileSync("/proc/driver/nvidia/version", "utf8");
    driver = /Kernel Module\s+([\d.]+)/.exec(text)?.[1];
  } catch {
    // no driver loaded, or not Linux
  }
  const smi = which("nvidia-smi", ["/usr/local/nvidia/bin/nvidia-smi", "/usr/bin/nvidia-smi"]);
  if (!smi) {
    return {
      driver,
      gpus: [],
      note: driver ? `driver ${driver} loaded; nvidia-smi not found` : "no NVIDIA driver (no /proc/driver/nvidia, no nvidia-smi)",
    };
  }
  const r = await run(smi, ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"], timeoutMs);
  if (!r.ok) return { driver, gpus: [], note: `${smi} failed: ${r.error}` };
  const rows = r.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(",").map((s) => s.trim()));
  return { driver: driver ?? rows[0]?.[2], gpus: rows.map(([name, mem]) => `${name}, ${mem}`), note: `from ${smi}` };
}
