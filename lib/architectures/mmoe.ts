/**
 * Multi-gate Mixture-of-Experts (Ma, Zhao, Yi, Chen, Hong & Chi, "Modeling Task Relationships in
 * Multi-task Learning with Multi-gate Mixture-of-Experts", KDD 2018):
 *
 *   y_k = h^k(f^k(x)),   f^k(x) = Σ_{i=1..n} g^k(x)_i f_i(x),   g^k(x) = softmax(W_gk x)
 *
 * n experts f_i (MLPs on x), one softmax gate g^k per task reading x, one tower h^k per task.
 * Readings: the paper writes the gate without a bias; we add one by default (`gateBias: false` gives
 * the paper's form), as LibMTL and the public reimplementations do. Without a bias the gate cannot
 * give a task a fixed preference for some experts when x is centred: the logits W x average to zero
 * over x and −x, so whatever the gate favours for x it disfavours for −x. On the paper's own synthetic
 * tasks (x ~ N(0, I)) that costs MMoE its advantage when the tasks are unrelated (p = 0), where each
 * task should keep to its own experts (notebook 02 measures it).
 * Experts apply the activation to every layer (their outputs are hidden features).
 * `gates: { task: { experts: [i, j] } }` restricts a task's gate to some experts (default all).
 *
 * Shared and task parameters (the trainer's contract, see types.ts): θ_s = the experts, which every
 * task uses through its gate; θ_k = task k's gate and tower. The shared representation
 * z = encode(x) is the experts' outputs side by side, [f_1(x), …, f_n(x)] ([batch, n·h]); decode
 * computes each gate from x and mixes z's slices. With one expert every gate is the constant 1 and
 * MMoE is hard sharing with the expert as trunk and the towers as heads.
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Activation, checkActivation } from "../layers/activations";
import { Block, makeBlock, Mlp } from "../layers/block";
import { Initializer } from "../layers/dense";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { checkSizes, checkTaskKeys, checkTasks, Gate, mixFlops, mixSideBySide, sumFlops } from "./parts";
import { buildNamedInputsModel, hasNamedInputs, NamedInputsModel, WithNamedInputs } from "./namedInputs";
import { BaseModel } from "./types";

/** Options of {@link mmoe}. */
export interface MmoeOptions {
  inputSize: number;
  tasks: Task[];
  /** Number of experts n (≥ 1). */
  experts: number;
  /** Layer sizes of each expert (e.g. [16]); the last is the expert's output width h. */
  expertLayers: number[];
  /** Hidden layers of each task's tower before its output layer (default none). */
  towers?: number[];
  /** Per task, the experts its gate mixes (indices 0..n−1; default all). */
  gates?: Record<string, { experts: number[] }>;
  /** Add a bias to the gates' logits (default true; false is the paper's softmax(W_gk x)). */
  gateBias?: boolean;
  activation?: Activation;
  init?: Initializer;
  seed?: number;
}

const OPTIONS = ["inputSize", "tasks", "experts", "expertLayers", "towers", "gates", "gateBias", "activation", "init", "seed"] as const;

/**
 * A multi-gate mixture of experts (Ma et al., KDD 2018): shared experts mixed by one softmax gate per task.
 * Build one with {@link mmoe}.
 */
export class MmoeModel extends BaseModel {
  readonly architecture = "mmoe";
  readonly taskNames: readonly string[];
  readonly inputSize: number;
  readonly experts: Mlp[];
  readonly gates: Gate[];
  readonly towers: Block[];
  /** Per task, the indices of the experts its gate mixes. */
  readonly gateExperts: number[][];
  readonly expertWidth: number;

