import * as tf from "@tensorflow/tfjs";
import { MtlError } from "../errors";

/** The activation functions mtlkit's layers apply. */
export type Activation = "relu" | "tanh" | "sigmoid" | "elu" | "gelu" | "leakyRelu" | "linear";
export const ACTIVATIONS: readonly Activation[] = ["relu", "tanh", "sigmoid", "elu", "gelu", "leakyRelu", "linear"];

export function checkActivation(where: string, activation: unknown): asserts activation is Activation {
  if (!ACTIVATIONS.includes(activation as Activation)) {
    throw new MtlError(where, `unknown activation '${String(activation)}'. Known activations: ${ACTIVATIONS.join(", ")}.`);
  }
}

export function activate<T extends tf.Tensor>(x: T, activation: Activation): T {
  switch (activation) {
    case "relu":
      return tf.relu(x);
    case "tanh":
      return tf.tanh(x);
    case "sigmoid":
      return tf.sigmoid(x);
    case "elu":
      return tf.elu(x);
    case "leakyRelu":
      return tf.leakyRelu(x, 0.01);
    case "gelu":
      // tanh approximation, as PyTorch's gelu(approximate="tanh").
      return tf.tidy(() => {
        const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
        return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
      }) as T;
    case "linear":
      return x;
  }
}
