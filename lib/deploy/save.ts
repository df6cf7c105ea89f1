/**
 * `model.save(dir)`: writes a model's description and weights into a folder, atomically: every file
 * goes into a temporary folder beside `dir`, is fsynced, and the folder is renamed into place, so
 * `dir` holds either the previous save or the new one, never a mixture. See ./format for the layout.
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { join } from "node:path";
import type { BaseModel } from "../architectures/types";
import { check, MtlError } from "../errors";
import type { Standardizer } from "../data/dataset";
import { writeFolderAtomic } from "../util/fsAtomic";
import { describeModel } from "./describe";
import { CHECKSUMS_FILE, DEFAULT_SHARD_BYTES, MODEL_FILE, MODEL_FORMAT, MODEL_FORMAT_VERSION, SavedModelFile, shardName } from "./format";
import { InputSpec, SINGLE_INPUT } from "./inputs";
import { variablesByName } from "./weights";

/**
 * Options of `model.save(dir, options)`: what the saved model needs besides its weights to predict on
 * raw rows (the standardisation, the features' names), and the weights' shard size.
 */
export interface SaveOptions {
  /** The standardisation fitted on the training features: saved so predictions on raw inputs apply it. */
  standardizer?: Pick<Standardizer, "mean" | "std">;
  /** The features' names in column order (the web page labels its inputs with them). */
  featureNames?: string[];
  /** Largest weights shard in bytes (default 4 MiB, as tf.io). */
  shardBytes?: number;
}

const sha256 = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");

export function mtlkitVersion(): string {
  for (const up of ["../../package.json", "../../../package.json"]) {
    try {
      const pkg = require(up) as { name?: string; version?: string };
      if (pkg.name === "mtlkit" && pkg.version) return pkg.version;
    } catch {
      // not this layout (source or dist)
    }
  }
  return "unknown";
}

/** The input spec with what `options` adds (feature names, the standardisation). */
function savedInputs(model: BaseModel, options: SaveOptions): InputSpec {
  const inputs = structuredClone(model.inputSpec());
  const x = inputs[SINGLE_INPUT];
  const size = model.inputSize;
  if (options.featureNames !== undefined) {
    check(x !== undefined, "save", () => "option 'featureNames' needs a model with one input 'x'.");
    check(
      Array.isArray(options.featureNames) &&
        options.featureNames.length === size &&
        options.featureNames.every((n) => typeof n === "string"),
      "save",
      () => `option 'featureNames' must name the model's ${size} features, got ${JSON.stringify(options.featureNames)}.`,
    );
    x.names = [...options.featureNames];
  }
  if (options.standardizer !== undefined) {
    check(x !== undefined, "save", () => "option 'standardizer' needs a model with one input 'x'.");
    const { mean, std } = options.standardizer;
    check(
      mean?.length === size && std?.length === size,
      "save",
      () => `option 'standardizer' was fitted on ${mean?.length} features; the model takes ${size}.`,
    );
    x.standardize = { mean: Array.from(mean), std: Array.from(std) };
  }
  return inputs;
}

/** Refuses to replace a folder that is not a saved model (the user's other files are never removed). */
function checkReplaceable(dir: string): void {
  if (!existsSync(dir)) return;
  check(statSync(dir).isDirectory(), "save", () => `'${dir}' exists and is not a folder.`);
  const entries = readdirSync(dir);
  if (entries.length === 0) return;
  let isModel = false;
  try {
    isModel = (JSON.parse(readFileSync(join(dir, MODEL_FILE), "utf8")) as { format?: string }).format === MODEL_FORMAT;
  } catch {
    isModel = false;
  }
  check(
    isModel,
    "save",
    () =>
      `'${dir}' is a folder that holds other files (${entries.slice(0, 3).join(", ")}…), not a saved model; choose a new or empty folder.`,
  );
}

/** Writes `model` into the folder `dir` (see ./format); returns `dir`. */
export async function saveModel(model: BaseModel, dir: string, options: SaveOptions = {}): Promise<string> {
  check(typeof dir === "string" && dir.length > 0, "save", () => "needs a folder path.");
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  check(
    Number.isInteger(shardBytes) && shardBytes >= 4 && shardBytes % 4 === 0,
    "save",
    () => `option 'shardBytes' must be a positive multiple of 4, got ${shardBytes}.`,
  );
  const description = describeModel(model);
  description.inputs = savedInputs(model, options);
  const target = resolve(dir);
  checkReplaceable(target);

  const variables = [...variablesByName("save", model)].map(([name, tensor]) => ({ name, tensor }));
  const { data, specs } = await tf.io.encodeWeights(variables);
  const bytes = new Uint8Array(data);
  const shards = Math.max(1, Math.ceil(bytes.length / shardBytes));
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < shards; i++)
    files[shardName(i, shards)] = bytes.subarray(i * shardBytes, Math.min(bytes.length, (i + 1) * shardBytes));
  const file: SavedModelFile = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    generatedBy: `mtlkit ${mtlkitVersion()}`,
    versions: { mtlkit: mtlkitVersion(), tfjs: tf.version.tfjs },
    createdAt: new Date().toISOString(),
    model: description,
    weightsManifest: [{ paths: Object.keys(files), weights: specs }],
    weightsBytes: Object.fromEntries(Object.entries(files).map(([name, b]) => [name, b.length])),
  };
  const json = `${JSON.stringify(file, null, 1)}\n`;
  const sums = [[MODEL_FILE, json] as const, ...Object.entries(files)].map(([name, b]) => `${sha256(b)}  ${name}\n`).join("");

  try {
    writeFolderAtomic(target, { [MODEL_FILE]: json, ...files, [CHECKSUMS_FILE]: sums });
  } catch (e) {
    throw e instanceof MtlError ? e : new MtlError("save", `could not write '${target}': ${(e as Error).message}`);
  }
  return dir;
}
