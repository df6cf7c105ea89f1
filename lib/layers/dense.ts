/**
 * A fully connected layer `y = act(x·W + b)` whose variables mtlkit owns, initialised from a
 * seeded generator, and whose matmul gradients take the backend's fast path (see ops/linear).
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { linear } from "../ops/linear";
import { Rng } from "../random";
import { Activation, activate } from "./activations";

/**
 * Initialisers:
 * - "glorot": W ~ U(−a, a), a = √(6 / (in + out)), b = 0 (Keras' default);
 * - "he":     W ~ N(0, 2 / in) truncated at 2σ, b = 0;
 * - "torch":  W, b ~ U(−1/√in, 1/√in) (PyTorch's nn.Linear default).
 */
export type Initializer = "glorot" | "he" | "torch";

/** Options of a {@link Dense} layer. */
export interface DenseOptions {
  activation?: Activation;
  useBias?: boolean;
  init?: Initializer;
}

/** A trainable variable that owns its memory alone (the initial tensor is released). */
export function ownedVariable<R extends tf.Rank>(initial: tf.Tensor<R>): tf.Variable<R> {
  const v = tf.variable(initial, true);
  initial.dispose();
  return v;
}

/** Typed arrays hold at most 2³¹ − 1 elements on every engine mtlkit supports. */
export const MAX_LAYER_WEIGHTS = 2 ** 31 - 1;

/** A fully connected layer y = act(x·W + b) whose variables mtlkit owns; its matmul gradients take each backend's fast path. */
export class Dense {
  readonly kernel: tf.Variable<tf.Rank.R2>;
  readonly bias?: tf.Variable<tf.Rank.R1>;
  readonly activation: Activation;

  constructor(
    readonly name: string,
    readonly inputSize: number,
    readonly units: number,
    rng: Rng,
    options: DenseOptions = {},
  ) {
    check(
      Number.isInteger(inputSize) && Number.isInteger(units) && inputSize > 0 && units > 0 && inputSize * units <= MAX_LAYER_WEIGHTS,
      name,
      () =>
        `a ${inputSize} × ${units} layer cannot be built: sizes must be positive integers with at most ${MAX_LAYER_WEIGHTS} weights per layer.`,
    );
    this.activation = options.activation ?? "linear";
    const init = options.init ?? "glorot";
    const w = new Float32Array(inputSize * units);
    const b = new Float32Array(units);
    if (init === "glorot") {
      const a = Math.sqrt(6 / (inputSize + units));
      for (let i = 0; i < w.length; i++) w[i] = (2 * rng.uniform() - 1) * a;
    } else if (init === "he") {
      const std = Math.sqrt(2 / inputSize);
      for (let i = 0; i < w.length; i++) {
        let v = rng.normal();
        while (Math.abs(v) > 2) v = rng.normal();
        w[i] = v * std;
      }
    } else {
      const a = 1 / Math.sqrt(inputSize);
      for (let i = 0; i < w.length; i++) w[i] = (2 * rng.uniform() - 1) * a;
      for (let i = 0; i < b.length; i++) b[i] = (2 * rng.uniform() - 1) * a;
    }
    // tfjs variable names are global; mtlkit keeps its own names (see namedVariables).
    this.kernel = ownedVariable(tf.tensor2d(w, [inputSize, units]));
    if (options.useBias ?? true) this.bias = ownedVariable(tf.tensor1d(b));
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    // relu and linear go into the layer's own op (one fused native kernel where available).
    if (this.activation === "relu" || this.activation === "linear") return linear(x, this.kernel, this.bias, this.activation);
    return activate(linear(x, this.kernel, this.bias), this.activation);
  }

  variables(): tf.Variable[] {
    return this.bias ? [this.kernel, this.bias] : [this.kernel];
  }

  namedVariables(): Array<[string, tf.Variable]> {
    const named: Array<[string, tf.Variable]> = [[`${this.name}.kernel`, this.kernel]];
    if (this.bias) named.push([`${this.name}.bias`, this.bias]);
    return named;
  }

  /** Multiply-adds per example of the forward pass. */
  flopsPerExample(): number {
    return 2 * this.inputSize * this.units;
  }

  dispose(): void {
    this.kernel.dispose();
    this.bias?.dispose();
  }
}
