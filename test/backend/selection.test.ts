import * as fs from "node:fs";
import * as path from "node:path";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { afterEach, describe, expect, it } from "vitest";
import { BackendCandidate, backendInfo, rankBackends, useBestBackend } from "../../lib/backend";
import { MtlError } from "../../lib/errors";
import { fakeRequire, NOT_FOUND, registerCpuClone, resetAll } from "./fakeBackends";
import { isSoftwareAdapter, registerWebGpu, syncReadError } from "../../lib/backends/webgpu";
import * as mtl from "../../lib";
import { installedPackage, webGpuHere } from "./machine";

const FAKE_DAWN = path.join(__dirname, "fixtures", "fake-dawn.js");

function candidate(name: BackendCandidate["name"], available: boolean, gpu: boolean): BackendCandidate {
  return { name, package: name, available, gpu, reason: "" };
}

/** Native TensorFlow "installed": package.json answers, the import registers a cpu-clone 'tensorflow'. */
function fakeNative(
  pkg: "@tensorflow/tfjs-node-gpu" | "@tensorflow/tfjs-node",
  onImport: () => void = () => registerCpuClone("tensorflow"),
): void {
  fakeRequire((id, real) => {
    if (id === `${pkg}/package.json`) return { name: pkg, version: "4.22.0" };
    if (id === pkg) return onImport();
    if (id.startsWith("@tensorflow/tfjs-node")) throw NOT_FOUND(id);
    return real(id);
  });
}

afterEach(resetAll);

describe("rankBackends", () => {
  it("puts available before unavailable, a GPU first, then tensorflow, wasm, cpu", () => {
    const ranked = rankBackends([
      candidate("cpu", true, false),
      candidate("wasm", true, false),
      candidate("tensorflow", true, false),
      candidate("webgpu", true, true),
    ]);
    expect(ranked.map((c) => c.name)).toEqual(["webgpu", "tensorflow", "wasm", "cpu"]);
  });

  it("ranks native TensorFlow on CUDA above WebGPU, and a software WebGPU adapter below wasm", () => {
    expect(rankBackends([candidate("webgpu", true, true), candidate("tensorflow", true, true)]).map((c) => c.name)).toEqual([
      "tensorflow",
      "webgpu",
    ]);
    expect(
      rankBackends([candidate("cpu", true, false), candidate("webgpu", true, false), candidate("wasm", true, false)]).map((c) => c.name),
    ).toEqual(["wasm", "webgpu", "cpu"]);
  });

  it("never ranks an unavailable GPU backend above an available CPU one", () => {
    const ranked = rankBackends([candidate("tensorflow", false, true), candidate("cpu", true, false)]);
    expect(ranked[0].name).toBe("cpu");
  });
});

describe("tfjs's cpu banner", () => {
  it("is not printed once useBestBackend has run (it is without it)", () => {
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    const lib = path.resolve(__dirname, "..", "..", "dist", "lib");
    const run = (setup: string) =>
      spawnSync(
        process.execPath,
        ["-e", `const mtl = require(${JSON.stringify(lib)}); (async () => { ${setup} mtl.tf.tensor([1, 2]).add(1).dataSync(); })()`],
        {
          encoding: "utf8",
          env: { ...process.env, MTLKIT_BACKEND: "" },
        },
      );
    const plain = run(`await mtl.tf.setBackend("cpu");`);
    expect(plain.stderr + plain.stdout).toContain("looks like you are running TensorFlow.js in Node.js");
    for (const prefer of ["cpu", "wasm"]) {
      const quiet = run(
        `await mtl.useBestBackend({ prefer: "${prefer}", webgpu: false }); mtl.tf.engine().findBackend("cpu"); await mtl.tf.setBackend("cpu");`,
      );
      expect(quiet.status, quiet.stderr).toBe(0);
      expect(quiet.stderr + quiet.stdout).not.toContain("looks like you are running TensorFlow.js");
    }
  });
});

