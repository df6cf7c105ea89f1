import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatDoctor } from "../../kernel/doctor";
import { diagnose, doctor, DoctorReport, findKernelspecs } from "../../lib/doctor";
import { resetAll } from "./fakeBackends";
import { installedPackage } from "./machine";

const hasVulkan = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"].some((d) =>
  fs.existsSync(path.join(d, "libvulkan.so.1")),
);
const hasNvidia = fs.existsSync("/proc/driver/nvidia/version");

describe("doctor on this machine", () => {
  let report: DoctorReport;
  beforeAll(async () => {
    await tf.setBackend("cpu");
    report = await doctor();
  });
  afterAll(resetAll);

  it("reports Node, tfjs and the backend packages' versions", () => {
    expect(report.node.version).toBe(process.version);
    expect(report.tfjsVersion).toBe(tf.version.tfjs);
    expect(report.packages["@tensorflow/tfjs-backend-wasm"]).toBe("4.22.0");
    expect(report.packages["@tensorflow/tfjs-backend-webgpu"]).toBe("4.22.0");
    // As installed here; danfojs-node's alias of tfjs-node to plain tfjs does not count as tfjs-node.
    expect(report.packages["@tensorflow/tfjs-node"]).toBe(installedPackage("@tensorflow/tfjs-node").version);
    expect(report.packages["@tensorflow/tfjs-node-gpu"]).toBe(installedPackage("@tensorflow/tfjs-node-gpu").version);
  });

  it("checks that each loaded backend computes a matmul that agrees with float64", () => {
    const wasm = report.backends.find((b) => b.name === "wasm")!;
    const cpu = report.backends.find((b) => b.name === "cpu")!;
    expect(wasm.works).toBe(true);
    expect(cpu.works).toBe(true);
    expect(wasm.check).toMatch(/rel\. error \d\.\de-\d+/);
    // The pick is the best backend that is here (a GPU one where it loads), never WebGPU without opting in.
    const pick = report.backends.find((b) => b.available && b.name !== "webgpu")!;
    expect(report.best.backend).toBe(pick.name);
    expect(["tensorflow", "wasm"]).toContain(report.best.backend);
  });

  it("restores the backend that was active before", () => {
    expect(tf.getBackend()).toBe("cpu");
  });

  it.skipIf(hasVulkan || hasNvidia)("explains the missing GPU: no driver, no Vulkan loader, no CUDA 11.2 / cuDNN 8.1", () => {
    expect(report.verdict).toMatch(/^No GPU here: mtlkit runs on wasm/);
    expect(report.gpu.nvidia.gpus).toEqual([]);
    expect(report.gpu.webgpu?.status).toBe("no-adapter");
    expect(report.gpu.webgpu!.ms).toBeLessThan(5000);
    const vulkan = report.gpu.libraries.find((l) => l.name === "libvulkan.so.1")!;
    expect(vulkan.path).toBeUndefined();
    const text = formatDoctor(report);
    expect(text).toMatch(/-- webgpu +no adapter: the Vulkan loader libvulkan\.so\.1 is not installed/);
    expect(text).toMatch(/libcudnn\.so\.8 +not found +\(tfjs-node-gpu 4\.22 \(libtensorflow 2\.9\.1\): cuDNN 8\.1\)/);
    expect(text).toMatch(/^verdict: No GPU here/m);
  });

  it("finds Jupyter the way it is installed here (Debian's /usr/bin/jupyter) without running Python", () => {
    if (fs.existsSync("/usr/bin/jupyter")) expect(report.jupyter.executable).toBeDefined();
    expect(report.jupyter.dataDirs).toContain("/usr/share/jupyter");
  });
});

describe("Jupyter data path and kernelspecs", () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-doctor-"));
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of ["JUPYTER_DATA_DIR", "JUPYTER_PATH", "CONDA_PREFIX", "VIRTUAL_ENV"]) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function writeSpec(dir: string, name: string, argv: string[]): void {
    fs.mkdirSync(path.join(dir, "kernels", name), { recursive: true });
    fs.writeFileSync(path.join(dir, "kernels", name, "kernel.json"), JSON.stringify({ argv, display_name: name, language: "typescript" }));
  }

  it("finds a working mtlkit kernelspec, a broken one, and ignores other kernels", () => {
    const script = path.join(tmp, "cli.js");
    fs.writeFileSync(script, "");
    writeSpec(path.join(tmp, "one"), "mtlkit", [process.execPath, script, "kernel", "start", "--connection-file", "{connection_file}"]);
    writeSpec(path.join(tmp, "two"), "mtlkit", [process.execPath, "/nonexistent/dist/kernel/cli.js", "kernel", "start"]);
    writeSpec(path.join(tmp, "two"), "python3", ["python3", "-m", "ipykernel_launcher"]);
    const found = findKernelspecs([path.join(tmp, "one"), path.join(tmp, "two"), path.join(tmp, "none")]);
    expect(found.map((f) => [f.dir.startsWith(path.join(tmp, "one")), f.ok])).toEqual([
      [true, true],
      [false, false],
    ]);
    expect(found[1].problem).toBe("missing: /nonexistent/dist/kernel/cli.js");
  });
});

