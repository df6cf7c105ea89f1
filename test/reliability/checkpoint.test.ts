/**
 * Checkpoints: a run resumed in a new process continues exactly; an interrupted save never leaves
 * an unloadable folder; a checkpoint from another model is refused with what differs.
 * The child process runs the compiled library (npm test builds it first).
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { findCheckpoint, listCheckpoints, readCheckpoint } from "../../lib/train/checkpoint";

const CHILD = join(__dirname, "checkpoint-child.js");
const root = mkdtempSync(join(tmpdir(), "mtlkit-ckpt-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function child(mode: string, backend: string, dir: string, steps: number): number[][] {
  const out = execFileSync(process.execPath, [CHILD, mode, backend, dir, String(steps)], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return JSON.parse(out.trim().split("\n").pop()!);
}

describe("resume in a new process", () => {
  for (const backend of ["cpu", "wasm"]) {
    it(`continues with identical losses on ${backend}`, () => {
      const n = 7; // 4 steps per epoch: the save falls in the middle of the second epoch
      const straight = child("straight", backend, join(root, `unused-${backend}`), n);
      const dir = join(root, `resume-${backend}`);
      const first = child("first", backend, dir, n);
      const resumed = child("resume", backend, dir, n);
      expect(straight).toHaveLength(2 * n);
      expect(first).toEqual(straight.slice(0, n));
      expect(resumed).toHaveLength(2 * n);
      // The cpu backend is deterministic: bit-identical. wasm: identical within float32 rounding.
      if (backend === "cpu") expect(resumed).toEqual(straight);
      else resumed.flat().forEach((v, i) => expect(Math.abs(v - straight.flat()[i]) / Math.abs(straight.flat()[i])).toBeLessThan(1e-6));
    }, 120_000);
  }
});

describe("interrupted saves", () => {
  it("leave a loadable checkpoint after SIGKILL at a random moment (20 repetitions)", async () => {
    const dir = join(root, "killed");
    let kills = 0;
    let lastStep = 0;
    for (let i = 0; i < 20; i++) {
      const proc: ChildProcess = spawn(process.execPath, [CHILD, "saveLoop", "cpu", dir], { stdio: ["ignore", "pipe", "ignore"] });
      await new Promise<void>((resolve, reject) => {
        proc.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
        proc.on("exit", (code) => reject(new Error(`save loop exited early with ${code}`)));
      });
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
      proc.kill("SIGKILL");
      await new Promise((r) => proc.once("exit", r));
      kills++;
      const ckpt = findCheckpoint(dir);
      expect(ckpt.manifest.step).toBeGreaterThanOrEqual(Math.max(lastStep, 3));
      lastStep = ckpt.manifest.step;
      // No half-written or half-deleted folder is ever taken for a checkpoint.
      for (const name of listCheckpoints(dir)) expect(() => readCheckpoint(join(dir, name))).not.toThrow();
    }
    expect(kills).toBe(20);
    const before = findCheckpoint(dir).manifest.step;
    // Kills between a save and its pruning can leave extra checkpoints and temporary folders;
    // the next complete save prunes back to keep = 2 and removes the leftovers.
    const done = spawnSync(process.execPath, [CHILD, "saveOnce", "cpu", dir], { encoding: "utf8" });
    expect(done.status, done.stderr).toBe(0);
    expect(listCheckpoints(dir)).toHaveLength(2);
    expect(findCheckpoint(dir).manifest.step).toBe(before + 1);
    expect(readdirSync(dir).filter((n) => n.startsWith("."))).toEqual([]);
  }, 240_000);
});

describe("checkpoint files", () => {
  function make(trunk: number[], names = ["a", "b"]) {
    const tasks = [mtl.tasks.regression(names[0]), mtl.tasks.classification(names[1], { classes: 2 })];
    const model = mtl.hardSharing({ inputSize: 3, trunk, tasks, seed: 1 });
    return new mtl.Trainer({ model, tasks, progress: false });
  }

  it("are owner-only, keep the last K, and fall back past a corrupt one", async () => {
    const dir = join(root, "files");
    const trainer = make([4]);
    const x = mtl.tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const targets = [mtl.tf.tensor2d([[1], [2]]), mtl.tf.tensor1d([0, 1], "int32")];
    for (let i = 0; i < 4; i++) {
      await trainer.trainStep(x, targets);
      await trainer.save(dir, { keep: 2 });
    }
    expect(listCheckpoints(dir)).toEqual(["step-00000004", "step-00000003"]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "step-00000004", "weights.bin")).mode & 0o777).toBe(0o600);
    // Corrupt the newest: loading falls back to the previous one.
    const w = join(dir, "step-00000004", "weights.bin");
    const bytes = readFileSync(w);
    bytes[0] ^= 0xff;
    writeFileSync(w, bytes);
    expect(findCheckpoint(dir).manifest.step).toBe(3);
    const other = make([4]);
    await other.load(dir);
    expect(other.step).toBe(3);
  });

  it("refuse a different architecture or task set, saying what differs", async () => {
    const dir = join(root, "mismatch");
    await make([4]).save(dir);
    await expect(make([5]).load(dir)).rejects.toThrow(
      /variable 'trunk.0.kernel' has shape \[3,4\] in the checkpoint and \[3,5\] in the model/,
    );
    await expect(make([4], ["a", "c"]).load(dir)).rejects.toThrow(
      /tasks: checkpoint \[a \(regression, 1 outputs\), b \(classification, 2 outputs\)\], model \[a .*c \(classification/,
    );
    await expect(make([4]).load(join(root, "nowhere"))).rejects.toThrow(/does not exist/);
  });
});