describe("useBestBackend on this machine", () => {
  // Whatever the machine has (a GPU or not): the choice and the reasons agree with what is installed
  // and with what Dawn answers, and the best available backend is the one picked.
  it("picks the best backend that is here and says why the others are not in use", async () => {
    const dawn = await webGpuHere();
    const packages = { gpu: installedPackage("@tensorflow/tfjs-node-gpu"), cpu: installedPackage("@tensorflow/tfjs-node") };
    const info = await useBestBackend();
    const byName = Object.fromEntries(info.candidates.map((c) => [c.name, c]));

    // WebGPU: available exactly when Dawn offers an adapter; a GPU exactly when that adapter is hardware.
    expect(byName.webgpu.available).toBe(dawn.status === "adapter");
    if (dawn.status === "adapter") expect(byName.webgpu.gpu).toBe(!isSoftwareAdapter(dawn.adapter!));
    else expect(byName.webgpu.reason).toBe(dawn.reason);

    // Native TensorFlow: each package missing (or only an alias) is named as such; one present is tried.
    for (const [pkg, found] of [
      ["@tensorflow/tfjs-node-gpu", packages.gpu],
      ["@tensorflow/tfjs-node", packages.cpu],
    ] as const) {
      if (byName.tensorflow.available) break; // loaded from an earlier package: the later one is not tried
      if (found.version === null) {
        expect(byName.tensorflow.reason).toContain(`${pkg} is not installed`);
        if (found.aliasOf) expect(byName.tensorflow.reason).toContain(`${pkg} is not installed (the name is an alias of ${found.aliasOf})`);
      } else {
        expect(byName.tensorflow.reason).toContain(`${pkg} is installed but failed to load`);
      }
    }
    if (packages.gpu.version === null && packages.cpu.version === null) expect(byName.tensorflow.available).toBe(false);
    if (byName.tensorflow.available) expect(byName.tensorflow.version).toBe((packages.gpu.version ? packages.gpu : packages.cpu).version);

    // The order is the ranking, and the pick is the first available candidate.
    expect(info.candidates.map((c) => c.name)).toEqual(rankBackends(info.candidates).map((c) => c.name));
    expect(info.backend).toBe(info.candidates.find((c) => c.available)!.name);
    // wasm is a dependency: it is here on every machine, so the pick is never slower than it.
    expect(byName.wasm.available).toBe(true);
    expect(["tensorflow", "wasm", ...(byName.webgpu.gpu ? ["webgpu"] : [])]).toContain(info.backend);
    expect(info.syncReads).toBe(info.backend !== "webgpu");
  });
});

describe("native TensorFlow (simulated)", () => {
  it("present: tfjs-node-gpu loads and ranks first as a GPU backend", async () => {
    fakeNative("@tensorflow/tfjs-node-gpu");
    const info = await useBestBackend({ webgpu: false });
    expect(info.backend).toBe("tensorflow");
    expect(info.candidates[0]).toMatchObject({
      name: "tensorflow",
      available: true,
      gpu: true,
      package: "@tensorflow/tfjs-node-gpu",
      version: "4.22.0",
    });
    // It computes (with the cloned cpu kernels), so a trainer can run on it and records it.
    expect(Array.from(tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync())).toEqual([11]);
  });

  it("present (CPU build): tfjs-node ranks after a GPU but before wasm", async () => {
    fakeNative("@tensorflow/tfjs-node");
    const info = await useBestBackend({ webgpu: false });
    expect(info.backend).toBe("tensorflow");
    expect(info.candidates[0]).toMatchObject({ name: "tensorflow", gpu: false });
  });

  it("present but broken (the import throws for missing CUDA): falls back to wasm and names CUDA 11.2 / cuDNN 8.1", async () => {
    fakeNative("@tensorflow/tfjs-node-gpu", () => {
      throw new Error("libcudart.so.11.0: cannot open shared object file: No such file or directory");
    });
    const info = await useBestBackend({ webgpu: false });
    expect(info.backend).toBe("wasm");
    const native = info.candidates.find((c) => c.name === "tensorflow")!;
    expect(native.available).toBe(false);
    expect(native.reason).toMatch(/installed but failed to load: libcudart\.so\.11\.0/);
    expect(native.reason).toMatch(/CUDA 11\.2 and cuDNN 8\.1/);
  });

  it("present but registering no backend: says so and falls back", async () => {
    fakeNative("@tensorflow/tfjs-node-gpu", () => ({}));
    const info = await useBestBackend({ webgpu: false });
    expect(info.backend).toBe("wasm");
    expect(info.candidates.find((c) => c.name === "tensorflow")!.reason).toMatch(/registered no 'tensorflow' backend/);
  });

  it("loads but fails to initialise: reported, and the next backend is used", async () => {
    fakeNative("@tensorflow/tfjs-node-gpu", () =>
      registerCpuClone("tensorflow", () => {
        throw new Error("CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected");
      }),
    );
    const info = await useBestBackend({ webgpu: false });
    expect(info.backend).toBe("wasm");
    const native = info.candidates.find((c) => c.name === "tensorflow")!;
    expect(native.available).toBe(false);
    expect(native.reason).toMatch(/failed to initialise/);
  });

  it("absent and wasm broken too: plain cpu, with both reasons", async () => {
    fakeRequire((id, real) => {
      if (id.startsWith("@tensorflow/tfjs-node")) throw NOT_FOUND(id);
      if (id === "@tensorflow/tfjs-backend-wasm") throw new Error("WebAssembly.instantiate(): out of memory");
      return real(id);
    });
    const info = await useBestBackend({ webgpu: false });
    expect(info.backend).toBe("cpu");
    const wasm = info.candidates.find((c) => c.name === "wasm")!;
    expect(wasm).toMatchObject({ available: false });
    expect(wasm.reason).toMatch(/failed to load: WebAssembly\.instantiate\(\): out of memory/);
    expect(info.candidates.find((c) => c.name === "tensorflow")!.reason).toMatch(/tfjs-node-gpu is not installed/);
  });
});

