/**
 * mtlkit's Adam: PyTorch's update, fused into one host kernel per variable on wasm and cpu.
 *
 * tfjs's AdamOptimizer keeps β₁ᵗ and β₂ᵗ as float32 running products and forms 1 − βᵗ in float32
 * (1.3e-5 relative off at t = 1 for β₂ = 0.999), which moves a run away from PyTorch's by ~1e-5
 * within 60 steps. This class does what torch.optim.Adam does instead: the bias corrections
 * 1 − β₁ᵗ and 1 − β₂ᵗ are computed in float64 from the step count t (a JS number: the optimizer's
 * `iterations`, saved by getWeights() and restored by setWeights(), so checkpoints carry it), and
 *
 *   m ← β₁·m + (1−β₁)·g;   v ← β₂·v + (1−β₂)·g²
 *   θ ← θ + (m / (sqrt(v) / sqrt(1 − β₂ᵗ) + ε)) · (−lr / (1 − β₁ᵗ))
 *
 * with the two step constants formed in float64 and every tensor operation in float32.
 * On the wasm and cpu backends each variable and its two moments are updated in place by one host
 * kernel (./hostKernels.ts: the native addon's when enabled, else JavaScript, which on wasm serves
 * variables of up to JS_ADAM_WASM_LIMIT elements) doing the same float32 operations in the same
 * order as the tfjs-op path (bit-identical); on any other backend (webgpu, tensorflow), for larger
 * variables on plain wasm and for the gated update the tfjs-op path runs. Slots, getWeights/setWeights and the class name ("Adam") are tfjs's, so
 * checkpoints of either kind load into the other. No tensor is read on the update path.
 * A variable whose memory is shared with another tensor is updated with tfjs ops.
 */
import * as tf from "@tensorflow/tfjs";
import { HostKernels, hostAdamFor } from "./hostKernels";
import { writableView, HeapBackend, readView, wroteInPlace } from "./views";

type NamedTensor = { name: string; tensor: tf.Tensor };

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

/** The float64 constants of Adam's step t (t ≥ 1), as PyTorch forms them. */
export interface AdamStepConstants {
  /** 1 − β₁ᵗ */
  biasCorrection1: number;
  /** 1 − β₂ᵗ */
  biasCorrection2: number;
  /** −lr / (1 − β₁ᵗ) */
  negStepSize: number;
  /** sqrt(1 − β₂ᵗ) */
  sqrtBiasCorrection2: number;
}

export function adamStepConstants(step: number, learningRate: number, beta1: number, beta2: number): AdamStepConstants {
  const biasCorrection1 = 1 - Math.pow(beta1, step);
  const biasCorrection2 = 1 - Math.pow(beta2, step);
  return {
    biasCorrection1,
    biasCorrection2,
    negStepSize: -learningRate / biasCorrection1,
    sqrtBiasCorrection2: Math.sqrt(biasCorrection2),
  };
}

/** The step's constants as float32 scalar tensors, shared by every variable's tfjs-op update. */
type OpScalars = Record<
  "beta1" | "beta2" | "oneMinusBeta1" | "oneMinusBeta2" | "sqrtBiasCorrection2" | "epsilon" | "negStepSize",
  tf.Scalar
>;

interface AdamInternals {
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
  iterations_: number;
  incrementIterations(): void;
  extractIterations(weights: NamedTensor[]): Promise<NamedTensor[]>;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /**
   * tfjs's Optimizer defines `instanceof` by duck typing (any optimizer is an "instance" of every
   * optimizer class), so code that needs this class asks here instead.
   */
  static is(optimizer: unknown): optimizer is FusedAdamOptimizer {
    return optimizer instanceof Object && Object.getPrototypeOf(optimizer) === FusedAdamOptimizer.prototype;
  }

  constructor(learningRate: number, beta1: number, beta2: number, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
    // tfjs's float32 running β powers are not used: the step count is the state.
    const self = this.internals();
    tf.dispose([self.accBeta1!, self.accBeta2!]);
    delete self.accBeta1;
    delete self.accBeta2;
  }

  private internals(): AdamInternals {
    return this as unknown as AdamInternals;
  }

