/**
 * A convolutional text encoder (Kim 2014 style, with "same" padding so every token keeps a vector)
 * for token ids that arrive flat as the model contract's 2-D x [batch, T] (ids as numbers, 0 =
 * padding):
 *   e = Embedding(ids) ∈ R^{T×d}
 *   h⁽ˡ⁾ = act(conv1d_k(h⁽ˡ⁻¹⁾) + b) · m          (l = 1..L, h⁽⁰⁾ = e, m = 1 on real tokens)
 *   pooled = masked max over time of h⁽ᴸ⁾ ∈ R^c
 * Output (`output` option): "pooled" [batch, c], "tokens" [batch, T·c] (h⁽ᴸ⁾ row by row), or
 * "both" [batch, c + T·c] (pooled first). With `causal: true` the convolutions only look left
 * (padding k−1 on the left), so token t's vector never sees tokens after t — what next-token
 * prediction needs. The conv1d runs as a conv2d over a 1×T image, whose filter gradient mtlkit
 * registers for wasm.
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Rng } from "../random";
import { Activation, activate, checkActivation } from "./activations";
import { Block } from "./block";
import { ownedVariable } from "./dense";
import { Embedding } from "./embedding";
import { maskedMaxOverTime } from "./pooling";
import "../native/wasmKernels";
import { recordBlockSpec } from "./spec";

/** Options of {@link textEncoder}. */
export interface TextEncoderOptions {
  /** Tokens per example T. */
  sequenceLength: number;
  /** Vocabulary size V (ids in [0, V), 0 = padding). */
  vocabularySize: number;
  embeddingSize?: number;
  /** Channels of each conv layer (default [64]). */
  channels?: number[];
  kernelSize?: number;
  causal?: boolean;
  output?: "pooled" | "tokens" | "both";
  activation?: Activation;
  seed?: number;
  name?: string;
}

/**
 * A convolutional text encoder: embedding, convolutions over tokens, and pooled or per-token output. Build one
 * with {@link textEncoder}.
 */
export class TextCnnEncoder implements Block {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly embedding: Embedding;
  readonly filters: tf.Variable<tf.Rank.R4>[] = [];
  readonly biases: tf.Variable<tf.Rank.R1>[] = [];
  readonly channels: number;
  readonly output: "pooled" | "tokens" | "both";
  private readonly kernelSize: number;
  private readonly causal: boolean;
  private readonly activation: Activation;
  private readonly flops: number;

  constructor(options: TextEncoderOptions) {
    const where = "textEncoder";
    checkKnownOptions(where, options, [
      "sequenceLength",
      "vocabularySize",
      "embeddingSize",
      "channels",
      "kernelSize",
      "causal",
      "output",
      "activation",
      "seed",
      "name",
    ]);
    recordBlockSpec(this, "textEncoder", options);
    checkPositiveInteger(where, "sequenceLength", options.sequenceLength);
    checkPositiveInteger(where, "vocabularySize", options.vocabularySize);
    this.name = options.name ?? "text";
    this.inputSize = options.sequenceLength;
    this.kernelSize = options.kernelSize ?? 3;
    checkPositiveInteger(where, "kernelSize", this.kernelSize);
    this.causal = options.causal ?? false;
    this.output = options.output ?? "pooled";
    check(
      ["pooled", "tokens", "both"].includes(this.output),
      where,
      () => `option 'output' must be "pooled", "tokens" or "both", got ${JSON.stringify(this.output)}.`,
    );
    this.activation = options.activation ?? "relu";
    checkActivation(where, this.activation);
    const rng = new Rng(options.seed ?? 0);
    const d = options.embeddingSize ?? 32;
    this.embedding = new Embedding(`${this.name}.embedding`, options.vocabularySize, d, rng);
    let c = d;
    let flops = 0;
    const T = options.sequenceLength;
    for (const [i, out] of (options.channels ?? [64]).entries()) {
      checkPositiveInteger(where, `channels[${i}]`, out);
      const a = Math.sqrt(6 / (this.kernelSize * (c + out)));
      const w = Float32Array.from({ length: this.kernelSize * c * out }, () => (2 * rng.uniform() - 1) * a);
      this.filters.push(ownedVariable(tf.tensor4d(w, [1, this.kernelSize, c, out])));
      this.biases.push(ownedVariable(tf.zeros([out])));
      flops += 2 * T * this.kernelSize * c * out;
      c = out;
    }
    this.channels = c;
    this.flops = flops;
    this.outputSize = this.output === "pooled" ? c : this.output === "tokens" ? T * c : c + T * c;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    check(x.shape[1] === this.inputSize, this.name, () => `expects ${this.inputSize} token ids per row, got shape [${x.shape}].`);
    return tf.tidy(() => {
      const T = this.inputSize;
      const ids = tf.cast(x, "int32");
      const mask = tf.cast(tf.greater(ids, 0), "float32") as tf.Tensor2D;
      const m4 = tf.reshape(mask, [-1, 1, T, 1]);
      let h = tf.expandDims(this.embedding.apply(ids), 1) as tf.Tensor4D; // [b, 1, T, d]
      const k = this.kernelSize;
      this.filters.forEach((filter, i) => {
        let input = h;
        let padding: "same" | "valid" = "same";
        if (this.causal && k > 1) {
          input = tf.pad(h, [
            [0, 0],
            [0, 0],
            [k - 1, 0],
            [0, 0],
          ]);
          padding = "valid";
        }
        const conv = tf.add(tf.conv2d(input, filter, 1, padding), this.biases[i]) as tf.Tensor4D;
        h = tf.mul(activate(conv, this.activation), m4) as tf.Tensor4D;
      });
      const c = this.channels;
      const tokens = tf.reshape(h, [-1, T, c]) as tf.Tensor3D;
      if (this.output === "tokens") return tf.reshape(tokens, [-1, T * c]) as tf.Tensor2D;
      const pooled = maskedMaxOverTime(tokens, mask);
      if (this.output === "pooled") return pooled;
      return tf.concat([pooled, tf.reshape(tokens, [-1, T * c])], 1) as tf.Tensor2D;
    });
  }

  get variables(): tf.Variable[] {
    return this.namedVariables().map(([, v]) => v);
  }

  namedVariables(): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = this.embedding.namedVariables();
    this.filters.forEach((f, i) => out.push([`${this.name}.conv${i}.filter`, f], [`${this.name}.conv${i}.bias`, this.biases[i]]));
    return out;
  }

  flopsPerExample(): number {
    return this.flops;
  }

  dispose(): void {
    this.embedding.dispose();
    for (const v of [...this.filters, ...this.biases]) v.dispose();
  }
}

/**
 * A convolutional text encoder (Kim 2014 style, "same" padding, optionally causal): token ids in, a pooled
 * vector or one vector per token out.
 */
export function textEncoder(options: TextEncoderOptions): TextCnnEncoder {
  return new TextCnnEncoder(options);
}
