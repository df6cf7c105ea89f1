/**
 * A 2-D convolution layer over NHWC images, y = act(conv2d(x, K) + b), K ∈ R^{kh×kw×cin×cout}.
 * Its filter gradient (Conv2DBackpropFilter) is registered for wasm by ./wasmKernels (im2col and
 * one matrix product), so it trains on every backend. Glorot-uniform initialisation with
 * fan_in = kh·kw·cin and fan_out = kh·kw·cout (Keras' Conv2D default); bias 0.
 *
 * With a relu or linear activation and mtlkit's native kernels active (lib/native), the layer is one
 * tape node: forward one FusedConv2D (convolution, bias and activation), backward one
 * MtlkitDenseGrad (relu's gradient and the bias gradient, summed over batch and positions, in one
 * pass) and the two convolution gradients, instead of tfjs's conv, add, relu and their gradients.
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { Rng } from "../random";
import { ownedVariable } from "./dense";
import { activate, Activation, checkActivation } from "./activations";
import { DENSE_GRAD } from "../native/denseKernels";
import { engineWithKernelFunc, fusedDenseActive, KernelFuncEngine, LazyGrads } from "../ops/linear";
import "../native/wasmKernels";

/** Options of a {@link Conv2d} layer. */
export interface Conv2dOptions {
  kernelSize?: number | [number, number];
  strides?: number | [number, number];
  padding?: "same" | "valid";
  activation?: Activation;
}

/** A 2-D convolution layer over NHWC images, y = act(conv2d(x, K) + b), whose variables mtlkit owns. */
export class Conv2d {
  readonly filter: tf.Variable<tf.Rank.R4>;
  readonly bias: tf.Variable<tf.Rank.R1>;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: "same" | "valid";
  readonly activation: Activation;

  constructor(
    readonly name: string,
    readonly inChannels: number,
    readonly outChannels: number,
    rng: Rng,
    options: Conv2dOptions = {},
  ) {
    const k = options.kernelSize ?? 3;
    this.kernelSize = Array.isArray(k) ? k : [k, k];
    const s = options.strides ?? 1;
    this.strides = Array.isArray(s) ? s : [s, s];
    this.padding = options.padding ?? "same";
    this.activation = options.activation ?? "relu";
    checkActivation(name, this.activation);
    check(
      [inChannels, outChannels, ...this.kernelSize, ...this.strides].every((v) => Number.isInteger(v) && v > 0),
      name,
      () =>
        `channels, kernel size and strides must be positive integers, got in ${inChannels}, out ${outChannels}, kernel [${this.kernelSize}], strides [${this.strides}].`,
    );
    check(
      this.padding === "same" || this.padding === "valid",
      name,
      () => `padding must be "same" or "valid", got ${JSON.stringify(this.padding)}.`,
    );
    const [kh, kw] = this.kernelSize;
    const a = Math.sqrt(6 / (kh * kw * (inChannels + outChannels)));
    const w = new Float32Array(kh * kw * inChannels * outChannels);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.uniform() - 1) * a;
    this.filter = ownedVariable(tf.tensor4d(w, [kh, kw, inChannels, outChannels]));
    this.bias = ownedVariable(tf.zeros([outChannels]));
  }

  /** x: [batch, height, width, inChannels]. */
  apply(x: tf.Tensor4D): tf.Tensor4D {
    check(x.shape[3] === this.inChannels, this.name, () => `expects ${this.inChannels} input channels, got shape [${x.shape}].`);
    if ((this.activation === "relu" || this.activation === "linear") && fusedDenseActive()) {
      const engine = engineWithKernelFunc();
      if (engine) return this.applyFused(engine, x, this.activation);
    }
    return activate(tf.add(tf.conv2d(x, this.filter, this.strides, this.padding), this.bias) as tf.Tensor4D, this.activation);
  }

  private applyFused(engine: KernelFuncEngine, x: tf.Tensor4D, activation: "relu" | "linear"): tf.Tensor4D {
    const relu = activation === "relu";
    const geometry = { strides: this.strides, pad: this.padding, dataFormat: "NHWC" };
    return engine.runKernelFunc({
      inputs: { x, filter: this.filter, bias: this.bias },
      forwardFunc: (_backend, save) => {
        const y = tf
          .engine()
          .runKernel(
            "FusedConv2D",
            { x, filter: this.filter, bias: this.bias },
            { ...geometry, dilations: [1, 1], activation },
          ) as tf.Tensor4D;
        save(relu ? [x, this.filter, y] : [x, this.filter]);
        return y;
      },
      backwardsFunc: (dy, saved) => {
        const [sx, sf] = saved;
        const out = tf.engine().runKernel(DENSE_GRAD, relu ? { dy, y: saved[2] } : { dy }, { activation, bias: true });
        const list = Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
        const dz = relu ? list[0] : dy;
        const db = list[list.length - 1];
        const grads: LazyGrads = {
          x: () => tf.engine().runKernel("Conv2DBackpropInput", { dy: dz, filter: sf }, { ...geometry, inputShape: sx.shape }) as tf.Tensor,
          filter: () =>
            tf.engine().runKernel("Conv2DBackpropFilter", { x: sx, dy: dz }, { ...geometry, filterShape: sf.shape }) as tf.Tensor,
          bias: () => db,
        };
        return grads;
      },
    }) as tf.Tensor4D;
  }

  /** Output height and width for an input of the given size. */
  outputSize(height: number, width: number): [number, number] {
    const [sh, sw] = this.strides;
    if (this.padding === "same") return [Math.ceil(height / sh), Math.ceil(width / sw)];
    return [Math.ceil((height - this.kernelSize[0] + 1) / sh), Math.ceil((width - this.kernelSize[1] + 1) / sw)];
  }

  /** Multiply-adds ×2 per example for an output of oh × ow. */
  flops(oh: number, ow: number): number {
    return 2 * oh * ow * this.kernelSize[0] * this.kernelSize[1] * this.inChannels * this.outChannels;
  }

  namedVariables(): Array<[string, tf.Variable]> {
    return [
      [`${this.name}.filter`, this.filter],
      [`${this.name}.bias`, this.bias],
    ];
  }

  dispose(): void {
    this.filter.dispose();
    this.bias.dispose();
  }
}
