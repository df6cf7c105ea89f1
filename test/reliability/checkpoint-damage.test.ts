/**
 * Damaged checkpoints, by fault injection: a bit flipped anywhere in any file, a truncated or
 * missing file, a changed offset or optimizer scalar. Loading must never succeed with different
 * data: it either falls back to the newest intact checkpoint with a warning naming the damaged
 * folder, or throws an MtlError naming the folder and the damage (never a TypeError or a tfjs error).
 */
import * as fc from "fast-check";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import * as mtl from "../../lib";
import { digest, makeTrainer } from "./checkpoint-fixture";

const root = mkdtempSync(join(tmpdir(), "mtlkit-damage-"));
const pristine = join(root, "pristine");
const STEPS = [2, 3, 4];
const NEWEST = "step-00000004";
const refs = new Map<number, string>();
/** Bytes of the history file each checkpoint covers (none in a format without one). */
const historyBytes = new Map<number, number>();
let historyFile: string | undefined;
let target: ReturnType<typeof makeTrainer>;
let trial = 0;

beforeAll(async () => {
  // 2 epochs of 2 steps, a checkpoint after every step, the last 3 kept: steps 2, 3, 4.
  const { trainer, data } = makeTrainer({ checkpoint: { dir: pristine, everySteps: 1, keep: 3 } });
  await trainer.fit(data, { epochs: 2 });
  expect(
    readdirSync(pristine)
      .filter((n) => n.startsWith("step-"))
      .sort(),
  ).toEqual(STEPS.map((s) => `step-0000000${s}`));
  historyFile = readdirSync(pristine).find((n) => n.startsWith("history-"));
  for (const step of STEPS) {
    // The reference for step k: the pristine folder with only the checkpoints up to k.
    const dir = join(root, `ref-${step}`);
    cpSync(pristine, dir, { recursive: true });
    rmSync(join(dir, "latest"));
    for (const s of STEPS) if (s > step) rmSync(join(dir, `step-0000000${s}`), { recursive: true });
    const { trainer: t } = makeTrainer();
    await t.load(dir);
    expect(t.step).toBe(step);
    refs.set(step, await digest(t));
    const manifest = JSON.parse(readFileSync(join(dir, `step-0000000${step}`, "manifest.json"), "utf8"));
    if (manifest.history) historyBytes.set(step, manifest.history.bytes);
  }
  expect(new Set(refs.values()).size).toBe(3);
  target = makeTrainer();
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

let warnings: string[] = [];
beforeAll(() => {
  vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => void warnings.push(args.join(" ")));
});
afterEach(() => void (warnings = []));

type Outcome = { step: number; digest: string; warnings: string[]; dir: string } | { error: unknown; warnings: string[]; dir: string };

/** Copies the pristine folder, damages the copy, loads it into the shared trainer. */
async function loadDamaged(damage: (dir: string) => void): Promise<Outcome> {
  const dir = join(root, `trial-${++trial}`);
  cpSync(pristine, dir, { recursive: true });
  damage(dir);
  warnings = [];
  try {
    await target.trainer.load(dir);
    return { step: target.trainer.step, digest: await digest(target.trainer), warnings, dir };
  } catch (error) {
    return { error, warnings, dir };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The load fell back to (or stayed at) `step` with exactly that checkpoint's data, warning about each damaged folder. */
function expectLoaded(o: Outcome, step: number, damagedFolders: string[], what = ""): void {
  if ("error" in o) throw new Error(`${what}: expected step ${step} to load, got ${(o.error as Error)?.stack ?? o.error}`);
  expect(o.step, what).toBe(step);
  expect(o.digest, `${what}: loaded data differs from checkpoint step ${step}`).toBe(refs.get(step));
  for (const folder of damagedFolders) {
    expect(
      o.warnings.some((w) => w.includes(join(o.dir, folder)) && /damaged/.test(w)),
      `${what}: no warning naming ${folder}: ${JSON.stringify(o.warnings)}`,
    ).toBe(true);
  }
}

function expectRefused(o: Outcome, damage: RegExp, what = ""): void {
  if (!("error" in o)) throw new Error(`${what}: expected an error, loaded step ${o.step}`);
  expect(o.error, `${what}: ${(o.error as Error)?.stack}`).toBeInstanceOf(mtl.MtlError);
  expect((o.error as Error).message).toContain(`checkpoint folder ${o.dir}`);
  expect((o.error as Error).message).toMatch(damage);
}

/** Flips one bit in a file of a working copy, loads it, and flips the bit back (a load writes nothing). */
let work: string | undefined;
async function loadFlipped(file: string, position: number, bit: number): Promise<Outcome> {
  if (!work) {
    work = join(root, "work");
    cpSync(pristine, work, { recursive: true });
  }
  const path = join(work, file);
  flipBit(path, position, bit);
  warnings = [];
  try {
    await target.trainer.load(work);
    return { step: target.trainer.step, digest: await digest(target.trainer), warnings, dir: work };
  } catch (error) {
    return { error, warnings, dir: work };
  } finally {
    flipBit(path, position, bit);
  }
}

function flipBit(path: string, position: number, bit: number): void {
  const bytes = readFileSync(path);
  bytes[position % bytes.length] ^= 1 << bit;
  writeFileSync(path, bytes);
}

/** Which checkpoint survives damage to the history file from byte `from` on: the newest one covering less. */
function survivorOfHistoryDamageAt(from: number): number | undefined {
  return [...STEPS].reverse().find((s) => historyBytes.get(s)! <= from);
}

describe("a single bit flipped (200 seeded flips per file)", () => {
  const flip = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 }));

  it("in any file of the newest checkpoint falls back to the previous one with a warning", async () => {
    const files = readdirSync(join(pristine, NEWEST));
    for (const [i, file] of files.entries()) {
      await fc.assert(
        fc.asyncProperty(flip, async ([position, bit]) => {
          const o = await loadFlipped(join(NEWEST, file), position, bit);
          expectLoaded(o, 3, [NEWEST], `${file} byte ${position} bit ${bit}`);
        }),
        { numRuns: 200, seed: 1000 + i },
      );
    }
  }, 120_000);

  it("in the history file loads the newest checkpoint whose part of it is intact, or refuses", async () => {
    expect(historyFile, "a history file beside the checkpoints").toBeDefined();
    const size = readFileSync(join(pristine, historyFile!)).length;
    await fc.assert(
      fc.asyncProperty(flip, async ([position, bit]) => {
        const at = position % size;
        const o = await loadFlipped(historyFile!, at, bit);
        const survivor = survivorOfHistoryDamageAt(at);
        if (survivor === undefined) expectRefused(o, /history file .* does not match its checksum/, `history byte ${at}`);
        else
          expectLoaded(
            o,
            survivor,
            STEPS.filter((s) => s > survivor).map((s) => `step-0000000${s}`),
            `history byte ${at}`,
          );
      }),
      { numRuns: 200, seed: 2000 },
    );
  }, 120_000);

  it("in latest is reported, and the newest intact checkpoint is loaded", async () => {
    await fc.assert(
      fc.asyncProperty(flip, async ([position, bit]) => {
        const o = await loadFlipped("latest", position, bit);
        expectLoaded(o, 4, ["latest"], `latest byte ${position} bit ${bit}`);
      }),
      { numRuns: 200, seed: 3000 },
    );
  }, 60_000);
});

