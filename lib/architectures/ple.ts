/**
 * Customized Gate Control (CGC) and Progressive Layered Extraction (PLE) (Tang, Liu, Zhao & Gong,
 * "Progressive Layered Extraction (PLE): A Novel Multi-Task Learning (MTL) Model for Personalized
 * Recommendations", RecSys 2020). Each extraction level j has shared experts E_s and task-specific
 * experts E_k; task k's gate mixes its own and the shared experts:
 *
 *   g^{k,j} = w^{k,j}(g^{k,j−1}) · S^{k,j},   S^{k,j} = [E_{k,1..m_k}, E_{s,1..m_s}] applied to their inputs,
 *   w^{k,j}(u) = softmax(W^{k,j} u),          g^{k,0} = x
 *
 * and, at every level but the last, a shared gate mixes all experts for the next level's shared
 * experts: g^{s,j} = softmax(W^{s,j} g^{s,j−1}) · [E_{1..K}, E_s]. Task k's tower reads g^{k,L}.
 * CGC is PLE with one level. Task-specific experts read their task's previous output g^{k,j−1};
 * shared experts read g^{s,j−1}. Readings: gates have no bias by default (the paper writes
 * softmax(W x)); every expert has the same layer sizes at every level.
 *
 * Shared and task parameters (the trainer's contract, see types.ts): θ_s = everything more than one
 * task's output depends on: all experts of levels < L (task experts feed the shared gate), the
 * shared gates, the task gates of levels < L−1, and the shared experts of level L. θ_k = task k's
 * experts and gate at level L, its gate at level L−1 (whose output only task k's last level reads),
 * and its tower. The shared representation z = encode(x) is what the last level reads:
 * [g^{1,L−1}, …, g^{K,L−1}, E_s^L outputs] side by side (for CGC, L = 1: the shared experts'
 * outputs only; the task experts and gates read x in decode).
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Activation, checkActivation } from "../layers/activations";
import { Block, makeBlock, Mlp } from "../layers/block";
import { Initializer } from "../layers/dense";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { checkSizes, checkTasks, Gate, mixExperts, mixFlops, perTask, splitColumns, sumFlops } from "./parts";
import { buildNamedInputsModel, DecodeReads, hasNamedInputs, NamedInputsModel, WithNamedInputs } from "./namedInputs";
import { BaseModel } from "./types";

/** Options of {@link ple} and {@link cgc}. */
export interface PleOptions {
  inputSize: number;
  tasks: Task[];
  /** Number of extraction levels L (default 2 for ple, 1 for cgc). */
  levels?: number;
  /** Shared experts per level m_s (≥ 1). */
  sharedExperts: number;
  /** Task-specific experts per level m_k (≥ 1), for all tasks or per task name. */
  taskExperts: number | Record<string, number>;
  /** Layer sizes of every expert; the last is the expert's output width h. */
  expertLayers: number[];
  /** Hidden layers of each task's tower before its output layer (default none). */
  towers?: number[];
  gateBias?: boolean;
  activation?: Activation;
  init?: Initializer;
  seed?: number;
}

const OPTIONS = [
  "inputSize",
  "tasks",
  "levels",
  "sharedExperts",
  "taskExperts",
  "expertLayers",
  "towers",
  "gateBias",
  "activation",
  "init",
  "seed",
] as const;

/** One CGC level of a PLE model: its shared experts, each task's experts, and the gates that mix them. */
export interface PleLevel {
  /** The shared experts. */
  shared: Mlp[];
  /** task[k]: task k's experts. */
  task: Mlp[][];
  /** taskGates[k] mixes task k's experts and the shared ones. */
  taskGates: Gate[];
  /** Mixes every expert of the level for the next level's shared experts; absent at the last level. */
  sharedGate?: Gate;
}

/**
 * A CGC or PLE model (Tang et al., RecSys 2020): shared and task-specific experts, stacked in levels. Build one
 * with {@link ple} or {@link cgc}.
 */
export class PleModel extends BaseModel {
  readonly architecture: string;
  readonly taskNames: readonly string[];
  readonly inputSize: number;
  readonly levels: PleLevel[];
  readonly towers: Block[];
  readonly expertWidth: number;

