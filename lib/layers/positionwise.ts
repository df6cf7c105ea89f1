/**
 * A head that applies one Dense layer at each of P positions of a representation laid out as
 * [offset columns to skip | P blocks of `width` columns]:
 *   out[b, p·units + j] = (W · z[b, offset + p·width : offset + (p+1)·width] + bias)_j
 * With P = 1 it reads one slice (e.g. the pooled part of a text encoder's "both" output); with
 * P = T it is a per-token classifier (POS tagging, next-token prediction) sharing W over tokens.
 * The matmul goes through ops/linear (the fast path).
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Rng } from "../random";
import { Block } from "./block";
import { Dense } from "./dense";
import { recordBlockSpec } from "./spec";

/** Options of {@link positionwiseHead}. */
export interface PositionwiseOptions {
  /** Columns per position. */
  width: number;
  /** Outputs per position. */
  units: number;
  /** Number of positions P (default 1). */
  positions?: number;
  /** Leading columns to skip (default 0). */
  offset?: number;
  /** Hidden layer sizes before the output layer, applied per position (default none). */
  hidden?: number[];
  seed?: number;
  name?: string;
}

/**
 * One Dense stack applied at each of P positions of a representation (e.g. per token). Build one with {@link
 * positionwiseHead}.
 */
export class PositionwiseDense implements Block {
  readonly name: string;
  readonly inputSize: number;
  readonly outputSize: number;
  readonly layers: Dense[] = [];
  private readonly width: number;
  private readonly positions: number;
  private readonly offset: number;

  constructor(options: PositionwiseOptions) {
    const where = "positionwiseHead";
    checkKnownOptions(where, options, ["width", "units", "positions", "offset", "hidden", "seed", "name"]);
    recordBlockSpec(this, "positionwiseHead", options);
    checkPositiveInteger(where, "width", options.width);
    checkPositiveInteger(where, "units", options.units);
    this.positions = options.positions ?? 1;
    checkPositiveInteger(where, "positions", this.positions);
    this.offset = options.offset ?? 0;
    check(
      Number.isInteger(this.offset) && this.offset >= 0,
      where,
      () => `option 'offset' must be a non-negative integer, got ${options.offset}.`,
    );
    this.name = options.name ?? "positionwise";
    this.width = options.width;
    this.inputSize = this.offset + this.positions * this.width;
    const rng = new Rng(options.seed ?? 0);
    let fanIn = this.width;
    const sizes = [...(options.hidden ?? []), options.units];
    sizes.forEach((units, i) => {
      this.layers.push(new Dense(`${this.name}.${i}`, fanIn, units, rng, { activation: i === sizes.length - 1 ? "linear" : "relu" }));
      fanIn = units;
    });
    this.outputSize = this.positions * options.units;
  }

  apply(z: tf.Tensor2D): tf.Tensor2D {
    check(
      z.shape[1] !== undefined && z.shape[1] >= this.inputSize,
      this.name,
      () =>
        `expects at least ${this.inputSize} columns (offset ${this.offset} + ${this.positions} × ${this.width}), got shape [${z.shape}].`,
    );
    return tf.tidy(() => {
      const part = tf.slice(z, [0, this.offset], [-1, this.positions * this.width]);
      let h = tf.reshape(part, [-1, this.width]) as tf.Tensor2D;
      for (const layer of this.layers) h = layer.apply(h);
      return tf.reshape(h, [-1, this.outputSize]) as tf.Tensor2D;
    });
  }

  get variables(): tf.Variable[] {
    return this.namedVariables().map(([, v]) => v);
  }

  namedVariables(): Array<[string, tf.Variable]> {
    return this.layers.flatMap((l) => l.namedVariables());
  }

  flopsPerExample(): number {
    return this.positions * this.layers.reduce((s, l) => s + l.flopsPerExample(), 0);
  }

  dispose(): void {
    for (const l of this.layers) l.dispose();
  }
}

/**
 * A head that applies the same Dense layers at each of P positions of the representation (per-token heads for
 * sequence tagging).
 */
export function positionwiseHead(options: PositionwiseOptions): PositionwiseDense {
  return new PositionwiseDense(options);
}
