#!/usr/bin/env node
// Builds mtlkit's optional native addon (native/) with node-gyp. Never fails the install: when the
// build cannot run (no compiler, no OpenBLAS, no Node headers), it records why in
// native/build-status.json, and mtlkit runs on wasm/cpu alone; `mtlkit doctor` reports the reason.
const { spawnSync } = require("node:child_process");
const { existsSync, mkdtempSync, rmSync, writeFileSync, renameSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { dirname, join } = require("node:path");

const root = join(__dirname, "..");
const nativeDir = join(root, "native");
const statusPath = join(nativeDir, "build-status.json");

function writeStatus(status) {
  const tmp = `${statusPath}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ ...status, at: new Date().toISOString() }, null, 1) + "\n");
  renameSync(tmp, statusPath);
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_execpath)
    candidates.push(join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  candidates.push(join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"));
  try {
    candidates.push(require.resolve("node-gyp/bin/node-gyp.js"));
  } catch {}
  return candidates.find((c) => existsSync(c));
}

function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = join(dirname(process.execPath), "..");
  return existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : undefined;
}

if (process.env.MTLKIT_NATIVE === "0") {
  writeStatus({ ok: false, reason: "skipped: MTLKIT_NATIVE=0" });
  process.exit(0);
}
// OpenBLAS the way native/binding.gyp looks for it: pkg-config's flags, else the compiler's own search
// paths. A tiny program that includes cblas.h and links -lopenblas must build with one of them.
function findOpenBlas() {
  const cxx = process.env.CXX || "c++";
  const version = spawnSync(cxx, ["--version"], { encoding: "utf8" });
  if (version.status !== 0)
    return { ok: false, reason: `no C++ compiler (${cxx} --version failed${version.error ? `: ${version.error.code}` : ""})` };
  const dir = mkdtempSync(join(tmpdir(), "mtlkit-openblas-"));
  try {
    const probe = join(dir, "probe.cc");
    writeFileSync(probe, "#include <cblas.h>\nint main() { return openblas_get_config() == nullptr; }\n");
    const pc = spawnSync("pkg-config", ["--cflags", "--libs", "openblas"], { encoding: "utf8" });
    const tries = [];
    if (pc.status === 0) tries.push({ how: "pkg-config", flags: pc.stdout.trim().split(/\s+/).filter(Boolean) });
    tries.push({ how: "the compiler's search paths", flags: ["-lopenblas"] });
    const errors = [];
    for (const t of tries) {
      const r = spawnSync(cxx, ["-std=c++17", probe, "-o", join(dir, "probe"), ...t.flags], { encoding: "utf8" });
      if (r.status === 0) return { ok: true, how: t.how };
      errors.push(
        `${t.how}: ${
          (r.stderr || "")
            .split("\n")
            .find((l) => /error/i.test(l))
            ?.trim() ?? `exit ${r.status}`
        }`,
      );
    }
    const pcNote = pc.status === 0 ? "" : `pkg-config does not know openblas${pc.error ? " (pkg-config is not installed)" : ""}; `;
    return {
      ok: false,
      reason:
        `OpenBLAS was not found: ${pcNote}${errors.join("; ")}. Install it (Debian/Ubuntu: libopenblas-dev, Fedora: openblas-devel, ` +
        "macOS: brew install openblas and add its lib/pkgconfig to PKG_CONFIG_PATH), then run `npm run build:native`",
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const openblas = findOpenBlas();
if (!openblas.ok) {
  writeStatus({ ok: false, reason: openblas.reason });
  console.warn(`mtlkit: native addon not built: ${openblas.reason}; running on wasm/cpu.`);
  process.exit(0);
}
const gyp = findNodeGyp();
if (!gyp) {
  writeStatus({ ok: false, reason: "node-gyp was not found (it ships with npm)" });
  console.warn("mtlkit: native addon not built: node-gyp was not found; running on wasm/cpu.");
  process.exit(0);
}
const args = [gyp, "rebuild", "--directory", nativeDir];
const dir = nodeDir();
if (dir) args.push(`--nodedir=${dir}`);
const result = spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, JOBS: "2" } });
if (result.status === 0 && existsSync(join(nativeDir, "build", "Release", "mtlkit_native.node"))) {
  writeStatus({ ok: true, reason: `built (OpenBLAS through ${openblas.how})` });
  console.log("mtlkit: native addon built (OpenBLAS matmul kernels).");
} else {
  const output = `${result.stdout ?? ""}\n${result.stderr ?? ""}`;
  const firstError =
    output.split("\n").find((l) => /error|not found|cannot find/i.test(l) && !/^gyp info/.test(l)) ??
    `node-gyp exited with ${result.status}`;
  writeStatus({ ok: false, reason: firstError.trim().slice(0, 300) });
  console.warn(`mtlkit: native addon not built (${firstError.trim().slice(0, 200)}); running on wasm/cpu.`);
}
