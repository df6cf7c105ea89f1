/**
 * What checkpoints cost over a long run: no tensor is leaked by save or load, state.json does not
 * grow with the number of steps, and the history file is appended to rather than rewritten — while
 * a resumed run still gets exactly its checkpoint's history.
 */
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import * as mtl from "../../lib";
import { digest, makeTrainer } from "./checkpoint-fixture";

const root = mkdtempSync(join(tmpdir(), "mtlkit-ckpt-res-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function batch() {
  const x = mtl.tf.tensor2d([
    [1, 2, 3],
    [4, -5, 6],
    [0.5, 0, -1],
    [2, 2, 2],
  ]);
  const targets = [mtl.tf.tensor2d([[1], [2], [0], [-1]]), mtl.tf.tensor1d([0, 1, 1, 0], "int32")];
  return { x, targets, dispose: () => mtl.tf.dispose([x, ...targets]) };
}

const historyFiles = (dir: string) => readdirSync(dir).filter((n) => n.startsWith("history-"));

describe("tensors", () => {
  it("100 saves and 100 loads with Adam keep tf.memory().numTensors flat", async () => {
    const dir = join(root, "leak");
    const { trainer } = makeTrainer();
    const b = batch();
    await trainer.trainStep(b.x, b.targets); // Adam's slots exist from here on
    await trainer.save(dir);
    await trainer.load(dir);
    const before = mtl.tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      await trainer.trainStep(b.x, b.targets);
      await trainer.save(dir, { keep: 2 });
    }
    const afterSaves = mtl.tf.memory().numTensors;
    for (let i = 0; i < 100; i++) await trainer.load(dir);
    const afterLoads = mtl.tf.memory().numTensors;
    expect({ afterSaves, afterLoads }).toEqual({ afterSaves: before, afterLoads: before });
    // Training still works after all those loads (no slot was disposed that the optimizer uses).
    expect((await trainer.trainStep(b.x, b.targets)).losses.every(Number.isFinite)).toBe(true);
    expect(mtl.tf.memory().numTensors).toBe(before);
    b.dispose();
  }, 60_000);
});

