/**
 * The affine map `y = x·W + b` with a hand-written gradient that uses `matMulFast`, so training
 * takes each backend's fast matmul path. The gradient is the one autodiff would produce:
 *   ∂L/∂x = ∂L/∂y · Wᵀ,   ∂L/∂W = xᵀ · ∂L/∂y,   ∂L/∂b = Σ_rows ∂L/∂y.
 *
 * Each of the three is computed only when the backward pass needs it, as autodiff's own matMul
 * gradient is: the tape prunes inputs that lead to no differentiated variable, so the input
 * gradient of a network's first layer (x is data) is never formed. `tf.customGrad` cannot do that
 * (it computes every input's gradient eagerly, which on a 784-512-512 MLP cost a sixth of all
 * matmul time), so this records its tape node through the engine's `runKernelFunc`, the call
 * `tf.customGrad` itself is built on, with one lazy closure per input; where an engine lacks it,
 * `tf.customGrad` is the fallback.
 */
import * as tf from "@tensorflow/tfjs";
import { matMulFast } from "./matmul";

type LazyGrads = Record<string, () => tf.Tensor>;

/** The part of tfjs-core's Engine used here (present in tfjs 4.x; typed private there). */
interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: (tensors: tf.Tensor[]) => void) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => LazyGrads;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

function engineWithKernelFunc(): KernelFuncEngine | undefined {
  const engine = tf.engine() as unknown as Partial<KernelFuncEngine>;
  return typeof engine.runKernelFunc === "function" ? (engine as KernelFuncEngine) : undefined;
}

/** The three gradients of x·W + b as lazy closures (b's only when there is a bias). */
function linearGrads(dy: tf.Tensor2D, x: tf.Tensor2D, w: tf.Tensor2D, withBias: boolean): LazyGrads {
  const grads: LazyGrads = {
    x: () => matMulFast(dy, w, false, true),
    w: () => matMulFast(x, dy, true, false),
  };
  if (withBias) grads.b = () => tf.sum(dy, 0);
  return grads;
}

function forward(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const product = tf.matMul(x, w) as tf.Tensor2D;
  return b ? (tf.add(product, b) as tf.Tensor2D) : product;
}

function linearLazy(engine: KernelFuncEngine, x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const inputs: Record<string, tf.Tensor> = b ? { x, w, b } : { x, w };
  return engine.runKernelFunc({
    inputs,
    forwardFunc: (_backend, save) => {
      save([x, w]);
      return forward(x, w, b);
    },
    backwardsFunc: (dy, saved) => linearGrads(dy as tf.Tensor2D, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, b !== undefined),
  }) as tf.Tensor2D;
}

// Fallback: every gradient computed eagerly. tfjs does not export the CustomGradientFunc type,
// hence the casts.
type LinearWithBias = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
type LinearNoBias = (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

const eagerWithBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
    const g = linearGrads(dy, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, true);
    return [g.x(), g.w(), g.b()];
  };
  return { value: forward(x, w, b), gradFunc };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as LinearWithBias;

const eagerNoBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
    const g = linearGrads(dy, saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, false);
    return [g.x(), g.w()];
  };
  return { value: forward(x, w), gradFunc };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as LinearNoBias;

/** `x·W (+ b)`: x is [batch, in], W is [in, out], b is [out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const engine = engineWithKernelFunc();
  if (engine) return linearLazy(engine, x, w, b);
  return b ? eagerWithBias(x, w, b) : eagerNoBias(x, w);
}
