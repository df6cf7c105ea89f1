/**
 * The contract every multi-task architecture keeps, so the trainer, the weighting methods and the
 * gradient aggregators can work with any of them:
 * - `encode(x)` computes the shared representation z (what "rep"-level balancing differentiates);
 * - `decode(z, x)` computes one output per task from it (x is there for architectures whose task
 *   paths also read the input, e.g. MMoE's gates);
 * - shared variables θ_s and each task's variables θ_i are listed separately ("param"-level
 *   balancing differentiates θ_s; each head always gets its own task's gradient).
 * What counts as shared: θ_s holds every parameter that more than one task's output depends on, or
 * that a regulariser ties across tasks (soft sharing's towers and learned center); θ_i holds the
 * parameters only task i's output depends on, wherever they sit (PLE's last-but-one task gates are
 * computed inside encode). A task's loss may not depend on all of θ_s (soft sharing: another task's
 * tower, the center); its gradient there is exactly zero. Each architecture's file says what its
 * θ_s and z are.
 */
import * as tf from "@tensorflow/tfjs";
import { inspect } from "util";
import type { NamedInput } from "../data/inputs";
import { modelBundle } from "../display/model";
import type { SaveOptions } from "../deploy/save";
import { InputSpec, singleInputSpec } from "../deploy/inputs";
import { getWeights, setWeights, NamedWeights, SetWeightsOptions, GetWeightsOptions, WeightInput } from "../deploy/weights";
import type { Task } from "../tasks/task";

/**
 * The contract every architecture keeps: `encode(x)` gives the shared representation z, `decode(z, x)` one
 * output per task, with shared variables θ_s and task variables θ_i named stably. The trainer, the weighting
 * methods and the aggregators rely on nothing else.
 */
export interface MultiTaskModel {
  readonly architecture: string;
  readonly taskNames: readonly string[];
  readonly inputSize: number;
  /**
   * The model's input spec: its named inputs (name, row shape, kind) in the order their columns
   * lie side by side in x (inputSize = their total size), or absent for one unnamed input of
   * `inputSize` features. Set by `inputs` + `encoders` (lib/architectures/namedInputs.ts).
   */
  readonly inputs?: readonly NamedInput[];
  encode(x: tf.Tensor2D, training: boolean): tf.Tensor2D;
  decode(representation: tf.Tensor2D, x: tf.Tensor2D, training: boolean): tf.Tensor2D[];
  /** encode then decode. */
  forward(x: tf.Tensor2D, training: boolean): tf.Tensor2D[];
  /** θ_s with stable names. */
  sharedVariables(): Array<[string, tf.Variable]>;
  /** θ_i of task i with stable names. */
  taskVariables(taskIndex: number): Array<[string, tf.Variable]>;
  /** Every trainable variable with its name (shared first, then task by task). */
  namedVariables(): Array<[string, tf.Variable]>;
  /** Parameter counts, shared and per task. */
  parameterCounts(): { shared: number; perTask: Record<string, number>; total: number };
  /** Forward FLOPs per example where known. */
  flopsPerExample(): number | undefined;
  dispose(): void;
}

export function countParameters(vars: Array<[string, tf.Variable]>): number {
  return vars.reduce((s, [, v]) => s + v.size, 0);
}

/** Shared machinery for models made of blocks; subclasses define encode/decode and the variable lists. */
export abstract class BaseModel implements MultiTaskModel {
  abstract readonly architecture: string;
  abstract readonly taskNames: readonly string[];
  abstract readonly inputSize: number;
  abstract encode(x: tf.Tensor2D, training: boolean): tf.Tensor2D;
  abstract decode(representation: tf.Tensor2D, x: tf.Tensor2D, training: boolean): tf.Tensor2D[];
  abstract sharedVariables(): Array<[string, tf.Variable]>;
  abstract taskVariables(taskIndex: number): Array<[string, tf.Variable]>;
  abstract flopsPerExample(): number | undefined;
  abstract dispose(): void;

