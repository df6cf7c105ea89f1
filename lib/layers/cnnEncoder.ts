/**
 * A small convolutional trunk for images that arrive flat (the model contract's 2-D x):
 *   x [batch, H·W·C] → reshape [batch, H, W, C]
 *     → (conv k×k "same" → act → maxpool 2×2) per entry of `filters`
 *     → flatten → Dense layers `dense` (act) → [batch, outputSize].
 * It is a `Block` and also has the `{ apply, variables, outputSize }` shape, so
 * `hardSharing({ trunk: cnnEncoder({...}) })` takes it as the shared trunk. Trains on wasm
 * (see ./wasmKernels).
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Rng } from "../random";
import { Activation, checkActivation } from "./activations";
import { Block } from "./block";
import { Conv2d } from "./conv2d";
import { Dense } from "./dense";
import { maxPool2d } from "./pooling";
import { recordBlockSpec } from "./spec";

/** Options of {@link cnnEncoder}. */
export interface CnnEncoderOptions {
  height: number;
  width: number;
  channels?: number;
  /** Output channels of each conv layer (default [16, 32]); each is followed by 2×2 max pooling. */
  filters?: number[];
  kernelSize?: number;
  /** Dense layers after flattening (default [64]). */
  dense?: number[];
  activation?: Activation;
  seed?: number;
  name?: string;
}

/**
 * A small convolutional trunk for flat images: convolutions with pooling, then dense layers. Build one with
 * {@link cnnEncoder}.
 */
export class CnnEncoder implements Block {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly convs: Conv2d[] = [];
  readonly denses: Dense[] = [];
  /** The image shape of a row: [height, width, channels]. */
  readonly shape: [number, number, number];
  private readonly flat: number;
  private readonly flops: number;

  constructor(options: CnnEncoderOptions) {
    const where = "cnnEncoder";
    checkKnownOptions(where, options, ["height", "width", "channels", "filters", "kernelSize", "dense", "activation", "seed", "name"]);
    recordBlockSpec(this, "cnnEncoder", options);
    checkPositiveInteger(where, "height", options.height);
    checkPositiveInteger(where, "width", options.width);
    const channels = options.channels ?? 1;
    checkPositiveInteger(where, "channels", channels);
    const activation = options.activation ?? "relu";
    checkActivation(where, activation);
    this.name = options.name ?? "cnn";
    const rng = new Rng(options.seed ?? 0);
    this.shape = [options.height, options.width, channels];
    this.inputSize = options.height * options.width * channels;
    let [h, w, c] = this.shape;
    let flops = 0;
    (options.filters ?? [16, 32]).forEach((f, i) => {
      check(h >= 2 && w >= 2, where, () => `conv layer ${i} would pool a ${h}×${w} map; use fewer filters entries or larger images.`);
      const conv = new Conv2d(`${this.name}.conv${i}`, c, f, rng, { kernelSize: options.kernelSize ?? 3, activation });
      flops += conv.flops(h, w);
      this.convs.push(conv);
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
      c = f;
    });
    this.flat = h * w * c;
    let fanIn = this.flat;
    (options.dense ?? [64]).forEach((units, i) => {
      const d = new Dense(`${this.name}.dense${i}`, fanIn, units, rng, { activation });
      flops += d.flopsPerExample();
      this.denses.push(d);
      fanIn = units;
    });
    this.outputSize = fanIn;
    this.flops = flops;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    check(
      x.shape[1] === this.inputSize,
      this.name,
      () => `expects ${this.inputSize} features (${this.shape.join("×")}), got shape [${x.shape}].`,
    );
    return tf.tidy(() => {
      let h = tf.reshape(x, [-1, ...this.shape]) as tf.Tensor4D;
      for (const conv of this.convs) h = maxPool2d(conv.apply(h));
      let z = tf.reshape(h, [-1, this.flat]) as tf.Tensor2D;
      for (const d of this.denses) z = d.apply(z);
      return z;
    });
  }

  /** The trained variables (the `{ apply, variables, outputSize }` shape hardSharing accepts). */
  get variables(): tf.Variable[] {
    return this.namedVariables().map(([, v]) => v);
  }

  namedVariables(): Array<[string, tf.Variable]> {
    return [...this.convs.flatMap((c) => c.namedVariables()), ...this.denses.flatMap((d) => d.namedVariables())];
  }

  flopsPerExample(): number {
    return this.flops;
  }

  dispose(): void {
    for (const c of this.convs) c.dispose();
    for (const d of this.denses) d.dispose();
  }
}

/**
 * A convolutional trunk for images that arrive flat (rows of height·width·channels numbers): conv–pool blocks,
 * then dense layers.
 */
export function cnnEncoder(options: CnnEncoderOptions): CnnEncoder {
  return new CnnEncoder(options);
}
