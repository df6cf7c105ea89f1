/**
 * Optimizers. Any tf.Optimizer works; these helpers give the defaults PyTorch users expect.
 * `adam` uses ε = 1e-8 (PyTorch's default; tfjs's own default is 1e-7), so a model trained here
 * and in PyTorch from the same weights follows the same path.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { FusedAdamOptimizer } from "../native/adam";

/** Options of {@link adam}, PyTorch's defaults: learning rate 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-8. */
export interface AdamOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Adam (Kingma & Ba, ICLR 2015) as torch.optim.Adam computes it: bias corrections 1 − βᵗ in float64
 * from the step count (tfjs's own AdamOptimizer forms them in float32; lib/native/adam.ts). When
 * mtlkit's native kernels are enabled (see `useBestBackend`), each variable's update runs as one
 * fused native call with the same float32 arithmetic as the tfjs-op path.
 */
export function adam(options: AdamOptions = {}): tf.AdamOptimizer {
  const lr = options.learningRate ?? 1e-3;
  check(Number.isFinite(lr) && lr > 0, "optimizers.adam", () => `option 'learningRate' must be a positive number, got ${lr}.`);
  return new FusedAdamOptimizer(lr, options.beta1 ?? 0.9, options.beta2 ?? 0.999, options.epsilon ?? 1e-8);
}

/** Plain SGD, or SGD with momentum, as tfjs's optimizers. */
export function sgd(learningRate: number, momentum = 0): tf.Optimizer {
  check(
    Number.isFinite(learningRate) && learningRate > 0,
    "optimizers.sgd",
    () => `learning rate must be a positive number, got ${learningRate}.`,
  );
  return momentum > 0 ? tf.train.momentum(learningRate, momentum) : tf.train.sgd(learningRate);
}
