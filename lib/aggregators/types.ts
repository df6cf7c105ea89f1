/**
 * The aggregator contract (see docs/aggregators.md): an aggregator turns the
 * Jacobian J (k × d, row i = gradient of task i) into one update direction d ∈ ℝ^d, before the
 * learning rate. Methods defined by weights on the Gramian G = J Jᵀ (MGDA, UPGrad, IMTL-G, …) follow
 * torchjd's split: a *weighting* G ↦ w ∈ ℝ^k in float64 on the k × k matrix, and the aggregator
 * applies it, d = Jᵀ w. The big-d work is then two matrix products on the tfjs backend.
 */
import * as tf from "@tensorflow/tfjs";
import { check, MtlError } from "../errors";
import { matMulFast, transposesExplicitly } from "../ops/matmul";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { Matrix } from "./linalg/matrix";

/** Where the per-task gradients are taken: shared parameters θ_s, or the shared representation z. */
export type Level = "param" | "rep";

/** What the trainer knows about the step, for methods that need more than the Jacobian. */
export interface AggregationContext {
  /** Task names in row order (used in error messages, and to check the row count). */
  taskNames?: readonly string[];
  /** The task losses L_i of the step (MGDA's "loss" normalisations, DB-MTL). */
  losses?: number[];
  /** The level the Jacobian was taken at. */
  level?: Level;
  /** The shared representation z [batch, width] at level "rep" (GradDrop's sign(z) and batch sums). */
  representation?: tf.Tensor2D;
  /** The trainer already checked the rows are finite. */
  rowsChecked?: boolean;
  /**
   * G = J Jᵀ of exactly this Jacobian in float64, when the trainer already formed it (its finiteness
   * check reads it); Gramian-based methods use it instead of forming it again.
   */
  gramian?: Matrix;
  /**
   * Per task of the model, whether it has a loss at this step; given when a task is absent
   * (docs/missing-labels.md). A method with `absentTasks: "zero"` then gets every row (absent rows
   * zero); any other gets the present tasks' rows only, in task order.
   */
  present?: readonly boolean[];
}

/**
 * A gradient aggregator: the per-task gradients J (k × d, row i = ∇L_i) → one update d. The trainer's
 * `aggregator` option takes one.
 */
export interface Aggregator {
  /** Short name, e.g. "PCGrad". */
  readonly name: string;
  /** The levels the method is defined at. */
  readonly levels: readonly Level[];
  /** d from J [k, d]. The caller owns J; the result is a new tensor. */
  aggregate(jacobian: tf.Tensor2D, context?: AggregationContext): tf.Tensor1D;
  /**
   * The same with awaited reads (what the trainer calls, so the method runs on a backend that reads
   * only asynchronously, like WebGPU). Methods that read nothing back need not define it.
   */
  aggregateAsync?(jacobian: tf.Tensor2D, context?: AggregationContext): Promise<tf.Tensor1D>;
  /** The weights w with d = Jᵀ w that the last `aggregate` call used, where the method has them. */
  readonly lastWeights: number[] | undefined;
  /**
   * How a step in which some tasks have no loss (their labels masked on every row of the batch)
   * reaches the method. By default the trainer passes the present tasks' rows only, and the method
   * runs as if the other tasks did not exist. "zero": every row, the absent ones zero, with
   * `context.present`: for methods whose state follows each task (GradVac, MoCo, DB-MTL, GradDrop),
   * which then hold that task's state.
   */
  readonly absentTasks?: "zero";
  /** Checkpointable state of stateful methods (EMA, tracked gradients, random generator). */
  state?(): AggregatorState;
  /** The same with awaited reads, for a method whose state lives in tensors (checkpoints use it). */
  stateAsync?(): Promise<AggregatorState>;
  loadState?(state: AggregatorState): void;
  toString(): string;
}

/** A Gramian-based aggregator also exposes its weighting. */
export interface GramianAggregator extends Aggregator {
  /** w ∈ ℝ^k from the Gramian G = J Jᵀ (float64). May update the method's state (GradVac's EMA). */
  weights(gramian: Matrix, context?: AggregationContext): number[];
}

/** An aggregator's state as JSON (random generators, running averages), which checkpoints carry. */
export type AggregatorState = Record<string, unknown>;

/** The name of row i in messages: the task's name if known, else "row i". */
export function rowName(i: number, context?: AggregationContext): string {
  return context?.taskNames?.[i] !== undefined ? `task '${context.taskNames[i]}'` : `row ${i} (task ${i})`;
}

/** Refuses a malformed Jacobian: not 2-D, no rows, a row count that is not the task count, non-finite rows. */
export function checkJacobian(where: string, jacobian: tf.Tensor, context?: AggregationContext, expectedRows?: number): void {
  readsSync(jacobianChecks(where, jacobian, context, expectedRows));
}

