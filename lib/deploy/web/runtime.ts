/**
 * The browser side of an exported model: the entry point of the bundle (`mtlkit-web.js`) that the
 * exported page loads after TensorFlow.js. It rebuilds the model from its description and weights
 * with the same code as `mtl.loadModel` and predicts with the same code as `mtl.deploy.predict`, so
 * the page and Node agree. It uses the page's global `tf` (tf.min.js).
 */
import * as tf from "@tensorflow/tfjs";
import type { BaseModel } from "../../architectures/types";
import type { SavedModelFile } from "../format";
import { InputRows, predict, TaskPrediction } from "../predict";
import { modelFromParts } from "../rebuild";
import { EmbeddedModel, PageApi, startPage } from "./page";

/** Decodes base64 into bytes (the page embeds the weights so it works from file:// too). */
function base64Bytes(base64: string): ArrayBuffer {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** Rebuilds the saved model from model.json's contents and its weights (base64 of the shards, in order). */
export function loadEmbedded(file: SavedModelFile, weightsBase64: string): BaseModel {
  const specs = file.weightsManifest.flatMap((g) => g.weights);
  const tensors = tf.io.decodeWeights(base64Bytes(weightsBase64), specs);
  try {
    return modelFromParts("mtlkit-web", file.model, tensors);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

export { predict };
export type { InputRows, TaskPrediction };

export { describeRow } from "./page";
export { startPage };
export type { EmbeddedModel, PageApi } from "./page";

// In the exported page, model.js (loaded first) sets MTLKIT_MODEL; the page starts at once.
const host = globalThis as unknown as { MTLKIT_MODEL?: EmbeddedModel; mtlkit?: PageApi; document?: unknown };
if (host.MTLKIT_MODEL && host.document) host.mtlkit = startPage(host.MTLKIT_MODEL, loadEmbedded);
