/**
 * A token embedding: a trainable table E ∈ R^{V×d}; token t maps to row E[t]. Its gradient is a
 * segment sum over the token ids (UnsortedSegmentSum), which mtlkit registers for wasm
 * (./wasmKernels), so it trains on every backend. Initialised U(−0.05, 0.05) as Keras' Embedding.
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { Rng } from "../random";
import { ownedVariable } from "./dense";
import "../native/wasmKernels";

/** A token embedding: a trainable table E ∈ R^{V×d}, token t → row E[t]; trains on every backend (wasm included). */
export class Embedding {
  readonly table: tf.Variable<tf.Rank.R2>;

  constructor(
    readonly name: string,
    readonly vocabularySize: number,
    readonly dimension: number,
    rng: Rng,
  ) {
    check(
      Number.isInteger(vocabularySize) && vocabularySize > 0 && Number.isInteger(dimension) && dimension > 0,
      name,
      () => `an embedding needs a positive integer vocabulary size and dimension, got ${vocabularySize} × ${dimension}.`,
    );
    const w = new Float32Array(vocabularySize * dimension);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.uniform() - 1) * 0.05;
    this.table = ownedVariable(tf.tensor2d(w, [vocabularySize, dimension]));
  }

  /** ids of any shape (int32, in [0, V)) → the same shape plus a trailing dimension d. */
  apply(ids: tf.Tensor): tf.Tensor {
    return tf.gather(this.table, ids.dtype === "int32" ? ids : tf.cast(ids, "int32"));
  }

  namedVariables(): Array<[string, tf.Variable]> {
    return [[`${this.name}.table`, this.table]];
  }

  dispose(): void {
    this.table.dispose();
  }
}
