/**
 * Cross-stitch networks (Misra, Shrivastava, Gupta & Hebert, "Cross-stitch Networks for Multi-task
 * Learning", CVPR 2016). Each task has its own tower; after chosen tower layers a cross-stitch unit
 * mixes the k towers' activations with a learned k × k matrix α:
 *
 *   h̃_i = Σ_j α_ij h_j          (for two tasks: [h̃_A; h̃_B] = [α_AA α_AB; α_BA α_BB] [h_A; h_B])
 *
 * α starts near the identity: α_ii = a, α_ij = (1 − a)/(k − 1), so each row is a convex
 * combination (the paper's best initialisation for two tasks is (α_S, α_D) = (0.9, 0.1), a = 0.9);
 * an explicit k × k matrix may be given instead (the identity gives k independent towers).
 * Readings: the paper mixes per channel of a conv layer with one α per task pair; for dense layers
 * we use one scalar α_ij per pair and unit, shared by every unit of the layer, as the paper does
 * per layer. The paper trains α with a larger learning rate than the towers; mtlkit's trainer uses
 * one optimizer, so α learns at the common rate (Adam's per-parameter scaling keeps it moving).
 * `alphas()` reads the learned matrices back.
 *
 * Shared and task parameters (the trainer's contract, see types.ts): every tower layer up to the
 * last cross-stitch unit feeds every task through α, so θ_s = those layers of all towers and the α
 * matrices; θ_i = task i's tower layers after the last unit and its head. The shared
 * representation z = encode(x) is the k towers' activations after the last unit, side by side
 * ([batch, k·h]); decode gives slice i to task i's remaining layers and head.
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Activation, checkActivation } from "../layers/activations";
import { Block, makeBlock } from "../layers/block";
import { Dense, Initializer, ownedVariable } from "../layers/dense";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { checkSizes, checkTasks, splitColumns, sumFlops } from "./parts";
import { refuseNamedInputs } from "./namedInputs";
import { BaseModel } from "./types";

/** Options of {@link crossStitch}. */
export interface CrossStitchOptions {
  inputSize: number;
  tasks: Task[];
  /** Hidden layer sizes of every task's tower (the towers have the same shape so they can be mixed). */
  towers: number[];
  /** Hidden layers of each head before its output layer (default none). */
  heads?: number[];
  /** Tower layers followed by a cross-stitch unit: "all" (default) or layer indices. */
  stitch?: "all" | number[];
  /** α's initial diagonal a (default 0.9; off-diagonal (1 − a)/(k − 1)), or the full k × k matrix. */
  alphaInit?: number | number[][];
  activation?: Activation;
  init?: Initializer;
  seed?: number;
}

const OPTIONS = ["inputSize", "tasks", "towers", "heads", "stitch", "alphaInit", "activation", "init", "seed"] as const;

/**
 * A cross-stitch network (Misra et al., CVPR 2016): task towers mixed after chosen layers by learned α matrices.
 * Build one with {@link crossStitch}.
 */
export class CrossStitchModel extends BaseModel {
  readonly architecture = "crossStitch";
  readonly taskNames: readonly string[];
  readonly inputSize: number;
  /** layers[l][i]: layer l of task i's tower. */
  readonly layers: Dense[][];
  readonly heads: Block[];
  /** Layer indices followed by a unit, ascending. */
  readonly stitchedLayers: readonly number[];
  /** α per stitched layer, [k, k]; row i gives task i's mix. */
  readonly alphaVariables: tf.Variable<tf.Rank.R2>[];
  private readonly lastStitch: number;

  constructor(options: CrossStitchOptions) {
    super();
    this.recordOptions(options);
    const where = "crossStitch";
    refuseNamedInputs(
      where,
      options,
      "cross-stitch networks give every task its own tower from the input and learn how the towers mix layer by layer; encoders shared by all tasks would be hard-shared parameters in front of the towers",
    );
    checkKnownOptions(where, options, OPTIONS);
    checkPositiveInteger(where, "inputSize", options.inputSize);
    checkTasks(where, options.tasks);
    checkSizes(where, "towers", options.towers, false);
    const heads = options.heads ?? [];
    checkSizes(where, "heads", heads);
    const activation = options.activation ?? "relu";
    checkActivation(where, activation);
    this.inputSize = options.inputSize;
    this.taskNames = options.tasks.map((t) => t.name);
    const k = options.tasks.length;
    const depth = options.towers.length;
    const stitch = options.stitch ?? "all";
    if (stitch === "all") this.stitchedLayers = Array.from({ length: depth }, (_, l) => l);
    else {
      check(
        Array.isArray(stitch) && stitch.length > 0 && stitch.every((l) => Number.isInteger(l) && l >= 0 && l < depth),
        where,
        () => `option 'stitch' must be "all" or a non-empty list of tower layer indices in 0..${depth - 1}, got ${JSON.stringify(stitch)}.`,
      );
      this.stitchedLayers = [...new Set(stitch)].sort((a, b) => a - b);
    }
    this.lastStitch = this.stitchedLayers[this.stitchedLayers.length - 1];
    const alpha0 = initialAlpha(where, options.alphaInit ?? 0.9, k);

    const rng = new Rng(options.seed ?? 0);
    // Tower by tower, so each task's initial tower does not depend on the number of tasks.
    const towers = options.tasks.map((t) => {
      let fanIn = options.inputSize;
      return options.towers.map((units, l) => {
        const d = new Dense(`tower.${t.name}.${l}`, fanIn, units, rng, { activation, init: options.init });
        fanIn = units;
        return d;
      });
    });
    this.layers = options.towers.map((_, l) => towers.map((tw) => tw[l]));
    const width = options.towers[depth - 1];
    this.heads = options.tasks.map((t) =>
      makeBlock(`head.${t.name}`, width, [...heads, t.outputUnits], rng, { activation, outputActivation: "linear", init: options.init }),
    );
    this.alphaVariables = this.stitchedLayers.map(() => ownedVariable(tf.tensor2d(alpha0)));
  }