  /** The options the model was built from, as given (what `save` describes); see {@link recordOptions}. */
  private builtFrom?: { tasks?: unknown };
  /** The input spec read from a saved model (with its standardisation), when this model was loaded. */
  private savedInputs?: InputSpec;

  forward(x: tf.Tensor2D, training: boolean): tf.Tensor2D[] {
    return this.decode(this.encode(x, training), x, training);
  }

  /**
   * Remembers the options the constructor was given, so `save` can describe the model and
   * `mtl.loadModel` rebuild it. Every architecture's constructor calls this first.
   */
  protected recordOptions(options: object): void {
    this.builtFrom = options as { tasks?: unknown };
  }

  /** The options this model was built from (undefined for a model whose class does not record them). */
  constructionOptions(): object | undefined {
    return this.builtFrom;
  }

  /** The tasks this model was built for, in order (a loaded model's are rebuilt from their saved options). */
  get tasks(): readonly Task[] {
    const tasks = this.builtFrom?.tasks;
    return Array.isArray(tasks) ? (tasks as Task[]) : [];
  }

  /**
   * What the model takes as input, one entry per named input: a single input `x` of `inputSize`
   * features, or the model's named inputs (`inputs`: name → row shape; dtype "int32" for token ids).
   * A loaded model's spec also carries what it was saved with (feature names, the standardisation
   * fitted on its training data).
   */
  inputSpec(): InputSpec {
    if (this.savedInputs) return this.savedInputs;
    const named = (this as MultiTaskModel).inputs;
    if (!named) return singleInputSpec(this.inputSize);
    return Object.fromEntries(named.map((i) => [i.name, { shape: [...i.shape], dtype: i.kind === "tokens" ? "int32" : "float32" }]));
  }

  /** Sets the input spec a saved model was written with (used by `mtl.loadModel`). */
  adoptInputSpec(spec: InputSpec): void {
    this.savedInputs = spec;
  }

  /**
   * Saves the model for inference and fine-tuning into the folder `dir` (written atomically): its
   * architecture description and its weights in TensorFlow.js's weights format. See docs/deploy.md.
   * Returns `dir`. Throws an MtlError for a model that cannot be described (a function trunk).
   */
  async save(dir: string, options: SaveOptions = {}): Promise<string> {
    // Loaded lazily: the saving code needs node:fs, which the browser bundle of this class leaves out.
    const { saveModel } = await import("../deploy/save");
    return saveModel(this, dir, options);
  }

  /** Every variable's values by name (copies), in `layout` ("tfjs" [in, out] by default, or "torch"). */
  getWeights(options: GetWeightsOptions = {}): Promise<NamedWeights> {
    return getWeights(this, options);
  }

  /**
   * Assigns variables by name after checking every name and shape (nothing is assigned when one
   * fails). `layout: "torch"` takes PyTorch's [out, in] dense kernels and [out, in, kh, kw] filters.
   * Without a layout, a kernel whose two layouts have the same shape (a square layer) is refused.
   */
  setWeights(named: Record<string, WeightInput>, options: SetWeightsOptions = {}): void {
    setWeights(this, named, options);
  }

  /** Jupyter: a Keras-like summary, parts and parameters shared and per task (lib/display/model.ts). */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return modelBundle(this);
  }

  [inspect.custom](): string {
    return String(modelBundle(this)["text/plain"]);
  }

  namedVariables(): Array<[string, tf.Variable]> {
    return [...this.sharedVariables(), ...this.taskNames.flatMap((_, i) => this.taskVariables(i))];
  }

  parameterCounts(): { shared: number; perTask: Record<string, number>; total: number } {
    const shared = countParameters(this.sharedVariables());
    const perTask: Record<string, number> = {};
    this.taskNames.forEach((t, i) => (perTask[t] = countParameters(this.taskVariables(i))));
    const total = shared + Object.values(perTask).reduce((a, b) => a + b, 0);
    return { shared, perTask, total };
  }
}
