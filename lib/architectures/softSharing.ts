/**
 * Soft parameter sharing: every task has its own network (a tower, then a head), and a
 * regulariser pulls the towers' parameters together instead of sharing them outright:
 *
 *   L_total = Σ_i L_i(θ_i) + λ Σ_i ||θ_i − θ_s||²                      (center form)
 *   L_total = Σ_i L_i(θ_i) + λ Σ_{i<j} ||θ_i − θ_j||²                  (pairwise form;
 *             Duong, Cohn, Bird & Cook, "Low Resource Dependency Parsing: Cross-lingual Parameter
 *             Sharing in a Neural Network Parser", ACL 2015)
 *
 * The penalty is `mtl.regularizers.softSharing(λ, …)` given to the trainer; this model supplies the
 * towers and says which tower layers are tied (`tie`, default all of them).
 *
 * What "shared" means here (the trainer's contract, see types.ts): no computation is shared, so
 * θ_s = the parameters the regulariser couples across tasks: the learned center θ_s (one variable
 * per tied variable) when `center: "learned"`, then every task's copy of the tied tower layers.
 * θ_i = task i's untied tower layers and its head. A task's loss depends only on its own tower, so
 * its gradient with respect to the other towers and to the center is exactly zero: per-task
 * gradients never conflict in parameter space, only the regulariser couples them.
 * The shared representation z = encode(x) is the towers' outputs side by side, [batch, Σ_i h_i];
 * decode applies head i to its own slice.
 *
 * The center: "learned" (default) makes θ_s a variable trained jointly (initialised at the towers'
 * mean; its gradient comes from the penalty alone, and at the optimum of the L2 penalty it equals
 * the mean). "mean" uses θ̄ = (1/k) Σ_i θ_i; gradient flows through the mean, which for the L2
 * distance changes nothing, since ∂/∂θ_j Σ_i ||θ_i − θ̄||² = 2(θ_j − θ̄) − (2/k) Σ_i (θ_i − θ̄) and
 * the last sum is 0. With the mean, the center form is the pairwise form divided by k:
 * Σ_{i<j} ||θ_i − θ_j||² = k Σ_i ||θ_i − θ̄||².
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger, MtlError } from "../errors";
import { Activation, checkActivation } from "../layers/activations";
import { Block, makeBlock, Mlp } from "../layers/block";
import { Initializer } from "../layers/dense";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { checkSizes, checkTasks, isSizes, perTask, splitColumns, sumFlops } from "./parts";
import { refuseNamedInputs } from "./namedInputs";
import { CenterKind, TiedGroup, TiedModel } from "./tied";
import { BaseModel } from "./types";

/** Options of {@link softSharing}. */
export interface SoftSharingOptions {
  inputSize: number;
  tasks: Task[];
  /** Each task's tower: hidden layer sizes for all tasks (e.g. [64, 32]), or per task name. */
  towers: number[] | Record<string, number[]>;
  /** Hidden layers of each head before its output layer (default none). */
  heads?: number[];
  /** Tower layers tied by the regulariser: "all" (default) or layer indices. Tied layers must have the same shape in every tower. */
  tie?: "all" | number[];
  /** θ_s: a learned variable (default) or the towers' mean. */
  center?: CenterKind;
  activation?: Activation;
  init?: Initializer;
  seed?: number;
}

const OPTIONS = ["inputSize", "tasks", "towers", "heads", "tie", "center", "activation", "init", "seed"] as const;

/**
 * A soft-sharing model: one tower and head per task, tied by a regularizer rather than shared. Build one with
 * {@link softSharing}.
 */
export class SoftSharingModel extends BaseModel implements TiedModel {
  readonly architecture = "softSharing";
  readonly taskNames: readonly string[];
  readonly inputSize: number;
  readonly towers: Mlp[];
  readonly heads: Block[];
  readonly center: CenterKind;
  readonly tiedLayers: readonly number[];
  /** Learned centers by tied variable name ("0.kernel"), when center = "learned". */
  readonly centers: Map<string, tf.Variable>;