describe("history storage", () => {
  it("state.json stays the same size as the run grows; the history file only grows by appends", async () => {
    const dir = join(root, "growth");
    const { trainer } = makeTrainer();
    const b = batch();
    const stateSizes: number[] = [];
    const histories: Buffer[] = [];
    for (let save = 0; save < 10; save++) {
      for (let i = 0; i < 50; i++) await trainer.trainStep(b.x, b.targets);
      const path = await trainer.save(dir, { keep: 2 });
      stateSizes.push(statSync(join(path, "state.json")).size);
      histories.push(Buffer.concat(historyFiles(dir).map((f) => readFileSync(join(dir, f)))));
    }
    // 500 steps of history would add ~100 kB; the state's size varies only with its numbers' digits.
    expect(Math.max(...stateSizes) - Math.min(...stateSizes), `state.json sizes ${stateSizes}`).toBeLessThan(64);
    expect(Math.max(...stateSizes)).toBeLessThan(2_000);
    expect(historyFiles(dir)).toHaveLength(1);
    histories.forEach((current, save) => {
      const previous = histories[save - 1] ?? Buffer.alloc(0);
      expect(current.subarray(0, previous.length).equals(previous), `save ${save} rewrote earlier history`).toBe(true);
      expect(current.toString("utf8").split("\n").length - 1).toBe(50 * (save + 1));
    });
    b.dispose();
  });

  it("a resume gets exactly its checkpoint's history, past a newer damaged checkpoint and a killed save's tail", async () => {
    const dir = join(root, "truncate");
    const { trainer } = makeTrainer();
    const b = batch();
    for (let i = 0; i < 10; i++) await trainer.trainStep(b.x, b.targets);
    await trainer.save(dir);
    const atTen = await digest(trainer);
    const firstTen = JSON.parse(JSON.stringify(trainer.history.steps));
    for (let i = 0; i < 10; i++) await trainer.trainStep(b.x, b.targets);
    await trainer.save(dir);
    // Damage step 20, and leave half a record at the end of the history file, as a killed save would.
    const w = join(dir, "step-00000020", "weights.bin");
    const bytes = readFileSync(w);
    bytes[3] ^= 1;
    writeFileSync(w, bytes);
    appendFileSync(join(dir, historyFiles(dir)[0]), '["step",{"epoch":0,"st');

    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const resumed = makeTrainer().trainer;
    expect(resumed.history.run!.startedAt).not.toBe(trainer.history.run!.startedAt);
    await resumed.load(dir);
    expect(resumed.history.run).toEqual(trainer.history.run); // the run it continues
    expect(warn.mock.calls.flat().join("\n")).toMatch(/step-00000020 \(weights\.bin does not match/);
    warn.mockRestore();
    expect(resumed.step).toBe(10);
    expect(resumed.history.steps).toEqual(firstTen);
    expect(await digest(resumed)).toBe(atTen);

    // The resumed run continues; its checkpoints hold its own history, and the older files stay intact
    // until no kept checkpoint refers to them.
    for (let i = 0; i < 5; i++) await resumed.trainStep(b.x, b.targets);
    const warned = vi.spyOn(console, "warn").mockImplementation(() => {});
    await resumed.save(dir, { keep: 3 });
    // The damaged step 20 belongs to the abandoned timeline: removed, with a word.
    expect(warned.mock.calls.flat().join("\n")).toMatch(/removed checkpoint step-00000020 .*step-00000015 supersedes later steps/);
    warned.mockRestore();
    expect(readdirSync(dir).filter((n) => n.startsWith("step-"))).toEqual(["step-00000010", "step-00000015"]);
    const again = makeTrainer().trainer;
    await again.load(dir);
    expect(again.step).toBe(15);
    expect(again.history.steps.map((s) => s.step)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(again.history.steps.slice(0, 10)).toEqual(firstTen);
    expect(await digest(again)).toBe(await digest(resumed));
    for (let i = 0; i < 3; i++) {
      await resumed.trainStep(b.x, b.targets);
      await resumed.save(dir, { keep: 1 });
    }
    expect(historyFiles(dir)).toHaveLength(1);
    b.dispose();
  });

  it("a trainer whose history was replaced (restore from a snapshot) starts a new history file", async () => {
    const dir = join(root, "replaced");
    const { trainer } = makeTrainer();
    const b = batch();
    for (let i = 0; i < 3; i++) await trainer.trainStep(b.x, b.targets);
    const snapshot = JSON.parse(JSON.stringify(trainer.snapshot()));
    await trainer.save(dir, { keep: 5 });
    for (let i = 0; i < 2; i++) await trainer.trainStep(b.x, b.targets);
    await trainer.save(dir, { keep: 5 });
    const [first] = historyFiles(dir);
    trainer.restore(snapshot);
    await trainer.trainStep(b.x, b.targets);
    const warned = vi.spyOn(console, "warn").mockImplementation(() => {});
    await trainer.save(dir, { keep: 5 });
    warned.mockRestore();
    const fresh = makeTrainer().trainer;
    await fresh.load(dir);
    expect(fresh.step).toBe(4);
    expect(fresh.history.steps).toEqual(trainer.history.steps);
    // Steps 3 and 4 use different files: the first holds steps 0-4 of the abandoned timeline.
    expect(readdirSync(dir).filter((n) => n.startsWith("step-"))).toEqual(["step-00000003", "step-00000004"]);
    expect(historyFiles(dir)).toHaveLength(2);
    expect(historyFiles(dir)).toContain(first);
    const four = JSON.parse(readFileSync(join(dir, "step-00000004", "manifest.json"), "utf8"));
    expect(four.history.file).not.toBe(first);
    expect(four.history.steps).toBe(4);
    b.dispose();
  });
});

describe("optimizer state", () => {
  /** An optimizer with a plain-number step count (reported through Stateful) and a scalar variable of its own. */
  class CountingSgd extends mtl.tf.SGDOptimizer {
    steps = 0;
    readonly decay = mtl.tf.scalar(1).variable(false);
    override applyGradients(g: Parameters<mtl.tf.SGDOptimizer["applyGradients"]>[0]): void {
      super.applyGradients(g);
      this.steps++;
      mtl.tf.tidy(() => this.decay.assign(mtl.tf.mul(this.decay, 0.9)));
    }
    state(): unknown {
      return { steps: this.steps };
    }
    loadState(state: unknown): void {
      this.steps = (state as { steps: number }).steps;
    }
  }

  it("travels whatever the optimizer reports: its Stateful state and its scalar variables", async () => {
    const dir = join(root, "optimizer-state");
    const { trainer } = makeTrainer({ optimizer: new CountingSgd(0.1) });
    const b = batch();
    for (let i = 0; i < 3; i++) await trainer.trainStep(b.x, b.targets);
    await trainer.save(dir);
    const manifest = JSON.parse(readFileSync(join(dir, "step-00000003", "manifest.json"), "utf8"));
    expect(manifest.optimizer.state).toEqual({ steps: 3 });
    expect(manifest.optimizer.scalars.decay).toBeCloseTo(0.729, 6);
    const optimizer = new CountingSgd(0.1);
    const fresh = makeTrainer({ optimizer }).trainer;
    await fresh.load(dir);
    expect(optimizer.steps).toBe(3);
    expect((await optimizer.decay.data())[0]).toBe(manifest.optimizer.scalars.decay);
    expect(await digest(fresh)).toBe(await digest(trainer));
    b.dispose();
  });
});
