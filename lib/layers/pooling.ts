/**
 * Pooling. 2-D max / average pooling are tfjs's (their gradients, MaxPoolGrad and AvgPoolGrad, exist
 * on wasm). Over a padded sequence, pooling must ignore the padding:
 *   maskedMaxOverTime(h, m)[b, c]  = max_{t : m[b,t] = 1} h[b, t, c]   (0 for an all-padding row)
 *   maskedMeanOverTime(h, m)[b, c] = Σ_t m[b,t]·h[b,t,c] / max(1, Σ_t m[b,t])
 */
import * as tf from "@tensorflow/tfjs";

/** 2-D max pooling over NHWC images (square windows, "valid" padding). */
export function maxPool2d(x: tf.Tensor4D, size = 2, stride = size): tf.Tensor4D {
  return tf.maxPool(x, size, stride, "valid");
}

/** 2-D average pooling over NHWC images (square windows, "valid" padding). */
export function avgPool2d(x: tf.Tensor4D, size = 2, stride = size): tf.Tensor4D {
  return tf.avgPool(x, size, stride, "valid");
}

/** h: [batch, time, channels]; mask: [batch, time] of 0/1. */
export function maskedMaxOverTime(h: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const m = tf.expandDims(mask, 2);
    // Padding gets −1e9 so it never wins; an all-padding row then gives 0 after the mask below.
    const shifted = tf.add(tf.mul(h, m), tf.mul(tf.sub(1, m), -1e9));
    const any = tf.minimum(tf.sum(mask, 1, true), 1);
    return tf.mul(tf.max(shifted, 1), any) as tf.Tensor2D;
  });
}

/** The mean over the real (mask 1) time steps of h [batch, time, channels]; 0 for an all-padding row. */
export function maskedMeanOverTime(h: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const m = tf.expandDims(mask, 2);
    return tf.div(tf.sum(tf.mul(h, m), 1), tf.maximum(tf.sum(mask, 1, true), 1)) as tf.Tensor2D;
  });
}