describe("diagnose", () => {
  const base = (): Omit<DoctorReport, "verdict" | "todo"> => ({
    node: { version: "v20", platform: "linux", arch: "x64", execPath: "/usr/bin/node" },
    tfjsVersion: "4.22.0",
    packages: { "@tensorflow/tfjs-node-gpu": null, webgpu: "0.6.2" },
    backends: [
      { name: "wasm", package: "", available: true, gpu: false, reason: "WebAssembly with SIMD", works: true },
      { name: "cpu", package: "", available: true, gpu: false, reason: "plain JavaScript", works: true },
      {
        name: "webgpu",
        package: "",
        available: false,
        gpu: false,
        reason: "no adapter: the Vulkan loader libvulkan.so.1 is not installed",
      },
      { name: "tensorflow", package: "", available: false, gpu: false, reason: "@tensorflow/tfjs-node-gpu is not installed" },
    ],
    best: { backend: "wasm", device: "CPU (WebAssembly, SIMD, 1 thread)" },
    native: { available: true, enabled: true, reason: "OpenBLAS 0.3.21, 2 threads" },
    gpu: { nvidia: { gpus: [], note: "none" }, libraries: [{ name: "libvulkan.so.1", neededBy: "WebGPU" }] },
    jupyter: { executable: "/usr/bin/jupyter", dataDirs: [], kernelspecs: [{ name: "mtlkit", dir: "/x", argv: [], ok: true }] },
  });

  it("an NVIDIA GPU without a Vulkan loader or tfjs-node-gpu: says a GPU is here and what to install", () => {
    const r = base();
    r.gpu.nvidia = { driver: "580.159.03", gpus: ["NVIDIA H200, 143771 MiB"], note: "nvidia-smi" };
    const { verdict, todo } = diagnose(r);
    expect(verdict).toBe(
      "A GPU is here (NVIDIA H200, 143771 MiB) but no GPU backend loads: mtlkit runs on wasm (CPU (WebAssembly, SIMD, 1 thread)).",
    );
    expect(todo[0]).toMatch(/apt-get install libvulkan1/);
    expect(todo[1]).toMatch(/tfjs-node-gpu@4\.22\.0 \(needs CUDA 11\.2 and cuDNN 8\.1/);
  });

  it("a working GPU backend: OK", () => {
    const r = base();
    r.backends.unshift({ name: "webgpu", package: "", available: true, gpu: true, reason: "Dawn", works: true });
    r.best = { backend: "webgpu", device: "GPU (WebGPU via Dawn: NVIDIA H200)" };
    expect(diagnose(r)).toEqual({ verdict: "OK: mtlkit trains on the GPU (webgpu: GPU (WebGPU via Dawn: NVIDIA H200)).", todo: [] });
  });

  it("a working GPU backend that reads only asynchronously: OK, and says what to await in one's own code", () => {
    const r = base();
    r.backends.unshift({ name: "webgpu", package: "", available: true, gpu: true, reason: "Dawn", works: true, syncReads: false });
    r.best = { backend: "webgpu", device: "GPU (WebGPU via Dawn: NVIDIA H200)" };
    expect(diagnose(r).verdict).toBe(
      "OK: mtlkit trains on the GPU (webgpu: GPU (WebGPU via Dawn: NVIDIA H200)); it reads tensors back only asynchronously: in your own code await t.data() / t.array() instead of dataSync() / arraySync().",
    );
  });

  it("no kernelspec, no Jupyter, and a backend that loads but computes wrong", () => {
    const r = base();
    r.jupyter = { dataDirs: [], kernelspecs: [] };
    r.backends[1] = { ...r.backends[1], works: false, check: "matmul 64×64 rel. error 3.0e-1" };
    const { verdict, todo } = diagnose(r);
    expect(verdict).toMatch(/^No GPU here/);
    expect(todo).toEqual([
      "the cpu backend loads but its check failed (matmul 64×64 rel. error 3.0e-1): force another with MTLKIT_BACKEND",
      "install the Jupyter kernel: npx mtlkit kernel install --user",
      "Jupyter is not installed: `mtlkit run` still executes notebooks; install JupyterLab to edit them",
    ]);
  });
});

const CLI = path.join(__dirname, "..", "..", "dist", "kernel", "cli.js");
describe.skipIf(!fs.existsSync(CLI))("`mtlkit doctor` (built CLI)", () => {
  it("prints the report as text and as JSON, and exits 0", () => {
    const text = execFileSync(process.execPath, [CLI, "doctor"], { encoding: "utf8", timeout: 60_000 });
    expect(text).toMatch(/^mtlkit doctor\n {2}node {8}v\d+/);
    expect(text).toMatch(/^backends \(best first\)$/m);
    expect(text).toMatch(/^verdict: /m);
    const json = JSON.parse(
      execFileSync(process.execPath, [CLI, "doctor", "--json"], { encoding: "utf8", timeout: 60_000 }),
    ) as DoctorReport;
    expect(json.node.version).toBe(process.version);
    expect(json.backends.map((b) => b.name).sort()).toEqual(["cpu", "tensorflow", "wasm", "webgpu"]);
    expect(typeof json.verdict).toBe("string");
  });
});

describe("diagnose and the native addon", () => {
  it("says how to build the native addon when it is missing", async () => {
    const { diagnose } = await import("../../lib/doctor");
    const report = {
      node: { version: "v20", platform: "linux", arch: "x64", execPath: "/usr/bin/node" },
      tfjsVersion: "4.22.0",
      packages: {},
      backends: [],
      best: { backend: "wasm", device: "CPU (WebAssembly, SIMD, 1 thread)" },
      native: { available: false, enabled: false, reason: "the native addon failed to build: cblas.h: No such file or directory" },
      gpu: { nvidia: { gpus: [], note: "no nvidia-smi" }, libraries: [] },
      jupyter: { executable: "/usr/bin/jupyter", dataDirs: [], kernelspecs: [{ name: "mtlkit", dir: "/x", argv: [], ok: true }] },
    };
    const { todo } = diagnose(report as never);
    expect(todo.join("\n")).toMatch(
      /build the native addon \(the native addon failed to build: cblas.h: No such file or directory\): install g\+\+, make and libopenblas-dev/,
    );
  });
});