  constructor(options: MmoeOptions) {
    super();
    this.recordOptions(options);
    const where = "mmoe";
    checkKnownOptions(where, options, OPTIONS);
    checkPositiveInteger(where, "inputSize", options.inputSize);
    checkTasks(where, options.tasks);
    check(
      Number.isInteger(options.experts) && options.experts >= 1,
      where,
      () => `option 'experts' (the number of experts) must be an integer ≥ 1, got ${String(options.experts)}.`,
    );
    checkSizes(where, "expertLayers", options.expertLayers, false);
    const towers = options.towers ?? [];
    checkSizes(where, "towers", towers);
    const activation = options.activation ?? "relu";
    checkActivation(where, activation);
    this.inputSize = options.inputSize;
    this.taskNames = options.tasks.map((t) => t.name);
    const n = options.experts;
    const gates = options.gates ?? {};
    check(gates !== null && typeof gates === "object", where, () => "option 'gates' must be an object keyed by task name.");
    checkTaskKeys(where, "gates", gates, this.taskNames);
    this.gateExperts = this.taskNames.map((t) => {
      const g = gates[t];
      if (g === undefined) return Array.from({ length: n }, (_, i) => i);
      checkKnownOptions(`${where} option 'gates.${t}'`, g, ["experts"]);
      const list = g.experts;
      check(
        Array.isArray(list) &&
          list.length > 0 &&
          list.every((e) => Number.isInteger(e) && e >= 0 && e < n) &&
          new Set(list).size === list.length,
        where,
        () => `the gate of task '${t}' must list distinct expert indices in 0..${n - 1}, at least one; got ${JSON.stringify(list)}.`,
      );
      return [...list];
    });
    for (let e = 0; e < n; e++) {
      check(
        this.gateExperts.some((l) => l.includes(e)),
        where,
        () => `expert ${e} is mixed by no task's gate, so it would never train; list it in some gate or lower 'experts'.`,
      );
    }

    const rng = new Rng(options.seed ?? 0);
    this.experts = Array.from(
      { length: n },
      (_, e) => new Mlp(`expert.${e}`, options.inputSize, options.expertLayers, rng, { activation, init: options.init }),
    );
    this.expertWidth = this.experts[0].outputSize;
    this.gates = options.tasks.map(
      (t, k) =>
        new Gate(`gate.${t.name}`, options.inputSize, this.gateExperts[k].length, rng, {
          bias: options.gateBias ?? true,
          init: options.init,
        }),
    );
    this.towers = options.tasks.map((t) =>
      makeBlock(`tower.${t.name}`, this.expertWidth, [...towers, t.outputUnits], rng, {
        activation,
        outputActivation: "linear",
        init: options.init,
      }),
    );
  }

  /** z = [f_1(x), …, f_n(x)]. */
  encode(x: tf.Tensor2D, _training: boolean): tf.Tensor2D {
    return tf.tidy(() => {
      const outs = this.experts.map((e) => e.apply(x));
      return outs.length === 1 ? outs[0] : tf.concat(outs, 1);
    });
  }

  decode(z: tf.Tensor2D, x: tf.Tensor2D, training: boolean): tf.Tensor2D[] {
    // Mixed straight from z: splitting z into experts and stacking them again cost a copy of z per
    // expert on wasm, forward and backward (see mixSideBySide).
    return this.towers.map((tower, k) => {
      const mixed = mixSideBySide(this.gates[k].apply(x), z, this.gateExperts[k], this.experts.length);
      return tower.apply(mixed, training);
    });
  }

  /**
   * Each task's gate weights g^k(x) over all n experts (0 for experts outside its gate), [rows, n] per task.
   * Reads synchronously: on a backend that reads only asynchronously (webgpu) use {@link gateWeightsAsync}.
   */
  gateWeights(x: tf.Tensor2D): number[][][] {
    return readsSync(this.readGateWeights(x));
  }

  /** {@link gateWeights} with awaited reads, for every backend. */
  gateWeightsAsync(x: tf.Tensor2D): Promise<number[][][]> {
    return readsAsync(this.readGateWeights(x));
  }

  private *readGateWeights(x: tf.Tensor2D): Reads<number[][][]> {
    const n = this.experts.length;
    const result: number[][][] = [];
    for (let k = 0; k < this.gates.length; k++) {
      const own = this.gateExperts[k];
      const values = yield tf.tidy(() => this.gates[k].apply(x));
      const rows = values.length / own.length;
      result.push(
        Array.from({ length: rows }, (_, r) => {
          const full = new Array<number>(n).fill(0);
          own.forEach((e, j) => (full[e] = values[r * own.length + j]));
          return full;
        }),
      );
    }
    return result;
  }

  sharedVariables(): Array<[string, tf.Variable]> {
    return this.experts.flatMap((e) => e.namedVariables());
  }

  taskVariables(taskIndex: number): Array<[string, tf.Variable]> {
    return [...this.gates[taskIndex].namedVariables(), ...this.towers[taskIndex].namedVariables()];
  }

  flopsPerExample(): number | undefined {
    const mixes = this.gateExperts.map((l) => mixFlops(l.length, this.expertWidth));
    return sumFlops([...this.experts, ...this.gates, ...this.towers].map((b) => b.flopsPerExample()).concat(mixes));
  }

  dispose(): void {
    for (const b of [...this.experts, ...this.gates, ...this.towers]) b.dispose();
  }
}

/**
 * Builds an MMoE model: n shared experts, one softmax gate and one tower per task. With `inputs`
 * and `encoders` instead of `inputSize`, experts and gates read the concatenation u of the inputs'
 * encodings, and z = [u, the experts' outputs] (./namedInputs.ts).
 */
export function mmoe(options: MmoeOptions): MmoeModel;
export function mmoe(options: WithNamedInputs<MmoeOptions>): NamedInputsModel<MmoeModel>;
export function mmoe(options: MmoeOptions | WithNamedInputs<MmoeOptions>): MmoeModel | NamedInputsModel<MmoeModel> {
  if (hasNamedInputs(options))
    return buildNamedInputsModel(
      "mmoe",
      options as WithNamedInputs<MmoeOptions>,
      (o) => new MmoeModel(o),
      () => "input",
    );
  return new MmoeModel(options as MmoeOptions);
}
