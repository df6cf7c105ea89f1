/**
 * The saved-model folder, version 1:
 *
 *   dir/model.json            { format: "mtlkit-model", formatVersion, generatedBy, versions, createdAt,
 *                               model: <architecture description>, weightsManifest: <tf.io manifest>,
 *                               weightsBytes: { <shard>: bytes } }
 *   dir/group1-shard1of1.bin  the weights, float32 little-endian, as tf.io writes them (4 MiB shards)
 *   dir/SHA256SUMS            SHA-256 of model.json and every shard (the format of `sha256sum`)
 *
 * model.json has the shape of TensorFlow.js's own model.json (format, generatedBy, weightsManifest)
 * with mtlkit's architecture description where a LayersModel keeps its topology, so tfjs's
 * `tf.io.loadWeights` reads the weights as they are. A reader refuses a newer format version.
 */
import type * as tf from "@tensorflow/tfjs";
import type { ModelDescription } from "./describe";

/** The `format` field of a saved model's model.json: "mtlkit-model" (a reader refuses any other). */
export const MODEL_FORMAT = "mtlkit-model";
/** The format version this mtlkit writes and the newest it reads. */
export const MODEL_FORMAT_VERSION = 1;
export const MODEL_FILE = "model.json";
export const CHECKSUMS_FILE = "SHA256SUMS";
/** tf.io's (and the converter's) default shard size. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

/** The contents of model.json. */
export interface SavedModelFile {
  format: string;
  formatVersion: number;
  generatedBy: string;
  versions: { mtlkit: string; tfjs: string };
  createdAt: string;
  model: ModelDescription;
  weightsManifest: tf.io.WeightsManifestConfig;
  /** Size of each weights shard in bytes (a truncated or padded file is named before its checksum is). */
  weightsBytes: Record<string, number>;
}

/** The name of shard i (0-based) of n, as tf.io names them. */
export function shardName(i: number, n: number): string {
  return `group1-shard${i + 1}of${n}.bin`;
}
