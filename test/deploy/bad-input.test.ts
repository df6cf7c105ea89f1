/**
 * What a saved model refuses, each with an MtlError naming the file, variable or option: a newer
 * format version, a weights file of the wrong size or checksum, a changed model.json, a missing
 * checksum file, an architecture that does not match its weights, and models that cannot be
 * described (a function trunk, a tf.LayersModel, a hand-written task). Saving never clobbers a
 * folder that is not a saved model.
 */
import { createHash } from "node:crypto";
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";

const tf = mtl.tf;
const work = mkdtempSync(join(tmpdir(), "mtlkit-deploy-bad-"));
const tasks = [mtl.tasks.classification("species", { classes: 3 }), mtl.tasks.regression("mass")];
let model: mtl.HardSharingModel;
const saved = join(work, "saved");

beforeAll(async () => {
  await tf.setBackend("cpu");
  model = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks, seed: 1 });
  await model.save(saved);
});
afterAll(() => {
  model.dispose();
  rmSync(work, { recursive: true, force: true });
});

let copies = 0;
/** A copy of the saved model to damage. */
function copy(): string {
  const dir = join(work, `copy${++copies}`);
  cpSync(saved, dir, { recursive: true });
  return dir;
}

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Rewrites model.json through `edit` and updates SHA256SUMS, as a careful forger (or a newer mtlkit) would. */
function rewriteModelJson(dir: string, edit: (file: mtl.deploy.SavedModelFile) => void): void {
  const path = join(dir, "model.json");
  const file = JSON.parse(readFileSync(path, "utf8")) as mtl.deploy.SavedModelFile;
  edit(file);
  const text = JSON.stringify(file);
  writeFileSync(path, text);
  const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8").replace(/^[0-9a-f]{64} {2}model\.json$/m, `${sha256(text)}  model.json`);
  writeFileSync(join(dir, "SHA256SUMS"), sums);
}

async function expectLoadError(dir: string, pattern: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  await expect(mtl.loadModel(dir)).rejects.toThrow(mtl.MtlError);
  await expect(mtl.loadModel(dir)).rejects.toThrow(pattern);
  expect(tf.memory().numTensors).toBe(before);
}