  /** The float64 constants of the next step (t = iterations + 1). */
  private nextStep(): AdamStepConstants {
    const self = this.internals();
    return adamStepConstants(this.iterations + 1, self.learningRate, self.beta1, self.beta2);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    const backendName = tf.getBackend();
    const names = Array.isArray(variableGradients) ? variableGradients.map((v) => v.name) : Object.keys(variableGradients);
    const gradientOf = (name: string, i: number): tf.Tensor | undefined =>
      Array.isArray(variableGradients) ? variableGradients[i].tensor : (variableGradients as tf.NamedTensorMap)[name];
    const constants = this.nextStep();
    const self = this.internals();
    tf.tidy(() => {
      let scalars: OpScalars | undefined; // made once per step, on first use
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        const { m, v } = this.slotsAt(i, value);
        const gradient = gradientOf(name, i);
        if (gradient == null) return;
        const kernels = hostAdamFor(backendName, value.size);
        if (kernels && this.updateInPlace(kernels, backendName, value, gradient, m, v, constants)) return;
        scalars ??= this.opScalars(constants);
        this.updateWithOps(value, gradient, m, v, scalars);
      });
    });
    self.incrementIterations();
  }

  /**
   * The update gated on the device, for a step whose scalars are read later (the trainer's bounded
   * lag): where the bool scalar `healthy` is false, neither a variable nor its moments change
   * (`tf.where` keeps the old values, so a NaN gradient leaves no trace). The step count is a JS
   * number counted here as if the step applied; the trainer takes it back when the step's read
   * shows it did not. Earlier steps already counted but not yet confirmed (`unconfirmed` of them)
   * may turn out skipped: `skipped` (an int32 scalar on the device) says how many did, and the step
   * constants are taken for t = iterations + 1 − skipped from a table made on the host in float64,
   * so they equal those of the same step run without lag.
   */
  applyGradientsGated(variableGradients: tf.NamedTensorMap, healthy: tf.Tensor, skipped?: tf.Tensor, unconfirmed = 0): void {
    const self = this.internals();
    tf.tidy(() => {
      const scalars = this.gatedScalars(skipped, unconfirmed);
      const healthy01 = tf.cast(healthy, "float32");
      Object.keys(variableGradients).forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        const { m, v } = this.slotsAt(i, value);
        const gradient = variableGradients[name];
        if (gradient == null) return;
        this.updateWithOps(value, gradient, m, v, scalars, healthy01);
      });
    });
    self.incrementIterations();
  }

  /** The step's scalars; with `skipped`, the two step-dependent ones are picked on the device. */
  private gatedScalars(skipped: tf.Tensor | undefined, unconfirmed: number): OpScalars {
    const scalars = this.opScalars(this.nextStep());
    if (!skipped || unconfirmed === 0) return scalars;
    const self = this.internals();
    const candidates = Array.from({ length: unconfirmed + 1 }, (_, j) =>
      adamStepConstants(this.iterations + 1 - j, self.learningRate, self.beta1, self.beta2),
    );
    const index = tf.cast(skipped, "int32");
    const pick = (values: number[]) => tf.gather(tf.tensor1d(values, "float32"), index) as unknown as tf.Scalar;
    scalars.sqrtBiasCorrection2 = pick(candidates.map((c) => c.sqrtBiasCorrection2));
    scalars.negStepSize = pick(candidates.map((c) => c.negStepSize));
    return scalars;
  }

  private opScalars(c: AdamStepConstants): OpScalars {
    const { beta1, beta2, epsilon } = this.internals();
    const s = (x: number) => tf.scalar(x, "float32");
    return {
      beta1: s(beta1),
      beta2: s(beta2),
      oneMinusBeta1: s(1 - beta1),
      oneMinusBeta2: s(1 - beta2),
      sqrtBiasCorrection2: s(c.sqrtBiasCorrection2),
      epsilon: s(epsilon),
      negStepSize: s(c.negStepSize),
    };
  }

  /** One in-place update on host memory; false when a view cannot be taken (shared memory, not float32). */
  private updateInPlace(
    kernels: HostKernels,
    backendName: string,
    value: tf.Variable,
    g: tf.Tensor,
    m: tf.Variable,
    v: tf.Variable,
    c: AdamStepConstants,
  ): boolean {
    const self = this.internals();
    const backend = tf.backend() as unknown as HeapBackend;
    // Views are taken last: nothing may allocate (and so move the wasm heap) before the call.
    const views = [
      writableView(backendName, backend, value),
      readView(backendName, backend, g),
      writableView(backendName, backend, m),
      writableView(backendName, backend, v),
    ];
    if (views.some((view) => view === undefined) || views[0]!.length !== views[1]!.length) return false;
    kernels.adam(
      views[0]!,
      views[1]!,
      views[2]!,
      views[3]!,
      self.beta1,
      self.beta2,
      1 - self.beta1,
      1 - self.beta2,
      c.biasCorrection1,
      c.biasCorrection2,
      self.epsilon,
      -self.learningRate,
    );
    wroteInPlace(backendName, backend, value); // the moments are read by nothing but this update
    return true;
  }

  /** The same update in tfjs ops, float32 operations in the native kernel's order. */
  /** `healthy`: a float32 scalar, 1 or 0; where 0, nothing changes (the gated update). */
  private updateWithOps(value: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, c: OpScalars, healthy?: tf.Tensor): void {
    tf.tidy(() => {
      const mNew = tf.add(tf.mul(m, c.beta1), tf.mul(g, c.oneMinusBeta1));
      const vNew = tf.add(tf.mul(v, c.beta2), tf.mul(tf.square(g), c.oneMinusBeta2));
      const denom = tf.add(tf.div(tf.sqrt(vNew), c.sqrtBiasCorrection2), c.epsilon);
      const valueNew = tf.add(tf.mul(tf.div(mNew, denom), c.negStepSize), value);
      if (healthy) {
        // Gated: the old tensors are kept where the step is not healthy (computed before any assign).
        // One full-shape condition for the three (a scalar one would be broadcast with Tile, which reads synchronously on cpu).
        const mask = tf.less(tf.zerosLike(value), healthy);
        const [mKept, vKept, valueKept] = [tf.where(mask, mNew, m), tf.where(mask, vNew, v), tf.where(mask, valueNew, value)];
        m.assign(mKept);
        v.assign(vKept);
        value.assign(valueKept);
        return;
      }
      m.assign(mNew);
      v.assign(vNew);
      value.assign(valueNew);
    });
  }

  /** The moment slots of the i-th variable of the gradient map's order, created as tfjs would. */
  slotsAt(index: number, variable: tf.Variable): { m: tf.Variable; v: tf.Variable } {
    const self = this.internals();
    if (self.accumulatedFirstMoment[index] == null) {
      self.accumulatedFirstMoment[index] = {
        originalName: `${variable.name}/m`,
        variable: tf.tidy(() => tf.zerosLike(variable).variable(false)),
      };
    }
    if (self.accumulatedSecondMoment[index] == null) {
      self.accumulatedSecondMoment[index] = {
        originalName: `${variable.name}/v`,
        variable: tf.tidy(() => tf.zerosLike(variable).variable(false)),
      };
    }
    return { m: self.accumulatedFirstMoment[index].variable, v: self.accumulatedSecondMoment[index].variable };
  }

  /** [β1, β2, 1−β1, 1−β2, 1−β1ᵗ, 1−β2ᵗ, ε, −lr] for a native update of the next step (bias corrections in float64). */
  updateConstants(): number[] {
    const self = this.internals();
    const c = this.nextStep();
    return [self.beta1, self.beta2, 1 - self.beta1, 1 - self.beta2, c.biasCorrection1, c.biasCorrection2, self.epsilon, -self.learningRate];
  }

  /** Advances the step count after a native update. */
  finishNativeStep(): void {
    this.internals().incrementIterations();
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const self = this.internals();
    const rest = await self.extractIterations(weightValues);
    const count = rest.length / 2;
    const previous = [...self.accumulatedFirstMoment, ...self.accumulatedSecondMoment].filter((s) => s != null).map((s) => s.variable);
    self.accumulatedFirstMoment = rest.slice(0, count).map((w) => ({ originalName: w.name, variable: w.tensor.variable(false) }));
    self.accumulatedSecondMoment = rest.slice(count, 2 * count).map((w) => ({ originalName: w.name, variable: w.tensor.variable(false) }));
    // Disposed after the new slots hold their data, which may be the old slots' own.
    tf.dispose(previous);
  }

  override dispose(): void {
    const self = this.internals();
    tf.dispose([...self.accumulatedFirstMoment, ...self.accumulatedSecondMoment].filter((s) => s != null).map((s) => s.variable));
    self.accumulatedFirstMoment = [];
    self.accumulatedSecondMoment = [];
  }
}