describe("WebGPU (simulated through MTLKIT_DAWN_PATH)", () => {
  function fakeWebGpuPackage(): void {
    fakeRequire((id, real) => {
      if (id === "@tensorflow/tfjs-backend-webgpu") return registerCpuClone("webgpu");
      return real(id);
    });
  }

  it("present, by default: a hardware adapter makes webgpu the first choice; the device request gets a flat feature list", async () => {
    process.env.MTLKIT_DAWN_PATH = FAKE_DAWN;
    process.env.FAKE_DAWN_MODE = "adapter";
    fakeWebGpuPackage();
    const info = await useBestBackend();
    expect(info.backend).toBe("webgpu");
    expect(info.device).toBe("GPU (WebGPU via Dawn: Fake H200)");
    expect(info.adapter).toEqual({ name: "Fake H200", vendor: "nvidia", architecture: "hopper", device: "", software: false });
    expect(info.syncReads).toBe(false);
    expect(info.candidates[0]).toMatchObject({ name: "webgpu", available: true, gpu: true });
    // navigator.gpu now serves tfjs-backend-webgpu; its nested feature list is flattened for Dawn.
    const gpu = (
      globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<{ requestDevice(d: object): Promise<unknown> }> } } }
    ).navigator.gpu;
    const adapter = await gpu.requestAdapter();
    await adapter.requestDevice({ requiredFeatures: ["timestamp-query", ["bgra8unorm-storage"]] });
    const fake = require(FAKE_DAWN) as { requested: Array<{ requiredFeatures: unknown[] }> };
    expect(fake.requested.at(-1)!.requiredFeatures).toEqual(["timestamp-query", "bgra8unorm-storage"]);
  });

  it("a software (fallback) adapter ranks after wasm", async () => {
    process.env.MTLKIT_DAWN_PATH = FAKE_DAWN;
    process.env.FAKE_DAWN_MODE = "fallback";
    fakeWebGpuPackage();
    const info = await useBestBackend();
    expect(info.backend).toBe("wasm");
    expect(info.adapter).toBeUndefined();
    expect(info.candidates.map((c) => c.name)).toEqual(["wasm", "webgpu", "cpu", "tensorflow"]);
  });

  it("lavapipe (not flagged as fallback, architecture 'software') ranks after wasm, and forced it says it is software", async () => {
    process.env.MTLKIT_DAWN_PATH = FAKE_DAWN;
    process.env.FAKE_DAWN_MODE = "lavapipe";
    fakeWebGpuPackage();
    const best = await useBestBackend();
    expect(best.backend).toBe("wasm");
    expect(best.candidates.find((c) => c.name === "webgpu")).toMatchObject({ available: true, gpu: false });
    const forced = await useBestBackend({ prefer: "webgpu" });
    expect(forced.backend).toBe("webgpu");
    expect(forced.device).toMatch(
      /^CPU \(WebGPU via Dawn: llvmpipe: Mesa 25\.0\.7 \(LLVM 15\.0\.6\) \(software adapter: runs on the CPU\)\)$/,
    );
    expect(forced.adapter).toMatchObject({ vendor: "mesa", architecture: "software", software: true });
  });

  it("isSoftwareAdapter knows lavapipe, SwiftShader and WARP, and not a hardware GPU", () => {
    const a = {
      vendor: "",
      architecture: "",
      device: "",
      description: "",
      isFallbackAdapter: false,
      features: [],
      maxBufferSize: 0,
      maxStorageBufferBindingSize: 0,
    };
    expect(isSoftwareAdapter({ ...a, vendor: "nvidia", architecture: "hopper", description: "NVIDIA H200" })).toBe(false);
    expect(isSoftwareAdapter({ ...a, vendor: "mesa", architecture: "rdna-3", description: "AMD Radeon RX 7900 XTX (RADV NAVI31)" })).toBe(
      false,
    );
    expect(isSoftwareAdapter({ ...a, isFallbackAdapter: true, description: "NVIDIA H200" })).toBe(true);
    expect(isSoftwareAdapter({ ...a, architecture: "software" })).toBe(true);
    expect(isSoftwareAdapter({ ...a, device: "llvmpipe-llvm-15" })).toBe(true);
    expect(isSoftwareAdapter({ ...a, vendor: "google", description: "SwiftShader Device (Subzero)" })).toBe(true);
    expect(isSoftwareAdapter({ ...a, description: "Microsoft Basic Render Driver" })).toBe(true);
  });

  it("present but broken (the backend's import throws): falls back to wasm with the reason", async () => {
    process.env.MTLKIT_DAWN_PATH = FAKE_DAWN;
    process.env.FAKE_DAWN_MODE = "adapter";
    fakeRequire((id, real) => {
      if (id === "@tensorflow/tfjs-backend-webgpu") throw new Error("SyntaxError: Unexpected token");
      return real(id);
    });
    const info = await useBestBackend();
    expect(info.backend).toBe("wasm");
    expect(info.candidates.find((c) => c.name === "webgpu")!.reason).toMatch(/failed to initialise: SyntaxError/);
  });

  it("a synchronous read on WebGPU in Node fails with an MtlError naming the call and what to await, not 'OffscreenCanvas is not defined'", () => {
    process.env.MTLKIT_DAWN_PATH = FAKE_DAWN;
    class WebGPUBackend {
      readSync(): unknown {
        throw new ReferenceError("OffscreenCanvas is not defined");
      }
    }
    fakeRequire((id, real) => (id === "@tensorflow/tfjs-backend-webgpu" ? { WebGPUBackend } : real(id)));
    registerWebGpu(FAKE_DAWN);
    // Called the way tfjs calls it: Tensor.arraySync -> Tensor.dataSync -> backend.readSync.
    const backend = new WebGPUBackend();
    class Tensor {
      dataSync(): unknown {
        return backend.readSync();
      }
      arraySync(): unknown {
        return this.dataSync();
      }
    }
    const err = (() => {
      try {
        new Tensor().arraySync();
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(MtlError);
    expect(err!.message).toMatch(/tensor\.arraySync\(\) reads synchronously; use `await t\.array\(\)` instead/);
    expect(err!.message).toMatch(/only asynchronously/);
  });

  it("syncReadError names the outermost synchronous call, or the op when none is on the stack", () => {
    expect(syncReadError("at Tensor.dataSync (tf-core.js:1)\n at user (x.ts:3)").message).toMatch(
      /tensor\.dataSync\(\).*`await t\.data\(\)`/,
    );
    expect(syncReadError("at Variable.bufferSync (tf-core.js:1)").message).toMatch(/`await t\.buffer\(\)`/);
    expect(syncReadError("at Engine.readSync (tf-core.js:1)\n at unique (tf-core.js:2)").message).toMatch(
      /an operation read a tensor synchronously/,
    );
  });

  it("webgpu: false skips the probe", async () => {
    process.env.MTLKIT_DAWN_PATH = FAKE_DAWN;
    process.env.FAKE_DAWN_MODE = "adapter";
    const info = await useBestBackend({ webgpu: false });
    expect(info.backend).toBe("wasm");
    expect(info.candidates.find((c) => c.name === "webgpu")!.reason).toMatch(/not probed/);
  });
});

describe("forcing a backend", () => {
  it("MTLKIT_BACKEND=cpu forces cpu over wasm", async () => {
    process.env.MTLKIT_BACKEND = "cpu";
    expect((await useBestBackend()).backend).toBe("cpu");
  });

  it("prefer wins over MTLKIT_BACKEND", async () => {
    process.env.MTLKIT_BACKEND = "cpu";
    expect((await useBestBackend({ prefer: "wasm" })).backend).toBe("wasm");
  });

  it("an unknown name in MTLKIT_BACKEND is an MtlError naming the variable and the known backends", async () => {
    process.env.MTLKIT_BACKEND = "cuda";
    const err = await useBestBackend().catch((e) => e);
    expect(err).toBeInstanceOf(MtlError);
    expect(err.message).toMatch(/unknown backend 'cuda' \(from MTLKIT_BACKEND\)/);
    expect(err.message).toMatch(/tensorflow, webgpu, wasm, cpu/);
  });

  it("forcing a backend that is not here fails with the reason instead of silently running elsewhere", async () => {
    // Native TensorFlow made absent, whatever this machine has installed.
    fakeRequire((id, real) => {
      if (id.startsWith("@tensorflow/tfjs-node")) throw NOT_FOUND(id);
      return real(id);
    });
    process.env.MTLKIT_BACKEND = "tensorflow";
    const err = await useBestBackend().catch((e) => e);
    expect(err).toBeInstanceOf(MtlError);
    expect(err.message).toMatch(/forced: tensorflow/);
    expect(err.message).toMatch(/tfjs-node-gpu is not installed/);
    expect(tf.getBackend()).toBe("cpu"); // unchanged
  });

  it("MTLKIT_BACKEND=webgpu runs WebGPU where Dawn offers an adapter, and fails with Dawn's reason where it does not", async () => {
    const dawn = await webGpuHere();
    process.env.MTLKIT_BACKEND = "webgpu";
    const result = await useBestBackend().catch((e) => e);
    if (dawn.status === "adapter") {
      expect(result.backend, String(result.message)).toBe("webgpu");
    } else {
      expect(result).toBeInstanceOf(MtlError);
      expect(result.message).toContain(`(forced: webgpu) (webgpu: ${dawn.reason})`);
    }
  });

  it("MTLKIT_BACKEND=tensorflow with native present forces it", async () => {
    fakeNative("@tensorflow/tfjs-node");
    process.env.MTLKIT_BACKEND = "tensorflow";
    expect((await useBestBackend()).backend).toBe("tensorflow");
  });
});

describe("the trainer records the backend and device", () => {
  it("history.run names the backend that trained, also a simulated GPU one", async () => {
    fakeNative("@tensorflow/tfjs-node-gpu");
    await useBestBackend({ webgpu: false });
    const tasks = [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];
    const model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 1 });
    const trainer = new mtl.Trainer({ model, tasks, progress: false });
    expect(trainer.history.run?.backend).toBe("tensorflow");
    expect(trainer.history.run?.device).toBe(backendInfo().device);
    expect(trainer.history.run?.device).toMatch(/native TensorFlow/);
    model.dispose();
  });
});

describe("no libvulkan here", () => {
  const hasVulkan = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"].some((d) =>
    fs.existsSync(path.join(d, "libvulkan.so.1")),
  );
  it.skipIf(hasVulkan)("the real probe answers 'no adapter' in under 5 s and names libvulkan", async () => {
    const { probeWebGpu } = await import("../../lib/backends/webgpu");
    const start = performance.now();
    const probe = await probeWebGpu({ refresh: true });
    expect(performance.now() - start).toBeLessThan(5000);
    expect(probe.status).toBe("no-adapter");
    expect(probe.reason).toMatch(/libvulkan\.so\.1/);
    expect(probe.warnings.join(" ")).toMatch(/Couldn't load Vulkan/);
  });
});
