/**
 * Per-task gradients from one forward pass.
 *
 * `recordOnce(body)` runs `body` with tfjs's gradient tape recording, inside an outer
 * `engine.gradients` call that differentiates nothing. Inside, `vjp(y, xs, dy)` differentiates any
 * recorded y w.r.t. xs by replaying only the recorded path from xs to y: nested gradient calls
 * reuse the outer tape (tfjs clears it only when the outermost call ends), so k task losses give
 * k backward passes and no second forward pass. This works for every model whose forward pass is
 * tfjs ops — mtlkit's layers and a user's tf.LayersModel or function alike; nothing is recomputed.
 * The saved activations are freed when the outer call ends.
 *
 * Levels (Sener & Koltun 2018; LibMTL's rep_grad):
 *   "param": row i = ∂L_i/∂θ_s flattened over the shared variables (k × |θ_s|);
 *   "rep":   row i = ∂L_i/∂z flattened over batch × width (k × batch·width), z = model.encode(x).
 * Each task's own head gradient ∂L_i/∂θ_i comes out of the same backward pass.
 */
import * as tf from "@tensorflow/tfjs";
import { Level } from "../aggregators/types";

/** ∂y/∂xs with cotangent dy, through the tape being recorded. Unreached xs give undefined. */
export function vjp(y: tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): Array<tf.Tensor | undefined> {
  const { grads } = tf.engine().gradients(() => y, xs, dy, true);
  return grads.map((g) => g ?? undefined);
}

/**
 * Runs `body` with the tape recording (so `vjp` can replay it many times) and returns its result.
 * Tensors the result holds must be `tf.keep`-ed inside body; everything else is freed when it ends.
 */
export function recordOnce<T>(anchor: tf.Tensor, body: () => T): T {
  let result!: T;
  let failure: unknown;
  const { value } = tf.engine().gradients(
    () => {
      try {
        result = body();
      } catch (e) {
        failure = e;
      }
      return tf.scalar(0);
    },
    [anchor],
    undefined,
    true,
  );
  value.dispose();
  if (failure !== undefined) throw failure;
  return result;
}

export interface TaskGradients {
  /** k × d: row i is task i's gradient at the chosen level. */
  jacobian: tf.Tensor2D;
  /** Per task, the gradient of L_i w.r.t. each of its own variables (undefined if unreached). */
  heads: Array<Array<tf.Tensor | undefined>>;
}

/**
 * The Jacobian at `level` and the heads' gradients, from losses recorded on the tape.
 * `shared` are θ_s, `taskVars[i]` are θ_i, `z` the recorded representation. A task without a loss
 * at this step (undefined: no labelled row in the batch) has a zero row and no head gradients.
 */
export function taskGradients(
  level: Level,
  losses: Array<tf.Scalar | undefined>,
  shared: tf.Variable[],
  taskVars: tf.Variable[][],
  z: tf.Tensor2D,
): TaskGradients {
  const heads: Array<Array<tf.Tensor | undefined>> = [];
  const rows = losses.map((loss, i) => {
    const own = taskVars[i];
    if (!loss) {
      heads.push(own.map(() => undefined));
      return level === "rep" ? tf.reshape(tf.zerosLike(z), [-1]) : tf.zeros([shared.reduce((n, v) => n + v.size, 0)]);
    }
    const targets: tf.Tensor[] = level === "param" ? [...shared, ...own] : [z, ...own];
    const grads = vjp(loss, targets);
    const front = level === "param" ? shared.length : 1;
    heads.push(grads.slice(front));
    if (level === "rep") return tf.reshape(grads[0] ?? tf.zerosLike(z), [-1]);
    const parts = shared.map((v, j) => tf.reshape(grads[j] ?? tf.zerosLike(v), [-1]));
    return parts.length === 1 ? parts[0] : tf.concat(parts);
  });
  return { jacobian: tf.stack(rows) as tf.Tensor2D, heads };
}

/** Splits a flat update over the shared variables back into their shapes. */
export function splitUpdate(direction: tf.Tensor1D, shared: tf.Variable[]): tf.Tensor[] {
  let offset = 0;
  return shared.map((v) => {
    const part = tf.reshape(tf.slice(direction, [offset], [v.size]), v.shape);
    offset += v.size;
    return part;
  });
}
