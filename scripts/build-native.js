#!/usr/bin/env node
// Builds mtlkit's optional native addon (native/) with node-gyp. Never fails the install: when the
// build cannot run (no compiler, no OpenBLAS, no Node headers), it records why in
// native/build-status.json, and mtlkit runs on wasm/cpu alone; `mtlkit doctor` reports the reason.
const { spawnSync } = require("node:child_process");
const { existsSync, writeFileSync, renameSync } = require("node:fs");
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
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js"));
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
  writeStatus({ ok: true, reason: "built" });
  console.log("mtlkit: native addon built (OpenBLAS matmul kernels).");
} else {
  const output = `${result.stdout ?? ""}\n${result.stderr ?? ""}`;
  const firstError = output.split("\n").find((l) => /error|not found|cannot find/i.test(l) && !/^gyp info/.test(l)) ?? `node-gyp exited with ${result.status}`;
  writeStatus({ ok: false, reason: firstError.trim().slice(0, 300) });
  console.warn(`mtlkit: native addon not built (${firstError.trim().slice(0, 200)}); running on wasm/cpu.`);
}