describe("loadModel refuses damaged or foreign files", () => {
  it("a newer format version, naming the version and the file", async () => {
    const dir = copy();
    rewriteModelJson(dir, (f) => {
      f.formatVersion = 2;
      f.generatedBy = "mtlkit 9.0.0";
    });
    await expectLoadError(dir, /model\.json.*format version 2 \(by mtlkit 9\.0\.0\); this mtlkit reads format version 1/);
  });

  it("a weights file of the wrong size, naming the file", async () => {
    const dir = copy();
    truncateSync(join(dir, "group1-shard1of1.bin"), 100);
    await expectLoadError(dir, /group1-shard1of1\.bin.*has 100 bytes; model\.json says \d+/);
    const padded = copy();
    appendFileSync(join(padded, "group1-shard1of1.bin"), Buffer.alloc(4));
    await expectLoadError(padded, /group1-shard1of1\.bin.*bytes/);
  });

  it("a weights file with a changed byte, naming the file and its checksum", async () => {
    const dir = copy();
    const path = join(dir, "group1-shard1of1.bin");
    const bytes = readFileSync(path);
    bytes[17] ^= 0x40;
    writeFileSync(path, bytes);
    await expectLoadError(dir, /group1-shard1of1\.bin.*SHA-256 does not match SHA256SUMS/);
  });

  it("a changed model.json (checksum), a missing weights file, a missing SHA256SUMS, a folder that is no model", async () => {
    const edited = copy();
    writeFileSync(join(edited, "model.json"), readFileSync(join(edited, "model.json"), "utf8").replace('"trunk"', ' "trunk"'));
    await expectLoadError(edited, /model\.json.*SHA-256 does not match/);
    const noShard = copy();
    rmSync(join(noShard, "group1-shard1of1.bin"));
    await expectLoadError(noShard, /group1-shard1of1\.bin.*missing/);
    const noSums = copy();
    rmSync(join(noSums, "SHA256SUMS"));
    await expectLoadError(noSums, /SHA256SUMS' is missing/);
    const empty = join(work, "empty");
    mkdirSync(empty);
    await expectLoadError(empty, /has no model\.json/);
    await expectLoadError(join(work, "nowhere"), /is not a folder/);
    const garbage = copy();
    writeFileSync(join(garbage, "model.json"), "{ not json");
    await expectLoadError(garbage, /model\.json.*not valid JSON/);
  });

  it("an architecture that does not match its weights, naming the variable", async () => {
    const wider = copy();
    rewriteModelJson(wider, (f) => ((f.model.options as { trunk: number[] }).trunk = [9]));
    await expectLoadError(wider, /variable 'trunk\.0\.kernel' is \[4,8\] in the description but \[4,9\]/);
    const deeper = copy();
    rewriteModelJson(deeper, (f) => ((f.model.options as { trunk: number[] }).trunk = [8, 8]));
    await expectLoadError(deeper, /'trunk\.1\.kernel', which the description does not list/);
    const renamed = copy();
    rewriteModelJson(renamed, (f) => {
      f.weightsManifest[0].weights[0].name = "trunk.9.kernel";
    });
    await expectLoadError(renamed, /the weights hold 'trunk\.9\.kernel', which the model has no variable for/);
    const unknown = copy();
    rewriteModelJson(unknown, (f) => (f.model.architecture = "transformer"));
    await expectLoadError(unknown, /unknown architecture 'transformer'/);
    const badTask = copy();
    rewriteModelJson(
      badTask,
      (f) => ((f.model.options as { tasks: Array<{ $task: { factory: string } }> }).tasks[0].$task.factory = "ranking"),
    );
    await expectLoadError(badTask, /unknown task kind 'ranking'/);
  });
});

describe("save refuses what it cannot describe, naming the option", () => {
  it("a user function trunk", async () => {
    const w = tf.variable(tf.randomNormal([4, 3])) as mtl.tf.Variable<mtl.tf.Rank.R2>;
    const fn = mtl.hardSharing({
      inputSize: 4,
      trunk: { apply: (x: mtl.tf.Tensor2D) => tf.matMul(x, w) as mtl.tf.Tensor2D, variables: [w as mtl.tf.Variable], outputSize: 3 },
      tasks,
      seed: 1,
    });
    await expect(fn.save(join(work, "fn"))).rejects.toThrow(/Error in save: option 'trunk' is a user function block/);
    expect(existsSync(join(work, "fn"))).toBe(false);
    // Its weights still travel by name.
    const weights = await fn.getWeights();
    expect(Object.keys(weights)).toContain("trunk.0");
    fn.dispose();
  });

  it("a tf.LayersModel head", async () => {
    const head = tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 3 })] });
    const lm = mtl.hardSharing({ inputSize: 4, trunk: [8], heads: { species: head }, tasks, seed: 1 });
    await expect(lm.save(join(work, "lm"))).rejects.toThrow(/option 'heads\.species' is a tf\.LayersModel/);
    lm.dispose();
  });

  it("a task not made by an mtl.tasks factory", async () => {
    const handMade = { ...mtl.tasks.regression("mass") };
    const m = mtl.hardSharing({ inputSize: 4, trunk: [8], tasks: [tasks[0], handMade], seed: 1 });
    await expect(m.save(join(work, "hand"))).rejects.toThrow(/task 'mass' \(option 'tasks\[1\]'\) was not made by an mtl\.tasks factory/);
    m.dispose();
  });

  it("a folder that holds other files, and options that do not fit the model", async () => {
    const folder = join(work, "notes");
    mkdirSync(folder);
    writeFileSync(join(folder, "thesis.tex"), "precious");
    await expect(model.save(folder)).rejects.toThrow(/holds other files \(thesis\.tex/);
    expect(readFileSync(join(folder, "thesis.tex"), "utf8")).toBe("precious");
    await expect(model.save(join(work, "x1"), { featureNames: ["a"] })).rejects.toThrow(
      /option 'featureNames' must name the model's 4 features/,
    );
    await expect(model.save(join(work, "x2"), { standardizer: { mean: new Float32Array(3), std: new Float32Array(3) } })).rejects.toThrow(
      /fitted on 3 features; the model takes 4/,
    );
  });
});

describe("predict refuses malformed rows, naming the input", () => {
  it("a row of the wrong width or with a non-number", async () => {
    await expect(mtl.deploy.predict(model, [[1, 2, 3]])).rejects.toThrow(/input 'x'.*row 0 has 3 values; the model takes 4 features/);
    await expect(mtl.deploy.predict(model, [[1, 2, NaN, 4]])).rejects.toThrow(/row 0, feature 2 is NaN/);
  });
});