  /** The tower layers and units up to the last unit; z = [h̃_1, …, h̃_k] there. */
  encode(x: tf.Tensor2D, _training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      let hs: tf.Tensor2D[] = this.taskNames.map(() => x);
      for (let l = 0; l <= this.lastStitch; l++) {
        hs = hs.map((h, i) => this.layers[l][i].apply(h));
        const u = this.stitchedLayers.indexOf(l);
        if (u >= 0) hs = stitchActivations(this.alphaVariables[u], hs);
      }
      return hs.length === 1 ? hs[0] : tf.concat(hs, 1);
    });
  }

  decode(z: tf.Tensor2D, _x: tf.Tensor2D, training: boolean): tf.Tensor2D[] {
    const width = this.layers[this.lastStitch][0].units;
    const parts = splitColumns(
      z,
      this.taskNames.map(() => width),
    );
    return parts.map((h, i) => {
      for (let l = this.lastStitch + 1; l < this.layers.length; l++) h = this.layers[l][i].apply(h);
      return this.heads[i].apply(h, training);
    });
  }

  /**
   * The learned α matrices, one k × k per unit (row i: how task i mixes the towers). Reads
   * synchronously: on a backend that reads only asynchronously (webgpu) use {@link alphasAsync}.
   */
  alphas(): number[][][] {
    return readsSync(this.readAlphas());
  }

  /** {@link alphas} with awaited reads, for every backend. */
  alphasAsync(): Promise<number[][][]> {
    return readsAsync(this.readAlphas());
  }

  private *readAlphas(): Reads<number[][][]> {
    const k = this.taskNames.length;
    const result: number[][][] = [];
    for (const a of this.alphaVariables) {
      // A copy: the reads driver disposes what it reads, and the variable must live on.
      const values = yield tf.clone(a);
      result.push(Array.from({ length: k }, (_, i) => Array.from(values.subarray(i * k, (i + 1) * k))));
    }
    return result;
  }

  sharedVariables(): Array<[string, tf.Variable]> {
    const towers = this.layers.slice(0, this.lastStitch + 1).flatMap((row) => row.flatMap((d) => d.namedVariables()));
    const alphas = this.alphaVariables.map((a, u) => [`stitch.${this.stitchedLayers[u]}.alpha`, a] as [string, tf.Variable]);
    return [...towers, ...alphas];
  }

  taskVariables(taskIndex: number): Array<[string, tf.Variable]> {
    const rest = this.layers.slice(this.lastStitch + 1).flatMap((row) => row[taskIndex].namedVariables());
    return [...rest, ...this.heads[taskIndex].namedVariables()];
  }

  /** Towers and heads, plus 2k multiply-adds per unit and activation per task for each stitch. */
  flopsPerExample(): number | undefined {
    const k = this.taskNames.length;
    const stitches = this.stitchedLayers.reduce((s, l) => s + 2 * k * k * this.layers[l][0].units, 0);
    return sumFlops([...this.layers.flat().map((d) => d.flopsPerExample()), ...this.heads.map((h) => h.flopsPerExample()), stitches]);
  }

  dispose(): void {
    for (const d of this.layers.flat()) d.dispose();
    for (const h of this.heads) h.dispose();
    for (const a of this.alphaVariables) a.dispose();
  }
}

/** h̃_i = Σ_j α_ij h_j for k activations of the same shape, as one [k,k]·[k, batch·h] product. */
export function stitchActivations(alpha: tf.Tensor2D, hs: tf.Tensor2D[]): tf.Tensor2D[] {
  return tf.tidy(() => {
    const [batch, width] = hs[0].shape;
    const flat = tf.reshape(tf.stack(hs), [hs.length, batch * width]);
    const mixed = tf.matMul(alpha, flat);
    return tf.unstack(tf.reshape(mixed, [hs.length, batch, width])) as tf.Tensor2D[];
  });
}

function initialAlpha(where: string, init: number | number[][], k: number): number[][] {
  if (typeof init === "number") {
    check(Number.isFinite(init), where, () => `option 'alphaInit' must be a finite number or a ${k} × ${k} matrix, got ${init}.`);
    if (k === 1) return [[1]];
    const off = (1 - init) / (k - 1);
    return Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => (i === j ? init : off)));
  }
  check(
    Array.isArray(init) && init.length === k && init.every((r) => Array.isArray(r) && r.length === k && r.every(Number.isFinite)),
    where,
    () => `option 'alphaInit' as a matrix must be ${k} × ${k} (one row and column per task) of finite numbers.`,
  );
  return init.map((r) => [...r]);
}

/** Builds a cross-stitch network: one tower per task, mixed after each chosen layer by a learned α. */
export function crossStitch(options: CrossStitchOptions): CrossStitchModel {
  return new CrossStitchModel(options);
}
