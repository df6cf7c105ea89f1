/**
 * model.save / mtl.loadModel for every architecture and encoder: the loaded model is the same class
 * with the same tasks, predicts exactly as the saved one, trains on exactly as the saved one would
 * (same Trainer, same seed, same result), and saving and loading leak no tensors.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { encoderZoo, maxOutputDifference, tabularZoo, ZooEntry } from "./zoo";

const tf = mtl.tf;
const work = mkdtempSync(join(tmpdir(), "mtlkit-deploy-"));
beforeAll(async () => {
  await tf.setBackend("cpu");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function trainOneEpoch(model: mtl.MultiTaskModel, tasks: mtl.Task[], data: mtl.MultiTaskData, seed: number): Promise<void> {
  const trainer = new mtl.Trainer({ model, tasks, epochs: 1, batchSize: 16, progress: false, seed, optimizer: tf.train.adam(0.01) });
  await trainer.fit(data);
  trainer.optimizer.dispose();
}

function check(entry: ZooEntry) {
  it(`${entry.name}: the loaded model predicts exactly as the saved one and trains on identically`, async () => {
    const { model, tasks, data, rows } = entry;
    await trainOneEpoch(model, tasks, data, 1); // move the weights away from the seeded start
    const dir = join(work, entry.name);
    const tensorsBefore = tf.memory().numTensors;
    await model.save(dir);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(readdirSync(work).filter((f) => f.includes(".tmp-"))).toEqual([]);

    const loaded = await mtl.loadModel(dir);
    expect(loaded.constructor).toBe(model.constructor);
    expect(loaded.architecture).toBe(model.architecture);
    expect(loaded.taskNames).toEqual(model.taskNames);
    expect(loaded.tasks.map((t) => [t.name, t.kind, t.outputUnits, t.labels, t.columns])).toEqual(
      tasks.map((t) => [t.name, t.kind, t.outputUnits, t.labels, t.columns]),
    );
    expect(loaded.parameterCounts()).toEqual(model.parameterCounts());
    expect(await loaded.getWeights()).toEqual(await model.getWeights());

    const expected = await mtl.deploy.predict(model, rows);
    const got = await mtl.deploy.predict(loaded, rows);
    expect(maxOutputDifference(expected, got)).toBe(0);
    expect(got).toEqual(expected);
    const again = await mtl.loadModel(dir);
    again.dispose();
    expect(tf.memory().numTensors).toBe(tensorsBefore + model.namedVariables().length);

    // The tasks' losses are rebuilt too (class weights, Huber's delta): one more epoch from the same
    // state with the same seed gives the same weights for the saved model and the loaded one.
    await trainOneEpoch(model, tasks, data, 7);
    await trainOneEpoch(loaded, [...loaded.tasks], data, 7);
    const a = await model.getWeights();
    const b = await loaded.getWeights();
    for (const name of Object.keys(a)) expect(Array.from(b[name].values), name).toEqual(Array.from(a[name].values));

    loaded.dispose();
    model.dispose();
  });
}

describe("save and load every architecture", () => {
  for (const entry of tabularZoo()) check(entry);
});

describe("save and load hard sharing over mtlkit's encoders", () => {
  for (const entry of encoderZoo()) check(entry);
});

describe("saving and loading repeatedly", () => {
  it("keeps the tensor count flat, and a second save replaces the first atomically", async () => {
    const [entry] = tabularZoo();
    const dir = join(work, "repeat");
    await entry.model.save(dir);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await entry.model.save(dir);
      const loaded = await mtl.loadModel(dir);
      await mtl.deploy.predict(loaded, entry.rows);
      loaded.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(readdirSync(work).filter((f) => f.startsWith(".repeat"))).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(["SHA256SUMS", "group1-shard1of1.bin", "model.json"]);
    entry.model.dispose();
  });

  it("splits the weights into shards of the given size, as tf.io does, and reads them back", async () => {
    const [, entry] = encoderZoo();
    const dir = join(work, "shards");
    await entry.model.save(dir, { shardBytes: 256 });
    const shards = readdirSync(dir)
      .filter((f) => f.endsWith(".bin"))
      .sort();
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toMatch(/^group1-shard1of\d+\.bin$/);
    // TensorFlow.js's own manifest reader reads the weights as they are.
    const manifest = JSON.parse(readFileSync(join(dir, "model.json"), "utf8")).weightsManifest;
    const tfjsLoad = tf.io.weightsLoaderFactory(async (paths) => paths.map((p) => new Uint8Array(readFileSync(p)).buffer));
    const byTfjs = await tfjsLoad(manifest, `${dir}/`);
    const own = await entry.model.getWeights();
    expect(Object.keys(byTfjs).sort()).toEqual(Object.keys(own).sort());
    for (const [name, t] of Object.entries(byTfjs)) expect(Array.from(await t.data()), name).toEqual(Array.from(own[name].values));
    tf.dispose(Object.values(byTfjs));
    const loaded = await mtl.loadModel(dir);
    expect(await loaded.getWeights()).toEqual(await entry.model.getWeights());
    loaded.dispose();
    entry.model.dispose();
  });

  it("saves the standardiser and feature names, and a loaded model's predict applies the standardisation", async () => {
    const [entry] = tabularZoo();
    const standardizer = mtl.fitStandardizer(entry.data);
    const names = ["a", "b", "c", "d", "e"];
    const dir = join(work, "standardized");
    await entry.model.save(dir, { standardizer, featureNames: names });
    const loaded = await mtl.loadModel(dir);
    expect(loaded.inputSpec().x.names).toEqual(names);
    const raw = entry.rows;
    const scaled = raw.map((r) => r.map((v, c) => (v - standardizer.mean[c]) / standardizer.std[c]));
    const fromRaw = await mtl.deploy.predict(loaded, raw);
    const fromScaled = await mtl.deploy.predict(entry.model, scaled);
    expect(maxOutputDifference(fromRaw, fromScaled)).toBeLessThan(1e-5);
    loaded.dispose();
    entry.model.dispose();
  });
});