  constructor(options: SoftSharingOptions) {
    super();
    this.recordOptions(options);
    const where = "softSharing";
    refuseNamedInputs(
      where,
      options,
      "soft sharing gives every task its own tower from the input, tied only by a regulariser; encoders shared by all tasks would be hard-shared parameters in front of it",
    );
    checkKnownOptions(where, options, OPTIONS);
    checkPositiveInteger(where, "inputSize", options.inputSize);
    checkTasks(where, options.tasks);
    this.inputSize = options.inputSize;
    this.taskNames = options.tasks.map((t) => t.name);
    const activation = options.activation ?? "relu";
    checkActivation(where, activation);
    const center = options.center ?? "learned";
    check(
      center === "learned" || center === "mean",
      where,
      () => `option 'center' must be "learned" or "mean", got ${JSON.stringify(center)}.`,
    );
    this.center = center;
    const towerSizes = perTask(where, "towers", options.towers, this.taskNames, isSizes);
    towerSizes.forEach((s, i) => checkSizes(where, `towers (task '${this.taskNames[i]}')`, s, false));
    const heads = options.heads ?? [];
    checkSizes(where, "heads", heads);

    const depth = Math.min(...towerSizes.map((s) => s.length));
    const tie = options.tie ?? "all";
    let tied: number[];
    if (tie === "all") {
      const first = towerSizes[0].length;
      check(
        towerSizes.every((s) => s.length === first),
        where,
        () =>
          `tie: "all" needs towers of the same depth, but they have ${towerSizes.map((s, i) => `${s.length} layers (task '${this.taskNames[i]}')`).join(", ")}; list the layers to tie.`,
      );
      tied = Array.from({ length: first }, (_, l) => l);
    } else {
      check(
        Array.isArray(tie) && tie.every((l) => Number.isInteger(l) && l >= 0),
        where,
        () => `option 'tie' must be "all" or a list of tower layer indices, got ${JSON.stringify(tie)}.`,
      );
      tied = [...new Set(tie)].sort((a, b) => a - b);
      for (const l of tied)
        check(l < depth, where, () => `option 'tie' names layer ${l}, but the shallowest tower has ${depth} layers (0..${depth - 1}).`);
    }
    // A tied layer must have the same shape in every tower: its input width (the previous layer's) and its own.
    for (const l of tied) {
      const shape = (s: number[]) => [l === 0 ? options.inputSize : s[l - 1], s[l]];
      const ref = shape(towerSizes[0]);
      towerSizes.forEach((s, i) => {
        const own = shape(s);
        if (own[0] !== ref[0] || own[1] !== ref[1]) {
          throw new MtlError(
            where,
            `towers of different shapes cannot be tied: layer ${l} is [${own}] in the tower of task '${this.taskNames[i]}' but [${ref}] in task '${this.taskNames[0]}''s.`,
          );
        }
      });
    }
    this.tiedLayers = tied;

    const rng = new Rng(options.seed ?? 0);
    this.towers = options.tasks.map(
      (t, i) => new Mlp(`tower.${t.name}`, options.inputSize, towerSizes[i], rng, { activation, init: options.init }),
    );
    this.heads = options.tasks.map((t, i) =>
      makeBlock(`head.${t.name}`, this.towers[i].outputSize, [...heads, t.outputUnits], rng, {
        activation,
        outputActivation: "linear",
        init: options.init,
      }),
    );
    this.centers = new Map();
    if (center === "learned") {
      for (const group of this.groupsWithoutCenter()) {
        // Start θ_s at the towers' mean, so the penalty starts as the mean form's.
        this.centers.set(
          group.name,
          tf.tidy(() => tf.variable(tf.mean(tf.stack(group.members), 0), true)),
        );
      }
    }
  }

  private groupsWithoutCenter(): TiedGroup[] {
    const groups: TiedGroup[] = [];
    for (const l of this.tiedLayers) {
      const layers = this.towers.map((t) => t.layers[l]);
      groups.push({ name: `${l}.kernel`, layer: l, members: layers.map((d) => d.kernel) });
      if (layers[0].bias) groups.push({ name: `${l}.bias`, layer: l, members: layers.map((d) => d.bias!) });
    }
    return groups;
  }

  tiedGroups(): TiedGroup[] {
    return this.groupsWithoutCenter().map((g) => ({ ...g, center: this.centers.get(g.name) }));
  }

  /** z = [tower_1(x), …, tower_k(x)], side by side. */
  encode(x: tf.Tensor2D, _training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const outs = this.towers.map((t) => t.apply(x));
      return outs.length === 1 ? outs[0] : tf.concat(outs, 1);
    });
  }

  decode(z: tf.Tensor2D, _x: tf.Tensor2D, training: boolean): tf.Tensor2D[] {
    const parts = splitColumns(
      z,
      this.towers.map((t) => t.outputSize),
    );
    return this.heads.map((h, i) => h.apply(parts[i], training));
  }

  sharedVariables(): Array<[string, tf.Variable]> {
    const tied = this.towers.flatMap((t) => this.tiedLayers.flatMap((l) => t.layers[l].namedVariables()));
    const centers = [...this.centers].map(([name, v]) => [`center.${name}`, v] as [string, tf.Variable]);
    // Centers first: methods that read "the last shared kernel" (GradNorm) then see a tower's layer.
    return [...centers, ...tied];
  }

  taskVariables(taskIndex: number): Array<[string, tf.Variable]> {
    const tower = this.towers[taskIndex];
    const untied = tower.layers.filter((_, l) => !this.tiedLayers.includes(l)).flatMap((d) => d.namedVariables());
    return [...untied, ...this.heads[taskIndex].namedVariables()];
  }

  /**
   * ||θ_i − θ_j||₂ over the tied variables, for every pair of towers (k × k, symmetric). Reads
   * synchronously: on a backend that reads only asynchronously (webgpu) use {@link towerDistancesAsync}.
   */
  towerDistances(): number[][] {
    return readsSync(this.readTowerDistances());
  }

  /** {@link towerDistances} with awaited reads, for every backend. */
  towerDistancesAsync(): Promise<number[][]> {
    return readsAsync(this.readTowerDistances());
  }

  private *readTowerDistances(): Reads<number[][]> {
    const k = this.towers.length;
    const d = Array.from({ length: k }, () => new Array<number>(k).fill(0));
    const groups = this.groupsWithoutCenter();
    if (groups.length === 0) return d;
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) pairs.push([i, j]);
    // One read for all pairs: the squared distances side by side.
    const squared = yield tf.tidy(() =>
      tf.stack(pairs.map(([i, j]) => tf.addN(groups.map((g) => tf.sum(tf.squaredDifference(g.members[i], g.members[j])))))),
    );
    pairs.forEach(([i, j], p) => (d[i][j] = d[j][i] = Math.sqrt(squared[p])));
    return d;
  }

  flopsPerExample(): number | undefined {
    return sumFlops([...this.towers, ...this.heads].map((b) => b.flopsPerExample()));
  }

  dispose(): void {
    for (const b of [...this.towers, ...this.heads]) b.dispose();
    for (const v of this.centers.values()) v.dispose();
  }
}

/** Builds a soft-sharing model: one tower and head per task, tied by `mtl.regularizers.softSharing`. */
export function softSharing(options: SoftSharingOptions): SoftSharingModel {
  return new SoftSharingModel(options);
}