describe("other damage", () => {
  it("a truncated or missing file of the newest checkpoint: falls back", async () => {
    for (const file of readdirSync(join(pristine, NEWEST))) {
      const path = (dir: string) => join(dir, NEWEST, file);
      expectLoaded(
        await loadDamaged((dir) => truncateSync(path(dir), Math.floor(readFileSync(path(dir)).length / 2))),
        3,
        [NEWEST],
        `${file} truncated`,
      );
      expectLoaded(await loadDamaged((dir) => truncateSync(path(dir), 0)), 3, [NEWEST], `${file} emptied`);
      expectLoaded(await loadDamaged((dir) => rmSync(path(dir))), 3, [NEWEST], `${file} missing`);
    }
  });

  it("a truncated history file: the checkpoints it still covers load; a missing one: refused", async () => {
    const size = readFileSync(join(pristine, historyFile!)).length;
    for (const length of [size - 1, historyBytes.get(3)!, historyBytes.get(3)! - 1, historyBytes.get(2)! - 1, 0]) {
      const o = await loadDamaged((dir) => truncateSync(join(dir, historyFile!), length));
      const survivor = survivorOfHistoryDamageAt(length);
      if (survivor === undefined) expectRefused(o, /history file .* is truncated/, `history cut to ${length}`);
      else
        expectLoaded(
          o,
          survivor,
          STEPS.filter((s) => s > survivor).map((s) => `step-0000000${s}`),
          `history cut to ${length}`,
        );
    }
    expectRefused(await loadDamaged((dir) => rmSync(join(dir, historyFile!))), /history file .* is missing/);
  });

  it("a missing latest is no damage (a first save can stop before writing it): the newest folder loads", async () => {
    const o = await loadDamaged((dir) => rmSync(join(dir, "latest")));
    expectLoaded(o, 4, []);
    expect(o.warnings).toEqual([]);
  });

  // biome-ignore lint/suspicious/noExplicitAny: the edits reach into the manifest's JSON at any depth.
  const editManifest = (dir: string, edit: (m: any) => void, resum = false) => {
    const path = join(dir, NEWEST, "manifest.json");
    const m = JSON.parse(readFileSync(path, "utf8"));
    edit(m);
    const text = JSON.stringify(m, null, 1);
    writeFileSync(path, text);
    if (resum) {
      // As if written by a buggy writer: the checksum matches the changed manifest.
      const sums = join(dir, NEWEST, "SHA256SUMS");
      const hash = createHash("sha256").update(text).digest("hex");
      writeFileSync(sums, readFileSync(sums, "utf8").replace(/^[0-9a-f]{64}(?= {2}manifest\.json$)/m, hash));
    }
  };

  it("a changed offset or optimizer scalar in the manifest: falls back", async () => {
    expectLoaded(await loadDamaged((dir) => editManifest(dir, (m) => (m.variables[1].offset += 1))), 3, [NEWEST], "offset + 1");
    expectLoaded(
      await loadDamaged((dir) => editManifest(dir, (m) => (m.optimizer.scalars.accBeta1 *= 1.0001))),
      3,
      [NEWEST],
      "accBeta1 changed",
    );
    expectLoaded(await loadDamaged((dir) => editManifest(dir, (m) => (m.step = 5))), 3, [NEWEST], "step changed");
  });

  it("a manifest whose checksum matches but whose tensors do not tile weights.bin: falls back, saying why", async () => {
    const o = await loadDamaged((dir) => editManifest(dir, (m) => (m.variables[1].offset += 1), true));
    expectLoaded(o, 3, [NEWEST], "offset + 1, checksum recomputed");
    expect(o.warnings.join("\n")).toMatch(/starts at offset/);
    const o2 = await loadDamaged((dir) => editManifest(dir, (m) => (m.variables[0].shape = "3,4"), true));
    expectLoaded(o2, 3, [NEWEST], "shape not an array, checksum recomputed");
  });

  it("no intact checkpoint: an MtlError naming the folder and each damage, and the trainer is left as it was", async () => {
    const before = await digest(target.trainer);
    const o = await loadDamaged((dir) => {
      for (const s of STEPS) flipBit(join(dir, `step-0000000${s}`, "weights.bin"), 5, 3);
    });
    expectRefused(
      o,
      /holds no intact checkpoint: .*step-00000004: weights\.bin does not match its checksum.*step-00000003: weights\.bin.*step-00000002: weights\.bin/,
    );
    expect(await digest(target.trainer)).toBe(before);
  });
});

describe("older format", () => {
  it("a version 1 checkpoint (no SHA256SUMS) is refused with that reason", async () => {
    const o = await loadDamaged((dir) => {
      for (const s of STEPS) {
        const folder = join(dir, `step-0000000${s}`);
        rmSync(join(folder, "SHA256SUMS"));
        const m = JSON.parse(readFileSync(join(folder, "manifest.json"), "utf8"));
        writeFileSync(join(folder, "manifest.json"), JSON.stringify({ ...m, version: 1 }));
      }
    });
    expectRefused(o, /step-00000004: format version 1 was written by an older mtlkit/);
  });
});
