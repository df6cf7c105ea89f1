/**
 * `mtl.loadModel(dir)`: reads a folder written by `model.save`, verifies it before trusting any of
 * it (format and version, every file's size and SHA-256, the weights against the architecture) and
 * rebuilds the model, ready to predict or to train further with a Trainer (`model.tasks` are its tasks).
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { BaseModel } from "../architectures/types";
import { check, MtlError } from "../errors";
import { CHECKSUMS_FILE, MODEL_FILE, MODEL_FORMAT, MODEL_FORMAT_VERSION, SavedModelFile } from "./format";
import { modelFromParts } from "./rebuild";

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

/** A saved model's files, verified: model.json parsed and the weights as one buffer. */
export interface VerifiedModelFiles {
  /** model.json's contents. */
  file: SavedModelFile;
  /** Every weights shard, checked against SHA256SUMS, concatenated in the manifest's order. */
  weights: ArrayBuffer;
  /** The weights' names, shapes and dtypes, in the order of `weights` (tf.io's manifest entries). */
  specs: tf.io.WeightsManifestEntry[];
}

/** Parses SHA256SUMS ("<hex>  <name>" per line) or names the line that is malformed. */
function parseSums(path: string, text: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new MtlError(`loadModel (${path})`, `line ${i + 1} is not "<sha256>  <file>".`);
    sums.set(m[2], m[1]);
  });
  return sums;
}

/** Reads and verifies the files of the saved model in `dir`; throws an MtlError naming the file at fault. */
export function readModelFiles(dir: string): VerifiedModelFiles {
  check(typeof dir === "string" && dir.length > 0, "loadModel", () => "needs the folder a model was saved to.");
  check(existsSync(dir) && statSync(dir).isDirectory(), "loadModel", () => `'${dir}' is not a folder.`);
  const modelPath = join(dir, MODEL_FILE);
  const where = `loadModel (${modelPath})`;
  check(existsSync(modelPath), "loadModel", () => `'${dir}' has no ${MODEL_FILE}; it is not a saved mtlkit model.`);
  const modelBytes = readFileSync(modelPath);
  let file: SavedModelFile;
  try {
    file = JSON.parse(modelBytes.toString("utf8")) as SavedModelFile;
  } catch (e) {
    throw new MtlError(where, `the file is not valid JSON (${(e as Error).message}).`);
  }
  check(
    file !== null && typeof file === "object" && file.format === MODEL_FORMAT,
    where,
    () =>
      `the file is not a saved mtlkit model (format ${JSON.stringify((file as { format?: unknown })?.format)}, expected "${MODEL_FORMAT}").`,
  );
  check(
    Number.isInteger(file.formatVersion) && file.formatVersion >= 1,
    where,
    () => `'formatVersion' must be a positive integer, got ${JSON.stringify(file.formatVersion)}.`,
  );
  check(
    file.formatVersion <= MODEL_FORMAT_VERSION,
    where,
    () =>
      `the model was saved in format version ${file.formatVersion} (by ${file.generatedBy ?? "a newer mtlkit"}); this mtlkit reads format version ${MODEL_FORMAT_VERSION} and older. Upgrade mtlkit to load it.`,
  );

  const sumsPath = join(dir, CHECKSUMS_FILE);
  check(existsSync(sumsPath), "loadModel", () => `'${sumsPath}' is missing; without it the files cannot be verified.`);
  const sums = parseSums(sumsPath, readFileSync(sumsPath, "utf8"));
  const verify = (name: string, bytes: Uint8Array) => {
    const expected = sums.get(name);
    check(expected !== undefined, `loadModel (${sumsPath})`, () => `no checksum is listed for '${name}'.`);
    check(
      sha256(bytes) === expected,
      `loadModel (${join(dir, name)})`,
      () => `the file's SHA-256 does not match ${CHECKSUMS_FILE}; it was changed or damaged after saving.`,
    );
  };
  verify(MODEL_FILE, modelBytes);

  const manifest = file.weightsManifest;
  check(
    Array.isArray(manifest) && manifest.length > 0 && manifest.every((g) => Array.isArray(g?.paths) && Array.isArray(g?.weights)),
    where,
    () => "'weightsManifest' must list weight groups with their paths and weights.",
  );
  const specs = manifest.flatMap((g) => g.weights);
  const parts: Uint8Array[] = [];
  for (const name of manifest.flatMap((g) => g.paths)) {
    check(
      typeof name === "string" && !name.includes("/") && !name.includes("\\") && !name.startsWith("."),
      where,
      () => `weights path ${JSON.stringify(name)} must be a file name inside the folder.`,
    );
    const path = join(dir, name);
    check(existsSync(path), `loadModel (${path})`, () => "the weights file is missing.");
    const bytes = readFileSync(path);
    const expected = file.weightsBytes?.[name];
    check(
      bytes.length === expected,
      `loadModel (${path})`,
      () => `the weights file has ${bytes.length} bytes; ${MODEL_FILE} says ${expected}. It was truncated or changed after saving.`,
    );
    verify(name, bytes);
    parts.push(bytes);
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const weights = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    weights.set(p, offset);
    offset += p.length;
  }
  const needed = specs.reduce((s, w) => s + 4 * (w.shape ?? []).reduce((a, b) => a * b, 1), 0);
  check(
    specs.every((w) => w.dtype === "float32") && needed === total,
    where,
    () => `the weights manifest describes ${needed} bytes of float32 weights but the files hold ${total}.`,
  );
  return { file, weights: weights.buffer, specs };
}

/**
 * Loads the model saved in `dir`: verifies its files, rebuilds its architecture and tasks, and
 * assigns its weights. The result predicts as the saved model did and trains further with
 * `new mtl.Trainer({ model, tasks: model.tasks, … })`.
 */
export async function loadModel(dir: string): Promise<BaseModel> {
  const { file, weights, specs } = readModelFiles(dir);
  const where = `loadModel (${join(dir, MODEL_FILE)})`;
  const tensors = tf.io.decodeWeights(weights, specs);
  try {
    return modelFromParts(where, file.model, tensors);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}
