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
 *
 * With an activation (`linear(x, W, b, "relu")` is relu(x·W + b)) and mtlkit's native dense kernels
 * active on the backend (lib/native/denseKernels), the whole layer is one tape node of three
 * kernels instead of about ten: forward, one `_FusedMatMul` (product, bias and relu in one pass);
 * backward, one `MtlkitDenseGrad` (∂L/∂z = ∂L/∂y · step(y) and ∂L/∂b = Σ_rows ∂L/∂z in one pass),
 * then the two products from ∂L/∂z. Elsewhere the activation is tfjs's op after the affine map.
 */
import * as tf from "@tensorflow/tfjs";
import { DENSE_GRAD } from "../native/denseKernels";
import { matMulFast } from "./matmul";

/** Activations `linear` fuses into the layer (others: apply them to its result). */
export type LinearActivation = "linear" | "relu";

/** A tape node's gradient per input, each formed only if the backward pass needs it. */
export type LazyGrads = Record<string, () => tf.Tensor>;

/** The part of tfjs-core's Engine used here (present in tfjs 4.x; typed private there). */
export interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: unknown, save: (tensors: tf.Tensor[]) => void) => tf.Tensor;
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => LazyGrads;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor;
}

/** The engine, when it records custom tape nodes with lazy gradients (tfjs 4.x). */
export function engineWithKernelFunc(): KernelFuncEngine | undefined {
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

/** The native fused layer: one `_FusedMatMul` forward, one `MtlkitDenseGrad` and two products backward. */
function linearFused(
  engine: KernelFuncEngine,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  b: tf.Tensor1D | undefined,
  activation: LinearActivation,
): tf.Tensor2D {
  const inputs: Record<string, tf.Tensor> = b ? { x, w, b } : { x, w };
  const relu = activation === "relu";
  return engine.runKernelFunc({
    inputs,
    forwardFunc: (_backend, save) => {
      const y = tf.engine().runKernel("_FusedMatMul", b ? { a: x, b: w, bias: b } : { a: x, b: w }, {
        transposeA: false,
        transposeB: false,
        activation,
      }) as tf.Tensor2D;
      save(relu ? [x, w, y] : [x, w]);
      return y;
    },
    backwardsFunc: (dy, saved) => {
      let dz = dy as tf.Tensor2D;
      let db: tf.Tensor | undefined;
      if (relu || b) {
        // Formed now, once, for all three gradients; the backward pass's scope disposes what goes unused.
        const out = tf.engine().runKernel(DENSE_GRAD, relu ? { dy, y: saved[2] } : { dy }, { activation, bias: b !== undefined });
        const list = Array.isArray(out) ? (out as tf.Tensor[]) : [out as tf.Tensor];
        if (relu) dz = list[0] as tf.Tensor2D;
        if (b) db = list[list.length - 1];
      }
      const sx = saved[0] as tf.Tensor2D;
      const sw = saved[1] as tf.Tensor2D;
      const grads: LazyGrads = {
        x: () => matMulFast(dz, sw, false, true),
        w: () => matMulFast(sx, dz, true, false),
      };
      if (db) {
        const bias = db;
        grads.b = () => bias;
      }
      return grads;
    },
  }) as tf.Tensor2D;
}

/** True when the active backend runs mtlkit's native dense kernels (lib/native/denseKernels). */
export function fusedDenseActive(): boolean {
  return tf.getKernel(DENSE_GRAD, tf.getBackend()) !== undefined;
}

/**
 * `act(x·W (+ b))`: x is [batch, in], W is [in, out], b is [out]; activation "linear" (default: none)
 * or "relu".
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D, activation: LinearActivation = "linear"): tf.Tensor2D {
  const engine = engineWithKernelFunc();
  if (engine && fusedDenseActive()) return linearFused(engine, x, w, b, activation);
  const y = engine ? linearLazy(engine, x, w, b) : b ? eagerWithBias(x, w, b) : eagerNoBias(x, w);
  return activation === "relu" ? tf.relu(y) : y;
}