/** checkJacobian as a computation that reads (the finiteness of the rows), for either driver. */
export function* jacobianChecks(where: string, jacobian: tf.Tensor, context?: AggregationContext, expectedRows?: number): Reads<void> {
  check(
    jacobian instanceof tf.Tensor && jacobian.rank === 2,
    where,
    () => `the Jacobian must be a 2-D tensor [tasks, parameters], got shape [${(jacobian as tf.Tensor)?.shape}].`,
  );
  const k = jacobian.shape[0];
  check(k > 0, where, () => "the Jacobian has no rows (no tasks).");
  const tasks = context?.taskNames;
  if (tasks)
    check(k === tasks.length, where, () => `the Jacobian has ${k} rows but there are ${tasks.length} tasks (${tasks.join(", ")}).`);
  if (expectedRows !== undefined)
    check(k === expectedRows, where, () => `the Jacobian has ${k} rows but this aggregator's state is for ${expectedRows} tasks.`);
  if (context?.rowsChecked) return;
  const bad = yield tf.tidy(() => tf.any(tf.logicalNot(tf.isFinite(jacobian)), 1));
  for (let i = 0; i < k; i++) {
    if (bad[i]) throw new MtlError(where, `the gradient of ${rowName(i, context)} has a non-finite entry (NaN or ±Infinity).`);
  }
}

/** Refuses a malformed Gramian: not square, non-finite, asymmetric, or with a negative diagonal. */
export function checkGramian(where: string, G: Matrix, context?: AggregationContext): void {
  check(Array.isArray(G) && G.length > 0, where, () => "the Gramian must be a non-empty k × k array.");
  const k = G.length;
  if (context?.taskNames)
    check(k === context.taskNames.length, where, () => `the Gramian is ${k} × ${k} but there are ${context.taskNames!.length} tasks.`);
  for (let i = 0; i < k; i++) {
    check(
      Array.isArray(G[i]) && G[i].length === k,
      where,
      () => `the Gramian must be square: row ${i} has ${G[i]?.length} entries for ${k} rows.`,
    );
    for (let j = 0; j < k; j++) {
      if (!Number.isFinite(G[i][j]))
        throw new MtlError(where, `the Gramian entry (${i}, ${j}) is ${G[i][j]}: the gradient of ${rowName(i, context)} is not finite.`);
    }
    check(
      G[i][i] >= 0,
      where,
      () => `the Gramian has a negative diagonal entry ${G[i][i]} at ${rowName(i, context)}; a Gramian is positive semi-definite.`,
    );
  }
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < i; j++) {
      const tol = 1e-5 * Math.sqrt(G[i][i] * G[j][j]) + 1e-30;
      check(
        Math.abs(G[i][j] - G[j][i]) <= tol,
        where,
        () => `the Gramian is not symmetric: entries (${i}, ${j}) and (${j}, ${i}) are ${G[i][j]} and ${G[j][i]}.`,
      );
    }
  }
}

/**
 * A power of two 2⁻ᵉ with 2ᵉ ≈ max |X| (e an integer in [−126, 126], so both 2ᵉ and 2⁻ᵉ are normal
 * float32 numbers), as a scalar tensor: X·2⁻ᵉ has entries of order 1 and is exact. An all-zero X
 * gives 2¹²⁶ (harmless); a non-finite X gives a non-finite or zero factor, so its products stay non-finite.
 */
export function unitScale(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const e = tf.clipByValue(tf.floor(tf.div(tf.log(tf.max(tf.abs(x))), Math.LN2)), -126, 126);
    return tf.pow(tf.scalar(2), tf.neg(e)) as tf.Scalar;
  });
}

/**
 * G = J Jᵀ read back as float64 rows. The product is formed in float32 on J·2⁻ᵉ (2ᵉ ≈ max |J|, an
 * exact power of two) and scaled back by 4ᵉ in float64: squared entries of J itself would overflow
 * float32 above ~1e19 and underflow below ~1e-19, while every finite J has a finite, accurate G this
 * way. For J in the ordinary range the result is bit-identical to forming J Jᵀ directly.
 */
export function gramianOf(jacobian: tf.Tensor2D): Matrix {
  return readsSync(gramianReads(jacobian));
}

/** gramianOf with an awaited read. */
export function gramianOfAsync(jacobian: tf.Tensor2D): Promise<Matrix> {
  return readsAsync(gramianReads(jacobian));
}

/** gramianOf as a computation that reads, for either driver. */
export function* gramianReads(jacobian: tf.Tensor2D): Reads<Matrix> {
  const k = jacobian.shape[0];
  const flat = yield tf.tidy(() => {
    const scale = unitScale(jacobian);
    const scaled = tf.mul(jacobian, scale) as tf.Tensor2D;
    return tf.concat([tf.reshape(matMulFast(scaled, scaled, false, true), [k * k]), tf.reshape(scale, [1])]);
  });
  // The factor actually used, read back: exact even where a backend's pow is not.
  const back = 1 / (flat[k * k] * flat[k * k]);
  return Array.from({ length: k }, (_, i) => Array.from(flat.subarray(i * k, (i + 1) * k), (v) => v * back));
}

