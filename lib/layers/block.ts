/**
 * A `Block` is any trainable function from a [batch, in] matrix to a [batch, out] matrix with the
 * variables it trains. mtlkit builds blocks from a short spec (layer sizes and an activation), from a
 * tfjs LayersModel, or from a user's function with its variables.
 */
import * as tf from "@tensorflow/tfjs";
import { check, MtlError } from "../errors";
import { Rng } from "../random";
import { Activation, checkActivation } from "./activations";
import { Dense, Initializer } from "./dense";

/**
 * Any trainable function from a [batch, in] matrix to a [batch, out] matrix, with the variables it trains: what
 * a trunk, a tower or a head is.
 */
export interface Block {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  apply(x: tf.Tensor2D, training: boolean): tf.Tensor2D;
  /** Named trainable variables, in a stable order. */
  namedVariables(): Array<[string, tf.Variable]>;
  /** Forward FLOPs per example where known (mtlkit's own layers), else undefined. */
  flopsPerExample(): number | undefined;
  dispose(): void;
}

/** A user-supplied function block: `apply` and the variables it trains. */
export interface FunctionBlockSpec {
  apply: (x: tf.Tensor2D, training: boolean) => tf.Tensor2D;
  variables: tf.Variable[];
  outputSize: number;
}

/** What a trunk or head may be given as. */
export type BlockSpec = number[] | tf.LayersModel | FunctionBlockSpec;

/** Options of an {@link Mlp}: the activations and the initialiser. */
export interface MlpOptions {
  activation?: Activation;
  /** Activation of the last layer (default: same as the others for trunks, linear for heads). */
  outputActivation?: Activation;
  init?: Initializer;
}

/** A stack of Dense layers. */
export class Mlp implements Block {
  readonly layers: Dense[];
  readonly outputSize: number;

  constructor(
    readonly name: string,
    readonly inputSize: number,
    sizes: number[],
    rng: Rng,
    options: MlpOptions = {},
  ) {
    const activation = options.activation ?? "relu";
    checkActivation(name, activation);
    const last = options.outputActivation ?? activation;
    checkActivation(name, last);
    this.layers = [];
    let fanIn = inputSize;
    sizes.forEach((units, i) => {
      check(Number.isInteger(units) && units > 0, name, () => `layer ${i} size must be a positive integer, got ${units}.`);
      this.layers.push(
        new Dense(`${name}.${i}`, fanIn, units, rng, { activation: i === sizes.length - 1 ? last : activation, init: options.init }),
      );
      fanIn = units;
    });
    this.outputSize = fanIn;
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    for (const layer of this.layers) h = layer.apply(h);
    return h;
  }

  namedVariables(): Array<[string, tf.Variable]> {
    return this.layers.flatMap((l) => l.namedVariables());
  }

  flopsPerExample(): number {
    return this.layers.reduce((s, l) => s + l.flopsPerExample(), 0);
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}

/** Wraps a tfjs LayersModel so mtlkit can train it (its own matmul gradients are tfjs's). */
export class LayersModelBlock implements Block {
  readonly inputSize: number;
  readonly outputSize: number;

  constructor(
    readonly name: string,
    readonly model: tf.LayersModel,
    expectedInput: number,
  ) {
    const inShape = model.inputs[0].shape;
    const outShape = model.outputs[0].shape;
    check(
      inShape.length === 2 && outShape.length === 2,
      name,
      () => `a LayersModel block must map [batch, n] to [batch, m]; it maps [${inShape}] to [${outShape}].`,
    );
    this.inputSize = inShape[1] as number;
    this.outputSize = outShape[1] as number;
    check(this.inputSize === expectedInput, name, () => `the LayersModel expects ${this.inputSize} inputs but receives ${expectedInput}.`);
  }

  apply(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return this.model.apply(x, { training }) as tf.Tensor2D;
  }

  namedVariables(): Array<[string, tf.Variable]> {
    // LayerVariable.read() returns the underlying tf.Variable that gradients flow to.
    return this.model.trainableWeights.map((w) => [`${this.name}.${w.name}`, w.read() as tf.Variable]);
  }

  flopsPerExample(): number | undefined {
    return undefined;
  }

  dispose(): void {
    this.model.dispose();
  }
}

export class FunctionBlock implements Block {
  readonly outputSize: number;

  constructor(
    readonly name: string,
    readonly inputSize: number,
    private readonly spec: FunctionBlockSpec,
  ) {
    check(typeof spec.apply === "function", name, () => "a function block needs 'apply: (x, training) => tensor'.");
    check(Array.isArray(spec.variables), name, () => "a function block needs 'variables': the tf.Variables it trains.");
    check(Number.isInteger(spec.outputSize) && spec.outputSize > 0, name, () => "a function block needs 'outputSize', a positive integer.");
    this.outputSize = spec.outputSize;
  }

  apply(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    const y = this.spec.apply(x, training);
    if (y.shape[1] !== this.outputSize) {
      throw new MtlError(this.name, `the function returned shape [${y.shape}] but declared outputSize ${this.outputSize}.`);
    }
    return y;
  }

  /**
   * The variables under the block's name: an mtlkit encoder's own names ("trunk.cnn.conv0.filter"),
   * which say what each variable is (for summaries and `setWeights` layouts), else by position ("trunk.0").
   */
  namedVariables(): Array<[string, tf.Variable]> {
    const own = (this.spec as Partial<Pick<Block, "namedVariables">>).namedVariables;
    if (typeof own === "function") return own.call(this.spec).map(([n, v]): [string, tf.Variable] => [`${this.name}.${n}`, v]);
    return this.spec.variables.map((v, i) => [`${this.name}.${i}`, v]);
  }

  flopsPerExample(): number | undefined {
    return undefined;
  }

  dispose(): void {
    for (const v of this.spec.variables) v.dispose();
  }
}

/** Builds a block from any BlockSpec. */
export function makeBlock(name: string, inputSize: number, spec: BlockSpec, rng: Rng, options: MlpOptions = {}): Block {
  if (Array.isArray(spec)) return new Mlp(name, inputSize, spec, rng, options);
  if (spec instanceof tf.LayersModel) return new LayersModelBlock(name, spec, inputSize);
  if (spec && typeof spec === "object" && typeof (spec as FunctionBlockSpec).apply === "function") {
    return new FunctionBlock(name, inputSize, spec as FunctionBlockSpec);
  }
  throw new MtlError(name, "expected layer sizes (e.g. [64, 64]), a tf.LayersModel, or { apply, variables, outputSize }.");
}