  constructor(options: PleOptions, defaultLevels = 2, where = "ple") {
    super();
    this.recordOptions(options);
    checkKnownOptions(where, options, OPTIONS);
    checkPositiveInteger(where, "inputSize", options.inputSize);
    checkTasks(where, options.tasks);
    const L = options.levels ?? defaultLevels;
    checkPositiveInteger(where, "levels", L);
    check(
      Number.isInteger(options.sharedExperts) && options.sharedExperts >= 1,
      where,
      () => `option 'sharedExperts' (shared experts per level) must be an integer ≥ 1, got ${String(options.sharedExperts)}.`,
    );
    this.taskNames = options.tasks.map((t) => t.name);
    const isCount = (v: unknown): v is number => typeof v === "number";
    const taskExperts = perTask(where, "taskExperts", options.taskExperts, this.taskNames, isCount);
    taskExperts.forEach((m, k) =>
      check(
        Number.isInteger(m) && m >= 1,
        where,
        () => `option 'taskExperts' for task '${this.taskNames[k]}' must be an integer ≥ 1 (experts per level), got ${String(m)}.`,
      ),
    );
    checkSizes(where, "expertLayers", options.expertLayers, false);
    const towers = options.towers ?? [];
    checkSizes(where, "towers", towers);
    const activation = options.activation ?? "relu";
    checkActivation(where, activation);
    this.architecture = L === 1 ? "cgc" : "ple";
    this.inputSize = options.inputSize;
    const rng = new Rng(options.seed ?? 0);
    const bias = options.gateBias ?? false;
    const h = options.expertLayers[options.expertLayers.length - 1];
    this.expertWidth = h;
    const ms = options.sharedExperts;
    const totalExperts = ms + taskExperts.reduce((a, b) => a + b, 0);
    const expert = (name: string, fanIn: number) => new Mlp(name, fanIn, options.expertLayers, rng, { activation, init: options.init });
    this.levels = Array.from({ length: L }, (_, j) => {
      const fanIn = j === 0 ? options.inputSize : h;
      return {
        shared: Array.from({ length: ms }, (_, e) => expert(`level${j}.shared.${e}`, fanIn)),
        task: this.taskNames.map((t, k) => Array.from({ length: taskExperts[k] }, (_, e) => expert(`level${j}.${t}.${e}`, fanIn))),
        taskGates: this.taskNames.map(
          (t, k) => new Gate(`level${j}.gate.${t}`, fanIn, taskExperts[k] + ms, rng, { bias, init: options.init }),
        ),
        sharedGate: j < L - 1 ? new Gate(`level${j}.gate.shared`, fanIn, totalExperts, rng, { bias, init: options.init }) : undefined,
      };
    });
    this.towers = options.tasks.map((t) =>
      makeBlock(`tower.${t.name}`, h, [...towers, t.outputUnits], rng, { activation, outputActivation: "linear", init: options.init }),
    );
  }