/**
 * G = J Jᵀ formed on J with each row i scaled by its own power of two 2⁻ᵉⁱ (2ᵉⁱ ≈ max_j |J_ij|) and
 * scaled back in float64, as a computation that reads. Like `gramianReads`, no finite J overflows or
 * underflows; and a non-finite entry in row i reaches only row and column i, so G_ii is finite
 * exactly when row i is (the trainer's check reads it there).
 */
export function* rowScaledGramianReads(jacobian: tf.Tensor2D): Reads<Matrix> {
  const k = jacobian.shape[0];
  const flat = yield tf.tidy(() => {
    const max = tf.max(tf.abs(jacobian), 1, true);
    const e = tf.clipByValue(tf.floor(tf.div(tf.log(max), Math.LN2)), -126, 126);
    const scale = tf.pow(tf.scalar(2), tf.neg(e));
    const scaled = tf.mul(jacobian, scale) as tf.Tensor2D;
    return tf.concat([tf.reshape(matMulFast(scaled, scaled, false, true), [k * k]), tf.reshape(scale, [k])]);
  });
  const s = flat.subarray(k * k);
  return Array.from({ length: k }, (_, i) => Array.from(flat.subarray(i * k, (i + 1) * k), (v, j) => v / (s[i] * s[j])));
}

/** The Euclidean norm of each row of X [k, d], formed on X·2⁻ᵉ like `gramianOf` (no float32 overflow). */
export function rowNorms(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const scale = unitScale(x);
    return tf.div(tf.sqrt(tf.sum(tf.square(tf.mul(x, scale)), 1)), scale) as tf.Tensor1D;
  });
}

/**
 * d = Jᵀ w. Where matmuls run on tfjs's own wasm or cpu kernels, as Σ_i w_i J_i over the rows:
 * tfjs-wasm's matmul repacks the whole [k, d] operand for a one-row product (measured 6.3 ms
 * against 1.9 for the rows on a [4, 400k] J); an sgemm (the native kernels) or a GPU takes the
 * product as it is.
 */
export function combine(jacobian: tf.Tensor2D, weights: number[]): tf.Tensor1D {
  return tf.tidy(() => {
    const k = weights.length;
    if (k > 1 && transposesExplicitly()) return tf.addN(tf.unstack(jacobian).map((row, i) => tf.mul(row, weights[i]))) as tf.Tensor1D;
    return tf.reshape(tf.matMul(tf.tensor2d(weights, [1, k]), jacobian), [jacobian.shape[1]]) as tf.Tensor1D;
  });
}

export const BOTH_LEVELS: readonly Level[] = ["param", "rep"];

/**
 * Builds a Gramian-based aggregator from its weighting: aggregate(J) = Jᵀ weights(J Jᵀ).
 * `rowsNeeded` is the task count the weighting's state is bound to, if any.
 */
export function gramianAggregator(
  name: string,
  levels: readonly Level[],
  weighting: (G: Matrix, context?: AggregationContext) => number[],
  extra: {
    describe?: string;
    state?: () => AggregatorState;
    loadState?: (s: AggregatorState) => void;
    rowsNeeded?: () => number | undefined;
    absentTasks?: "zero";
  } = {},
): GramianAggregator {
  let last: number[] | undefined;
  function* work(jacobian: tf.Tensor2D, context?: AggregationContext): Reads<tf.Tensor1D> {
    yield* jacobianChecks(name, jacobian, context, extra.rowsNeeded?.());
    const G = context?.gramian?.length === jacobian.shape[0] ? context.gramian : yield* gramianReads(jacobian);
    const w = aggregator.weights(G, { ...context, rowsChecked: true });
    last = w;
    return combine(jacobian, w);
  }
  const aggregator: GramianAggregator = {
    name,
    levels,
    get lastWeights() {
      return last ? [...last] : undefined;
    },
    weights(G: Matrix, context?: AggregationContext): number[] {
      checkGramian(name, G, context);
      const expected = extra.rowsNeeded?.();
      if (expected !== undefined)
        check(G.length === expected, name, () => `the Gramian is for ${G.length} tasks but this aggregator's state is for ${expected}.`);
      return weighting(G, context);
    },
    aggregate: (jacobian, context) => readsSync(work(jacobian, context)),
    aggregateAsync: (jacobian, context) => readsAsync(work(jacobian, context)),
    toString: () => extra.describe ?? name,
  };
  if (extra.state) aggregator.state = extra.state;
  if (extra.loadState) aggregator.loadState = extra.loadState;
  if (extra.absentTasks) Object.assign(aggregator, { absentTasks: extra.absentTasks });
  return aggregator;
}

/** Refuses a loss vector that is missing or of the wrong length, for methods that need the losses. */
export function requireLosses(where: string, k: number, context?: AggregationContext): number[] {
  const losses = context?.losses;
  check(
    Array.isArray(losses) && losses.length === k,
    where,
    () => `this method needs the task losses: pass { losses } (${k} numbers) in the context (the trainer does).`,
  );
  losses.forEach((l, i) => check(Number.isFinite(l), where, () => `the loss of ${rowName(i, context)} is ${l}.`));
  return losses;
}
