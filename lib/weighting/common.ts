/**
 * Small pieces the weighting methods share: option checks that name the method and the option,
 * state checks, a float64 softmax, and a float64 Adam for methods that update their own few
 * scalars outside the tensor graph (GradNorm's w_i, FAMO's logits ξ).
 */
import { check, checkKnownOptions, MtlError } from "../errors";
import { WeighContext, WeightingSetup, WeightingState } from "./types";

export function where(method: string): string {
  return `weighting.${method}`;
}

export function checkOptions(method: string, options: object | undefined, known: readonly string[]): void {
  checkKnownOptions(where(method), options, known);
}

/** A finite number option with an optional bound: `min` (inclusive) or `above` (exclusive). */
export function numberOption(
  method: string,
  name: string,
  value: unknown,
  bound: { min?: number; above?: number; max?: number } = {},
): number {
  const w = where(method);
  check(typeof value === "number" && Number.isFinite(value), w, () => `option '${name}' must be a finite number, got ${String(value)}.`);
  if (bound.min !== undefined) check(value >= bound.min, w, () => `option '${name}' must be ≥ ${bound.min}, got ${value}.`);
  if (bound.above !== undefined) check(value > bound.above, w, () => `option '${name}' must be > ${bound.above}, got ${value}.`);
  if (bound.max !== undefined) check(value <= bound.max, w, () => `option '${name}' must be ≤ ${bound.max}, got ${value}.`);
  return value;
}

/** A per-task list option: its length must be the number of tasks. */
export function checkPerTask(method: string, name: string, values: readonly unknown[], setup: WeightingSetup): void {
  const names = setup.tasks.map((t) => t.name);
  check(
    values.length === names.length,
    where(method),
    () => `option '${name}' has ${values.length} values for ${names.length} tasks (${names.join(", ")}).`,
  );
}

export function checkBound(method: string, k: number | undefined): number {
  if (k === undefined)
    throw new MtlError(where(method), "the method is not bound to tasks yet; pass it to a Trainer (or call bind) first.");
  return k;
}

/** Checks that `state` was written by this method and returns it as a record. */
export function readState(method: string, state: unknown): WeightingState {
  check(
    state !== null && typeof state === "object" && (state as WeightingState).method === method,
    where(method),
    () => `loadState got state of ${JSON.stringify((state as WeightingState | null)?.method ?? state)}, not of '${method}'.`,
  );
  return state as WeightingState;
}

export function numberArray(method: string, field: string, value: unknown, length?: number): number[] {
  check(
    Array.isArray(value) && value.every((v) => typeof v === "number") && (length === undefined || value.length === length),
    where(method),
    () => `state field '${field}' must be ${length === undefined ? "a list of numbers" : `${length} numbers`}.`,
  );
  return [...(value as number[])];
}

/** Per task, whether it has a loss at this step (every task when the context does not say). */
export function presentIn(context: Pick<WeighContext, "losses" | "present">): boolean[] {
  return context.present ? [...context.present] : context.losses.map(() => true);
}

/** The indices of the present tasks. */
export function presentIndices(present: readonly boolean[]): number[] {
  return present.flatMap((p, i) => (p ? [i] : []));
}

/** A number, or null where it is not finite (JSON keeps null, not NaN): for per-task state with gaps. */
export function finiteOrNull(values: readonly number[]): Array<number | null> {
  return values.map((v) => (Number.isFinite(v) ? v : null));
}

/** The inverse of finiteOrNull: null becomes NaN (a task whose entry is not known yet). */
export function numbersOrNaN(method: string, field: string, value: unknown, length?: number): number[] {
  check(
    Array.isArray(value) && value.every((v) => v === null || typeof v === "number") && (length === undefined || value.length === length),
    where(method),
    () => `state field '${field}' must be ${length === undefined ? "a list" : `${length} entries`} of numbers or null.`,
  );
  return (value as Array<number | null>).map((v) => (v === null ? NaN : v));
}

export function softmax(xs: readonly number[]): number[] {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export interface AdamState {
  m: number[];
  v: number[];
  t: number;
}

/**
 * Adam (Kingma & Ba 2015) in float64 with PyTorch's L2 `weight_decay` (added to the gradient):
 * g ← g + λp; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; p ← p − lr·m̂/(√v̂ + ε).
 */
export class Adam64 {
  private s: AdamState;

  constructor(
    size: number,
    readonly lr: number,
    readonly weightDecay = 0,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
  ) {
    this.s = { m: new Array(size).fill(0), v: new Array(size).fill(0), t: 0 };
  }

  /**
   * Returns the updated parameters. Entries with `active[i]` false (a task absent from the step)
   * keep their value and their moments.
   */
  step(params: readonly number[], grads: readonly number[], active?: readonly boolean[]): number[] {
    const { m, v } = this.s;
    this.s.t++;
    const c1 = 1 - Math.pow(this.beta1, this.s.t);
    const c2 = 1 - Math.pow(this.beta2, this.s.t);
    return params.map((p, i) => {
      if (active && !active[i]) return p;
      const g = grads[i] + this.weightDecay * p;
      m[i] = this.beta1 * m[i] + (1 - this.beta1) * g;
      v[i] = this.beta2 * v[i] + (1 - this.beta2) * g * g;
      return p - (this.lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + this.eps);
    });
  }

  getState(): AdamState {
    return { m: [...this.s.m], v: [...this.s.v], t: this.s.t };
  }

  setState(state: AdamState): void {
    this.s = { m: [...state.m], v: [...state.v], t: state.t };
  }
}
