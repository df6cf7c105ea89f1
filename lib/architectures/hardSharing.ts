/**
 * Hard parameter sharing (Caruana 1997): one shared trunk f(x; θ_s) and one head g_i(·; θ_i) per
 * task, trained on L_total = Σ_i w_i L_i(θ_s, θ_i). The shared representation is the trunk's output.
 */
import * as tf from "@tensorflow/tfjs";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Activation } from "../layers/activations";
import { Block, BlockSpec, makeBlock } from "../layers/block";
import { Initializer } from "../layers/dense";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { buildNamedInputsModel, hasNamedInputs, NamedInputsModel, WithNamedInputs } from "./namedInputs";
import { BaseModel } from "./types";

/** Options of {@link hardSharing}. */
export interface HardSharingOptions {
  /** Number of input features. */
  inputSize: number;
  /** Trunk: hidden layer sizes (e.g. [64]), a tf.LayersModel, or { apply, variables, outputSize }. */
  trunk: BlockSpec;
  /** The tasks, in order; each gets one head. */
  tasks: Task[];
  /** Heads' hidden layers before the output layer (default none: one linear layer), or a spec per task. */
  heads?: number[] | Record<string, BlockSpec>;
  /** Activation of the trunk's and heads' hidden layers (default "relu"). */
  activation?: Activation;
  /** Weight initialisation of mtlkit's own layers (default "glorot"). */
  init?: Initializer;
  /** Seed of the initialisation. */
  seed?: number;
}

const OPTIONS = ["inputSize", "trunk", "tasks", "heads", "activation", "init", "seed"] as const;

/** A hard-sharing model (Caruana 1997): one shared trunk and one head per task. Build one with {@link hardSharing}. */
export class HardSharingModel extends BaseModel {
  readonly architecture = "hardSharing";
  readonly taskNames: readonly string[];
  readonly inputSize: number;
  readonly trunk: Block;
  readonly heads: Block[];

  constructor(options: HardSharingOptions) {
    super();
    this.recordOptions(options);
    const where = "hardSharing";
    checkKnownOptions(where, options, OPTIONS);
    checkPositiveInteger(where, "inputSize", options.inputSize);
    check(Array.isArray(options.tasks) && options.tasks.length > 0, where, () => "option 'tasks' must list at least one task.");
    checkUniqueTaskNames(where, options.tasks);
    const rng = new Rng(options.seed ?? 0);
    const activation = options.activation ?? "relu";
    this.inputSize = options.inputSize;
    this.taskNames = options.tasks.map((t) => t.name);
    this.trunk = makeBlock("trunk", options.inputSize, options.trunk, rng, { activation, init: options.init });
    const headSpecs = options.heads;
    if (headSpecs && !Array.isArray(headSpecs)) {
      for (const key of Object.keys(headSpecs)) {
        check(
          this.taskNames.includes(key),
          where,
          () => `option 'heads' names task '${key}', which is not one of the tasks (${this.taskNames.join(", ")}).`,
        );
      }
    }
    this.heads = options.tasks.map((task) => {
      const name = `head.${task.name}`;
      const spec = headSpecs && !Array.isArray(headSpecs) ? headSpecs[task.name] : undefined;
      if (spec !== undefined && !Array.isArray(spec)) {
        const block = makeBlock(name, this.trunk.outputSize, spec, rng);
        check(
          block.outputSize === task.outputUnits,
          where,
          () => `the head of task '${task.name}' outputs ${block.outputSize} units but the task needs ${task.outputUnits}.`,
        );
        return block;
      }
      const hidden = (spec as number[] | undefined) ?? (Array.isArray(headSpecs) ? headSpecs : []);
      return makeBlock(name, this.trunk.outputSize, [...hidden, task.outputUnits], rng, {
        activation,
        outputActivation: "linear",
        init: options.init,
      });
    });
  }

  encode(x: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return this.trunk.apply(x, training);
  }

  decode(representation: tf.Tensor2D, _x: tf.Tensor2D, training: boolean): tf.Tensor2D[] {
    return this.heads.map((h) => h.apply(representation, training));
  }

  sharedVariables(): Array<[string, tf.Variable]> {
    return this.trunk.namedVariables();
  }

  taskVariables(taskIndex: number): Array<[string, tf.Variable]> {
    return this.heads[taskIndex].namedVariables();
  }

  flopsPerExample(): number | undefined {
    const parts = [this.trunk, ...this.heads].map((b) => b.flopsPerExample());
    return parts.every((p) => p !== undefined) ? parts.reduce((a, b) => a! + b!, 0) : undefined;
  }

  dispose(): void {
    this.trunk.dispose();
    for (const h of this.heads) h.dispose();
  }
}

export function checkUniqueTaskNames(where: string, tasks: Task[]): void {
  const seen = new Set<string>();
  for (const t of tasks) {
    check(t && typeof t.name === "string", where, () => "every task must be made by mtl.tasks.* (it has no name).");
    check(!seen.has(t.name), where, () => `task name '${t.name}' is used twice; task names must be unique.`);
    seen.add(t.name);
  }
}

/**
 * Builds a hard-sharing model: a shared trunk and one head per task. With `inputs` and `encoders`
 * instead of `inputSize`, an encoder per named input feeds the trunk their concatenation
 * (./namedInputs.ts); z is the trunk's output.
 */
export function hardSharing(options: HardSharingOptions): HardSharingModel;
export function hardSharing(options: WithNamedInputs<HardSharingOptions>): NamedInputsModel<HardSharingModel>;
export function hardSharing(
  options: HardSharingOptions | WithNamedInputs<HardSharingOptions>,
): HardSharingModel | NamedInputsModel<HardSharingModel> {
  if (hasNamedInputs(options)) {
    return buildNamedInputsModel(
      "hardSharing",
      options as WithNamedInputs<HardSharingOptions>,
      (o) => new HardSharingModel(o),
      () => "representation",
    );
  }
  return new HardSharingModel(options as HardSharingOptions);
}
