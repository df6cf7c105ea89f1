/**
 * The learnable per-task scalars s ∈ R^k of uncertainty weighting (log σ²) and IMTL-L (s), trained
 * one of two ways:
 *
 * - by the trainer's optimizer, in the same step as the model (default): s is a tfjs variable
 *   listed in the method's `variables()` and moved by its `parameterLoss`, at the model's learning
 *   rate. With a small model learning rate (3e-4) the scalars move at most ~lr per step, so over a
 *   short run the weights barely leave their start;
 * - by their own Adam with their own learning rate (option `learningRate`), as the Nash-MTL code
 *   does (Navon et al., ICML 2022, github.com/AvivNavon/nash-mtl, experiments/utils.py: the weight
 *   method's parameters are a separate `torch.optim.Adam` parameter group with
 *   `lr = --method-params-lr`, default 0.025; FAMO's code, github.com/Cranial-XIX/FAMO, keeps the
 *   same default). Then s lives in float64, the method has no trainer variables, and after every
 *   applied step s takes one Adam step (β₁ = 0.9, β₂ = 0.999, ε = 1e-8, PyTorch's defaults) on
 *   ∂L_total/∂s at the losses the step was weighed with — the same gradient `parameterLoss` gives.
 *   A task that did not train at the step (a task sampler drew another) contributes gradient 0.
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { Adam64, AdamState, checkBound, numberArray, numberOption, where } from "./common";

/** ∂L_total/∂s_i at scales s and losses L (each method's formula). */
export type ScaleGradient = (s: readonly number[], losses: readonly number[]) => number[];

export class LearnableScales {
  private variable: tf.Variable | undefined;
  private own: number[] | undefined;
  private adam: Adam64 | undefined;
  /** The separate learning rate, or undefined when the trainer's optimizer trains the scales. */
  readonly learningRate: number | undefined;

  constructor(
    private readonly method: string,
    private readonly initial: number,
    learningRate: unknown,
    private readonly gradient: ScaleGradient,
  ) {
    this.learningRate = learningRate === undefined ? undefined : numberOption(method, "learningRate", learningRate, { above: 0 });
  }

  /** Whether the scales have their own Adam (option `learningRate`). */
  get separate(): boolean {
    return this.learningRate !== undefined;
  }

  /** (Re)creates the k scales at their initial value. */
  bind(k: number): void {
    this.dispose();
    if (this.separate) {
      this.own = new Array(k).fill(this.initial);
      this.adam = new Adam64(k, this.learningRate!);
    } else {
      this.variable = tf.variable(tf.fill([k], this.initial), true);
    }
  }

  /** The number of scales, or undefined before `bind`. */
  get size(): number | undefined {
    return this.own?.length ?? this.variable?.size;
  }

  /** The trainer's variables: the tfjs variable by default, none with a separate learning rate. */
  variables(): tf.Variable[] {
    return this.variable ? [this.variable] : [];
  }

  /** The variable `parameterLoss` differentiates (default mode only). */
  tensor(): tf.Variable {
    check(
      this.variable !== undefined,
      where(this.method),
      () => "the scales are not a trainer variable (option 'learningRate' is set) or the method is not bound yet.",
    );
    return this.variable;
  }

  /** The current scales, with an awaited read in the default mode. */
  async values(): Promise<number[]> {
    checkBound(this.method, this.size);
    return this.own ? [...this.own] : Array.from(await this.variable!.data());
  }

  /** The current scales, read synchronously (for inspection outside the training path). */
  valuesSync(): number[] {
    checkBound(this.method, this.size);
    return this.own ? [...this.own] : Array.from(this.variable!.dataSync());
  }

  /** One Adam step on ∂L_total/∂s at the step's losses (separate mode); NaN losses (inactive tasks) give 0. */
  step(losses: readonly number[]): void {
    if (!this.own) return;
    const g = this.gradient(this.own, losses).map((v) => (Number.isFinite(v) ? v : 0));
    this.own = this.adam!.step(this.own, g);
  }

  /** The scales (and, in separate mode, their Adam state) for a checkpoint. */
  async state(field: string): Promise<Record<string, unknown>> {
    if (this.size === undefined) return { [field]: [] };
    return { [field]: await this.values(), ...(this.adam ? { adam: this.adam.getState() } : {}) };
  }

  stateSync(field: string): Record<string, unknown> {
    if (this.size === undefined) return { [field]: [] };
    return { [field]: this.valuesSync(), ...(this.adam ? { adam: this.adam.getState() } : {}) };
  }

  load(state: Record<string, unknown>, field: string): void {
    const k = checkBound(this.method, this.size);
    const values = numberArray(this.method, field, state[field], k);
    if (this.own) {
      this.own = values;
      if (state.adam) this.adam!.setState(state.adam as AdamState);
    } else {
      tf.tidy(() => this.variable!.assign(tf.tensor1d(values)));
    }
  }

  dispose(): void {
    this.variable?.dispose();
    this.variable = undefined;
    this.own = undefined;
    this.adam = undefined;
  }
}
