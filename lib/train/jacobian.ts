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
import { Matrix } from "../aggregators/linalg/matrix";
import { Level, rowScaledGramianReads } from "../aggregators/types";
import { matMulFast } from "../ops/matmul";
import { readsAsync } from "../util/reads";

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
  const width = level === "rep" ? z.size : shared.reduce((n, v) => n + v.size, 0);
  // Every task's pieces flattened, in row order, and joined by one concat: one copy into J.
  const parts = losses.flatMap((loss, i) => {
    const own = taskVars[i];
    if (!loss) {
      heads.push(own.map(() => undefined));
      return [tf.zeros([width])];
    }
    const targets: tf.Tensor[] = level === "param" ? [...shared, ...own] : [z, ...own];
    const grads = vjp(loss, targets);
    const front = level === "param" ? shared.length : 1;
    heads.push(grads.slice(front));
    if (level === "rep") return [tf.reshape(grads[0] ?? tf.zerosLike(z), [-1])];
    return shared.map((v, j) => tf.reshape(grads[j] ?? tf.zerosLike(v), [-1]));
  });
  const flat = parts.length === 1 ? parts[0] : tf.concat(parts);
  return { jacobian: tf.reshape(flat, [losses.length, width]) as tf.Tensor2D, heads };
}

/**
 * G = J Jᵀ (float64) of the trainer's Jacobian, and the first row that is not finite (-1 if none),
 * in one awaited read for any ordinary J: the diagonal is the rows' squared norms, so it is finite
 * exactly when the rows are, unless a square overflows or underflows float32. G is first formed
 * directly; where a diagonal entry is not finite, below n·2⁻¹⁰⁰ (products under float32's normal
 * range could lose precision) or zero for a row that is not `zeroRows`, it is formed again with each
 * row scaled by a power of two (`rowScaledGramianReads`), which tells a non-finite row from an
 * overflow. A finite diagonal bounds every partial sum (Cauchy–Schwarz), so the direct G cannot have
 * overflowed; in the ordinary range both ways give `gramianOf`'s values bit for bit.
 * The tape is suspended meanwhile (nothing here is differentiated).
 */
export async function checkedGramian(jacobian: tf.Tensor2D, zeroRows: readonly boolean[]): Promise<{ gramian: Matrix; badRow: number }> {
  return suspendTape(async () => {
    const [k, n] = jacobian.shape;
    const tiny = n * 2 ** -100;
    const direct = await readSquare(matMulFast(jacobian, jacobian, false, true), k);
    if (direct.every((row, i) => Number.isFinite(row[i]) && (row[i] >= tiny || (row[i] === 0 && zeroRows[i]))))
      return { gramian: direct, badRow: -1 };
    const gramian = await readsAsync(rowScaledGramianReads(jacobian));
    return { gramian, badRow: gramian.findIndex((row, i) => !Number.isFinite(row[i])) };
  });
}

async function readSquare(t: tf.Tensor2D, k: number): Promise<Matrix> {
  try {
    const flat = await t.data();
    return Array.from({ length: k }, (_, i) => Array.from(flat.subarray(i * k, (i + 1) * k)));
  } finally {
    t.dispose();
  }
}

/** The engine's tape state (public in tfjs's engine, not in its typings). */
interface TapeState {
  state: { gradientDepth: number; activeTape: unknown[] | null };
}

/**
 * Runs `body` (async) with the open tape suspended: its ops are not recorded, so tfjs does not copy
 * their inputs for a backward pass that never comes, and a gradient computation inside it (a
 * user's aggregator may run one) gets a tape of its own, as outside any step. The tape recorded so
 * far is restored when the body settles. One body at a time, like ../tape.ts's recordAsync.
 */
export async function suspendTape<T>(body: () => Promise<T>): Promise<T> {
  const engine = tf.engine() as unknown as TapeState;
  const { gradientDepth, activeTape } = engine.state;
  engine.state.gradientDepth = 0;
  engine.state.activeTape = null;
  try {
    return await body();
  } finally {
    engine.state.gradientDepth = gradientDepth;
    engine.state.activeTape = activeTape;
  }
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
