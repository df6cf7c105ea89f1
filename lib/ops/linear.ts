/**
 * The affine map `y = x·W + b` with a hand-written gradient that uses `matMulFast`, so training
 * takes each backend's fast matmul path. The gradient is the one autodiff would produce:
 *   ∂L/∂x = ∂L/∂y · Wᵀ,   ∂L/∂W = xᵀ · ∂L/∂y,   ∂L/∂b = Σ_rows ∂L/∂y.
 */
import * as tf from "@tensorflow/tfjs";
import { matMulFast } from "./matmul";

type LinearWithBias = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D;
type LinearNoBias = (x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D;

// tfjs does not export the CustomGradientFunc type, hence the casts around customGrad below.
const linearWithBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, save: tf.GradSaveFunc) => {
  save([x, w]);
  const value = tf.add(tf.matMul(x, w), b) as tf.Tensor2D;
  const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
    const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
    return [matMulFast(dy, ws, false, true), matMulFast(xs, dy, true, false), tf.sum(dy, 0)];
  };
  return { value, gradFunc };
}) as any) as unknown as LinearWithBias;

const linearNoBias = tf.customGrad(((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  const value = tf.matMul(x, w);
  const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
    const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
    return [matMulFast(dy, ws, false, true), matMulFast(xs, dy, true, false)];
  };
  return { value, gradFunc };
}) as any) as unknown as LinearNoBias;

/** `x·W (+ b)`: x is [batch, in], W is [in, out], b is [out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  return b ? linearWithBias(x, w, b) : linearNoBias(x, w);
}
