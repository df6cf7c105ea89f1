/**
 * Small pieces the multi-tower and mixture-of-experts architectures share: option checks that
 * name the task at fault, per-task specs, softmax gates and the gated mixture of expert outputs.
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { Block } from "../layers/block";
import { Dense, Initializer } from "../layers/dense";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { checkUniqueTaskNames } from "./hardSharing";

/** Refuses an empty or malformed task list. */
export function checkTasks(where: string, tasks: unknown): asserts tasks is Task[] {
  check(Array.isArray(tasks) && tasks.length > 0, where, () => "option 'tasks' must list at least one task.");
  checkUniqueTaskNames(where, tasks as Task[]);
}

/** Refuses keys of a per-task option that are not task names. */
export function checkTaskKeys(where: string, option: string, record: object, taskNames: readonly string[]): void {
  for (const key of Object.keys(record)) {
    check(
      taskNames.includes(key),
      where,
      () => `option '${option}' names task '${key}', which is not one of the tasks (${taskNames.join(", ")}).`,
    );
  }
}

/** Layer sizes: a list of positive integers (possibly empty). */
export function checkSizes(where: string, option: string, sizes: unknown, allowEmpty = true): asserts sizes is number[] {
  check(
    Array.isArray(sizes) && (allowEmpty || sizes.length > 0) && sizes.every((s) => Number.isInteger(s) && s > 0),
    where,
    () => `option '${option}' must be a list of positive layer sizes${allowEmpty ? "" : " (at least one)"}, got ${JSON.stringify(sizes)}.`,
  );
}

/** A value given once for all tasks or per task name, resolved in task order. */
export function perTask<T>(
  where: string,
  option: string,
  value: T | Record<string, T>,
  taskNames: readonly string[],
  isSingle: (v: unknown) => v is T,
  fallback?: T,
): T[] {
  if (isSingle(value)) return taskNames.map(() => value);
  check(
    value !== null && typeof value === "object",
    where,
    () => `option '${option}' must be given once for all tasks or as an object keyed by task name.`,
  );
  const record = value as Record<string, T>;
  checkTaskKeys(where, option, record, taskNames);
  return taskNames.map((t) => {
    const v = record[t] ?? fallback;
    check(v !== undefined, where, () => `option '${option}' has no entry for task '${t}'.`);
    return v;
  });
}

export function isSizes(v: unknown): v is number[] {
  return Array.isArray(v);
}

/**
 * A softmax gate g(x) = softmax(x·W (+ b)) over n experts. The MMoE and PLE papers write
 * g(x) = softmax(W x) without a bias; `bias: true` adds one (as LibMTL's implementation does).
 */
export class Gate {
  readonly dense: Dense;

  constructor(
    readonly name: string,
    inputSize: number,
    readonly experts: number,
    rng: Rng,
    options: { bias: boolean; init?: Initializer },
  ) {
    this.dense = new Dense(name, inputSize, experts, rng, { activation: "linear", useBias: options.bias, init: options.init });
  }

  /** The gate's weights, [batch, experts], each row on the simplex. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.softmax(this.dense.apply(x));
  }

  namedVariables(): Array<[string, tf.Variable]> {
    return this.dense.namedVariables();
  }

  /** Multiply-adds of the logits plus the softmax (~3 per expert). */
  flopsPerExample(): number {
    return this.dense.flopsPerExample() + 3 * this.experts;
  }

  dispose(): void {
    this.dense.dispose();
  }
}

/** Σ_e g_e · f_e: the gated mixture of expert outputs (each [batch, h]) with weights g [batch, n]. */
export function mixExperts(weights: tf.Tensor2D, outputs: tf.Tensor2D[]): tf.Tensor2D {
  return tf.tidy(() => {
    if (outputs.length === 1) return tf.mul(weights, outputs[0]) as tf.Tensor2D; // [b,1] broadcasts over h
    const stacked = tf.stack(outputs, 1); // [batch, n, h]
    return tf.sum(tf.mul(tf.expandDims(weights, 2), stacked), 1) as tf.Tensor2D;
  });
}

/**
 * The same mixture when the n expert outputs sit side by side in z [batch, n·h] (MMoE's shared
 * representation): Σ_{j} g_j · z[:, e_j·h : (e_j + 1)·h] for the experts e_j a gate mixes.
 * Computed as one batched product g [batch, 1, n] × z [batch, n, h] → [batch, 1, h] on a reshape
 * of z, so neither the forward pass nor the gradient slices, stacks or unstacks anything. A gate
 * over some of the experts is first spread over all n (weights · a 0/1 selection matrix: each
 * column has one 1, so the spread weights are exact).
 */
export function mixSideBySide(weights: tf.Tensor2D, z: tf.Tensor2D, experts: number[], n: number): tf.Tensor2D {
  return tf.tidy(() => {
    const [batch, width] = z.shape;
    const h = width / n;
    if (n === 1) return tf.mul(weights, z) as tf.Tensor2D; // [b,1] broadcasts over h
    let full = weights;
    if (experts.length !== n || experts.some((e, j) => e !== j)) {
      const selection = new Float32Array(experts.length * n);
      experts.forEach((e, j) => (selection[j * n + e] = 1));
      full = tf.matMul(weights, tf.tensor2d(selection, [experts.length, n]));
    }
    const mixed = tf.matMul(tf.reshape(full, [batch, 1, n]), tf.reshape(z, [batch, n, h]) as tf.Tensor3D);
    return tf.reshape(mixed, [batch, h]) as tf.Tensor2D;
  });
}

/** Forward multiply-adds of a gated mixture of n outputs of width h. */
export function mixFlops(n: number, h: number): number {
  return 2 * n * h;
}

/** Sum of blocks' FLOPs, or undefined when any is unknown. */
export function sumFlops(parts: Array<number | undefined>): number | undefined {
  return parts.every((p) => p !== undefined) ? parts.reduce<number>((a, b) => a + (b as number), 0) : undefined;
}

/** Named variables of several blocks, in order. */
export function variablesOf(blocks: Array<Pick<Block, "namedVariables">>): Array<[string, tf.Variable]> {
  return blocks.flatMap((b) => b.namedVariables());
}

/** Splits z [batch, Σ sizes] column-wise into parts of the given widths. */
export function splitColumns(z: tf.Tensor2D, sizes: number[]): tf.Tensor2D[] {
  return sizes.length === 1 ? [z] : (tf.split(z, sizes, 1) as tf.Tensor2D[]);
}
