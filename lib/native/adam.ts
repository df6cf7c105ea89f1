/**
 * Adam with a fused native update. tfjs's AdamOptimizer runs about a dozen element-wise kernels per
 * variable per step; when mtlkit's native kernels are enabled for the backend (wasm or cpu), this
 * subclass updates each variable and its two moments in place with one native call, doing tfjs's
 * float32 operations in tfjs's order (bit-identical on wasm). Everything else — slot creation,
 * getWeights/setWeights, checkpoints, dispose — is tfjs's own, so the two are interchangeable.
 * A variable whose memory is shared with another tensor is updated the ordinary way.
 */
import * as tf from "@tensorflow/tfjs";
import { NativeAddon } from "./addon";
import { nativeAddonFor } from "./kernels";
import { exclusiveView, HeapBackend, readView } from "./views";

interface Slot {
  originalName: string;
  variable: tf.Variable;
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /**
   * tfjs's Optimizer defines `instanceof` by duck typing (any optimizer is an "instance" of every
   * optimizer class), so code that needs this class asks here instead.
   */
  static is(optimizer: unknown): optimizer is FusedAdamOptimizer {
    return optimizer instanceof Object && Object.getPrototypeOf(optimizer) === FusedAdamOptimizer.prototype;
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    const backendName = tf.getBackend();
    const addon = nativeAddonFor(backendName);
    if (!addon || Array.isArray(variableGradients)) {
      super.applyGradients(variableGradients);
      return;
    }
    this.applyFused(addon, backendName, variableGradients as tf.NamedTensorMap);
  }

  private applyFused(addon: NativeAddon, backendName: string, grads: tf.NamedTensorMap): void {
    const self = this as unknown as {
      accumulatedFirstMoment: Slot[];
      accumulatedSecondMoment: Slot[];
      accBeta1: tf.Variable;
      accBeta2: tf.Variable;
      beta1: number;
      beta2: number;
      epsilon: number;
      learningRate: number;
      incrementIterations(): void;
    };
    const backend = tf.backend() as unknown as HeapBackend;
    // tfjs forms (1 − β1ᵗ) in float32 from the float32 running product; so do we.
    const oneMinusAcc1 = Math.fround(1 - self.accBeta1.dataSync()[0]);
    const oneMinusAcc2 = Math.fround(1 - self.accBeta2.dataSync()[0]);
    Object.keys(grads).forEach((name, i) => {
      const value = tf.engine().registeredVariables[name];
      if (self.accumulatedFirstMoment[i] == null) {
        self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      }
      if (self.accumulatedSecondMoment[i] == null) {
        self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
      }
      const gradient = grads[name];
      if (gradient == null) return;
      const m = self.accumulatedFirstMoment[i].variable;
      const v = self.accumulatedSecondMoment[i].variable;
      // Views are taken last: nothing may allocate (and so move the wasm heap) before the call.
      const views = [exclusiveView(backendName, backend, value), readView(backendName, backend, gradient), exclusiveView(backendName, backend, m), exclusiveView(backendName, backend, v)];
      if (views.some((view) => view === undefined) || views[0]!.length !== views[1]!.length) {
        this.updateOne(value, gradient, m, v, oneMinusAcc1, oneMinusAcc2);
        return;
      }
      addon.adam(views[0]!, views[1]!, views[2]!, views[3]!, self.beta1, self.beta2, 1 - self.beta1, 1 - self.beta2, oneMinusAcc1, oneMinusAcc2, self.epsilon, -self.learningRate);
    });
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }

  /** The moment slots of the i-th variable of the gradient map's order, created as tfjs would. */
  slotsAt(index: number, variable: tf.Variable): { m: tf.Variable; v: tf.Variable } {
    const self = this as unknown as { accumulatedFirstMoment: Slot[]; accumulatedSecondMoment: Slot[] };
    if (self.accumulatedFirstMoment[index] == null) {
      self.accumulatedFirstMoment[index] = { originalName: `${variable.name}/m`, variable: tf.tidy(() => tf.zerosLike(variable).variable(false)) };
    }
    if (self.accumulatedSecondMoment[index] == null) {
      self.accumulatedSecondMoment[index] = { originalName: `${variable.name}/v`, variable: tf.tidy(() => tf.zerosLike(variable).variable(false)) };
    }
    return { m: self.accumulatedFirstMoment[index].variable, v: self.accumulatedSecondMoment[index].variable };
  }

  /** [β1, β2, 1−β1, 1−β2, 1−β1ᵗ, 1−β2ᵗ, ε, −lr] for a native update of this step (tfjs's float32 forms). */
  updateConstants(): number[] {
    const self = this as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable; beta1: number; beta2: number; epsilon: number; learningRate: number };
    return [
      self.beta1,
      self.beta2,
      1 - self.beta1,
      1 - self.beta2,
      Math.fround(1 - self.accBeta1.dataSync()[0]),
      Math.fround(1 - self.accBeta2.dataSync()[0]),
      self.epsilon,
      -self.learningRate,
    ];
  }

  /** Advances the running β powers and the iteration count after a native update. */
  finishNativeStep(): void {
    const self = this as unknown as { accBeta1: tf.Variable; accBeta2: tf.Variable; beta1: number; beta2: number; incrementIterations(): void };
    tf.tidy(() => {
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    self.incrementIterations();
  }

  /** tfjs's own update for one variable (used when its memory is shared). */
  private updateOne(value: tf.Variable, g: tf.Tensor, m: tf.Variable, v: tf.Variable, oneMinusAcc1: number, oneMinusAcc2: number): void {
    const { beta1, beta2, epsilon, learningRate } = this as unknown as { beta1: number; beta2: number; epsilon: number; learningRate: number };
    tf.tidy(() => {
      const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
      const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
      const mHat = tf.div(mNew, oneMinusAcc1);
      const vHat = tf.div(vNew, oneMinusAcc2);
      m.assign(mNew);
      v.assign(vNew);
      value.assign(tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), -learningRate), value));
    });
  }
}
