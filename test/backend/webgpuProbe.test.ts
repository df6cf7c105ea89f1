import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { dawnWarnings, explainNoAdapter, flattenFeatures, probeWebGpu, probeWebGpuSync } from "../../lib/backends/webgpu";
import { resetAll } from "./fakeBackends";

const FAKE_DAWN = path.join(__dirname, "fixtures", "fake-dawn.js");

async function probeWith(mode: string, timeoutMs = 5000) {
  process.env.MTLKIT_DAWN_PATH = FAKE_DAWN;
  process.env.FAKE_DAWN_MODE = mode;
  return probeWebGpu({ refresh: true, timeoutMs });
}

afterEach(resetAll);

describe("probeWebGpu in a child process", () => {
  it("reports the adapter Dawn offers", async () => {
    const p = await probeWith("adapter");
    expect(p.status).toBe("adapter");
    expect(p.adapter).toMatchObject({ vendor: "nvidia", description: "Fake H200", isFallbackAdapter: false });
    expect(p.adapter!.features).toEqual(["bgra8unorm-storage", "timestamp-query"]);
  });

  it("no adapter, with Dawn's libvulkan warning turned into advice", async () => {
    const p = await probeWith("warn-none");
    expect(p.status).toBe("no-adapter");
    expect(p.warnings).toEqual(["Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file"]);
    expect(p.reason).toMatch(/install libvulkan1/);
  });

  it("an adapter on which no device opens", async () => {
    const p = await probeWith("device-fail");
    expect(p.status).toBe("device-failed");
    expect(p.reason).toMatch(/Fake H200 but no device opens on it: Fake device lost/);
  });

  it("a native crash (abort) in Dawn is reported, not inherited", async () => {
    const p = await probeWith("crash");
    expect(p.status).toBe("crashed");
    expect(p.reason).toMatch(/SIGABRT/);
  });

  it("a hang is killed at the time limit", async () => {
    const start = performance.now();
    const p = await probeWith("hang", 1500);
    expect(p.status).toBe("timeout");
    expect(performance.now() - start).toBeLessThan(4000);
    expect(p.reason).toMatch(/did not answer within 1500 ms/);
  });

  it("a Dawn binary that does not load", async () => {
    process.env.MTLKIT_DAWN_PATH = path.join(__dirname, "fixtures", "no-such-dawn.node");
    const p = await probeWebGpu({ refresh: true });
    expect(p.status).toBe("load-failed");
    expect(p.reason).toMatch(/failed to load/);
  });

  it("the blocking probe (for test collection) gives the same answers", async () => {
    for (const mode of ["adapter", "lavapipe", "warn-none", "device-fail", "crash"]) {
      const { ms: _a, ...async } = await probeWith(mode);
      const { ms: _b, ...sync } = probeWebGpuSync();
      expect(sync, mode).toEqual(async);
    }
    process.env.FAKE_DAWN_MODE = "hang";
    const start = performance.now();
    expect(probeWebGpuSync({ timeoutMs: 1500 })).toMatchObject({ status: "timeout" });
    expect(performance.now() - start).toBeLessThan(4000);
  });

  it("answers from its cache unless asked to refresh", async () => {
    const a = await probeWith("adapter");
    process.env.FAKE_DAWN_MODE = "none";
    expect(await probeWebGpu()).toBe(a);
    expect((await probeWebGpu({ refresh: true })).status).toBe("no-adapter");
  });
});

describe("probe helpers", () => {
  it("dawnWarnings keeps each warning's text, drops source locations, dedupes", () => {
    const stderr = "Warning: A\n    at operator() (x.cpp:1)\nWarning: A\n    at y\nWarning: B\n";
    expect(dawnWarnings(stderr)).toEqual(["A", "B"]);
  });

  it("explainNoAdapter tells a missing loader from a missing driver from an unusable one", () => {
    expect(explainNoAdapter(["Couldn't load Vulkan: libvulkan.so.1: cannot open"])).toMatch(
      /Vulkan loader libvulkan\.so\.1 is not installed/,
    );
    expect(explainNoAdapter(["vkCreateInstance: Found no drivers!"])).toMatch(/finds no Vulkan driver/);
    if (process.platform === "linux") {
      expect(explainNoAdapter(["Vulkan shaderUniform*ArrayDynamicIndexing required."])).toMatch(
        /lavapipe.*Dawn says: Vulkan shaderUniform/,
      );
    }
  });

  it("flattenFeatures un-nests tfjs-backend-webgpu's feature list and keeps other fields", () => {
    expect(flattenFeatures({ requiredFeatures: ["timestamp-query", ["bgra8unorm-storage"]], requiredLimits: { a: 1 } } as never)).toEqual({
      requiredFeatures: ["timestamp-query", "bgra8unorm-storage"],
      requiredLimits: { a: 1 },
    });
    expect(flattenFeatures(undefined)).toEqual({});
  });
});
