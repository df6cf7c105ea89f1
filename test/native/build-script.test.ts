/**
 * scripts/build-native.js never fails an install: without OpenBLAS (or without a compiler) it
 * records a clear reason in native/build-status.json, which `mtlkit doctor` and lib/native report.
 * The script runs in a copy of the package layout, so the real build status is left alone.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(__dirname, "..", "..");

function packageCopy(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-build-native-"));
  fs.mkdirSync(path.join(root, "scripts"));
  fs.mkdirSync(path.join(root, "native"));
  fs.copyFileSync(path.join(REPO, "scripts", "build-native.js"), path.join(root, "scripts", "build-native.js"));
  fs.copyFileSync(path.join(REPO, "native", "binding.gyp"), path.join(root, "native", "binding.gyp"));
  return root;
}

function build(root: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, [path.join(root, "scripts", "build-native.js")], {
    encoding: "utf8",
    env: { ...process.env, MTLKIT_NATIVE: "", ...env },
    timeout: 60_000,
  });
  const status = JSON.parse(fs.readFileSync(path.join(root, "native", "build-status.json"), "utf8")) as { ok: boolean; reason: string };
  return { r, status };
}

describe("build-native.js without OpenBLAS", () => {
  it("records that OpenBLAS is missing and how to install it, and exits 0", () => {
    const root = packageCopy();
    // A compiler that works but finds no cblas.h, and a pkg-config that knows no packages.
    const cxx = path.join(root, "fake-c++");
    fs.writeFileSync(
      cxx,
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "fake 1.0"; exit 0; fi\necho "probe.cc:1:10: fatal error: cblas.h: No such file or directory" >&2\nexit 1\n',
      { mode: 0o755 },
    );
    const { r, status } = build(root, { CXX: cxx, PKG_CONFIG_LIBDIR: path.join(root, "none"), PKG_CONFIG_PATH: "" });
    expect(r.status).toBe(0);
    expect(status.ok).toBe(false);
    expect(status.reason).toMatch(/^OpenBLAS was not found: /);
    expect(status.reason).toContain("the compiler's search paths: probe.cc:1:10: fatal error: cblas.h: No such file or directory");
    expect(status.reason).toContain("libopenblas-dev");
    expect(r.stderr).toContain("mtlkit: native addon not built: OpenBLAS was not found");
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("records a missing compiler as such", () => {
    const root = packageCopy();
    const { r, status } = build(root, { CXX: path.join(root, "no-such-compiler") });
    expect(r.status).toBe(0);
    expect(status.ok).toBe(false);
    expect(status.reason).toMatch(/^no C\+\+ compiler \(.*no-such-compiler --version failed: ENOENT\)/);
    fs.rmSync(root, { recursive: true, force: true });
  });
});

describe("native/binding.gyp", () => {
  it("finds OpenBLAS through pkg-config or the compiler, not through one distribution's paths", () => {
    const gyp = fs.readFileSync(path.join(REPO, "native", "binding.gyp"), "utf8");
    expect(gyp).not.toMatch(/\/usr\/include|x86_64-linux-gnu/);
    expect(gyp).toContain("pkg-config --cflags openblas");
    expect(gyp).toContain("echo -lopenblas");
  });
});