  /** Runs levels 0..L−2 and the last level's shared experts. */
  encode(x: tf.Tensor2D, _training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const L = this.levels.length;
      let taskIn: tf.Tensor2D[] = this.taskNames.map(() => x);
      let sharedIn = x;
      for (let j = 0; j < L - 1; j++) {
        const level = this.levels[j];
        const S = level.shared.map((e) => e.apply(sharedIn));
        const T = level.task.map((experts, k) => experts.map((e) => e.apply(taskIn[k])));
        const nextTask = T.map((own, k) => mixExperts(level.taskGates[k].apply(taskIn[k]), [...own, ...S]));
        sharedIn = mixExperts(level.sharedGate!.apply(sharedIn), [...T.flat(), ...S]);
        taskIn = nextTask;
      }
      const lastShared = this.levels[L - 1].shared.map((e) => e.apply(sharedIn));
      const parts = L > 1 ? [...taskIn, ...lastShared] : lastShared;
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    });
  }

  decode(z: tf.Tensor2D, x: tf.Tensor2D, training: boolean): tf.Tensor2D[] {
    const L = this.levels.length;
    const last = this.levels[L - 1];
    const K = this.taskNames.length;
    const parts = splitColumns(z, new Array((L > 1 ? K : 0) + last.shared.length).fill(this.expertWidth));
    const taskIn = L > 1 ? parts.slice(0, K) : this.taskNames.map(() => x);
    const S = L > 1 ? parts.slice(K) : parts;
    return this.towers.map((tower, k) => {
      const own = last.task[k].map((e) => e.apply(taskIn[k]));
      const mixed = mixExperts(last.taskGates[k].apply(taskIn[k]), [...own, ...S]);
      return tower.apply(mixed, training);
    });
  }

  sharedVariables(): Array<[string, tf.Variable]> {
    const L = this.levels.length;
    const vars: Array<[string, tf.Variable]> = [];
    this.levels.forEach((level, j) => {
      if (j < L - 1) {
        for (const e of [...level.shared, ...level.task.flat()]) vars.push(...e.namedVariables());
        if (j < L - 2) for (const g of level.taskGates) vars.push(...g.namedVariables());
        vars.push(...level.sharedGate!.namedVariables());
      } else for (const e of level.shared) vars.push(...e.namedVariables());
    });
    return vars;
  }

  taskVariables(k: number): Array<[string, tf.Variable]> {
    const L = this.levels.length;
    const last = this.levels[L - 1];
    const vars: Array<[string, tf.Variable]> = [];
    if (L >= 2) vars.push(...this.levels[L - 2].taskGates[k].namedVariables());
    for (const e of last.task[k]) vars.push(...e.namedVariables());
    vars.push(...last.taskGates[k].namedVariables(), ...this.towers[k].namedVariables());
    return vars;
  }

  /**
   * Each level's gate weights for `x`: per level, per task, [rows, m_k + m_s] (own experts first).
   * Reads synchronously: on a backend that reads only asynchronously (webgpu) use {@link gateWeightsAsync}.
   */
  gateWeights(x: tf.Tensor2D): number[][][][] {
    return readsSync(this.readGateWeights(x));
  }

  /** {@link gateWeights} with awaited reads, for every backend. */
  gateWeightsAsync(x: tf.Tensor2D): Promise<number[][][][]> {
    return readsAsync(this.readGateWeights(x));
  }

  private *readGateWeights(x: tf.Tensor2D): Reads<number[][][][]> {
    // All levels' gates in one forward pass; each [rows, m] tensor is then read (and disposed) in turn.
    const perLevel = tf.tidy(() => {
      const out: tf.Tensor2D[][] = [];
      let taskIn: tf.Tensor2D[] = this.taskNames.map(() => x);
      let sharedIn = x;
      this.levels.forEach((level, j) => {
        const w = level.taskGates.map((g, k) => g.apply(taskIn[k]));
        out.push(w);
        if (j < this.levels.length - 1) {
          const S = level.shared.map((e) => e.apply(sharedIn));
          const T = level.task.map((experts, k) => experts.map((e) => e.apply(taskIn[k])));
          const next = T.map((own, k) => mixExperts(w[k], [...own, ...S]));
          sharedIn = mixExperts(level.sharedGate!.apply(sharedIn), [...T.flat(), ...S]);
          taskIn = next;
        }
      });
      return out;
    });
    const result: number[][][][] = [];
    let taken = 0;
    try {
      for (const level of perLevel) {
        const rowsOfLevel: number[][][] = [];
        for (const w of level) {
          const [rows, m] = w.shape;
          taken++;
          const values = yield w;
          rowsOfLevel.push(Array.from({ length: rows }, (_, r) => Array.from(values.subarray(r * m, (r + 1) * m))));
        }
        result.push(rowsOfLevel);
      }
    } finally {
      // Those not handed to the driver (it stopped early on an error) are ours to free.
      tf.dispose(perLevel.flat().slice(taken));
    }
    return result;
  }

  flopsPerExample(): number | undefined {
    const parts: Array<number | undefined> = [];
    for (const level of this.levels) {
      const blocks = [...level.shared, ...level.task.flat(), ...level.taskGates, ...(level.sharedGate ? [level.sharedGate] : [])];
      parts.push(...blocks.map((b) => b.flopsPerExample()));
      parts.push(...level.taskGates.map((g) => mixFlops(g.experts, this.expertWidth)));
      if (level.sharedGate) parts.push(mixFlops(level.sharedGate.experts, this.expertWidth));
    }
    parts.push(...this.towers.map((t) => t.flopsPerExample()));
    return sumFlops(parts);
  }

  dispose(): void {
    for (const level of this.levels) {
      for (const b of [...level.shared, ...level.task.flat(), ...level.taskGates]) b.dispose();
      level.sharedGate?.dispose();
    }
    for (const t of this.towers) t.dispose();
  }
}

/** CGC's last (only) level reads the input in decode; with ≥ 2 levels decode reads only z. */
const pleDecodeReads = (model: PleModel): DecodeReads => (model.levels.length === 1 ? "input" : "representation");

/**
 * Builds a PLE model: `levels` (default 2) extraction levels of shared and task-specific experts.
 * With `inputs` and `encoders` instead of `inputSize`, the first level reads the concatenation u of
 * the inputs' encodings (./namedInputs.ts).
 */
export function ple(options: PleOptions): PleModel;
export function ple(options: WithNamedInputs<PleOptions>): NamedInputsModel<PleModel>;
export function ple(options: PleOptions | WithNamedInputs<PleOptions>): PleModel | NamedInputsModel<PleModel> {
  if (hasNamedInputs(options))
    return buildNamedInputsModel("ple", options as WithNamedInputs<PleOptions>, (o) => new PleModel(o, 2, "ple"), pleDecodeReads);
  return new PleModel(options as PleOptions, 2, "ple");
}

/**
 * Builds a CGC model: PLE with one extraction level (the `levels` option must be 1 or absent).
 * With `inputs` and `encoders`, as for ple; z = [u, the shared experts' outputs].
 */
export function cgc(options: PleOptions): PleModel;
export function cgc(options: WithNamedInputs<PleOptions>): NamedInputsModel<PleModel>;
export function cgc(options: PleOptions | WithNamedInputs<PleOptions>): PleModel | NamedInputsModel<PleModel> {
  check(
    options?.levels === undefined || options.levels === 1,
    "cgc",
    () => `CGC has one extraction level; for ${options.levels} levels use mtl.ple.`,
  );
  if (hasNamedInputs(options))
    return buildNamedInputsModel("cgc", options as WithNamedInputs<PleOptions>, (o) => new PleModel(o, 1, "cgc"), pleDecodeReads);
  return new PleModel(options as PleOptions, 1, "cgc");
}
