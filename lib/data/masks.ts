/**
 * Per-task label masks: which rows carry each task's label.
 *
 * A dataset's `masks[task]` is a Uint8Array of its rows, 1 where the row has the task's label and 0
 * where it does not; a task without an entry is labelled on every row. The target value stored at
 * an unlabelled row is a placeholder 0 (valid for every task kind) and is never read: the training
 * step computes the task's loss on its labelled rows only (the mean over them), `evaluate` scores
 * them only, and a batch with none of them contributes nothing for the task (docs/missing-labels.md).
 */
import { check, MtlError } from "../errors";
import { Task, TargetArray } from "../tasks/task";
import type { MultiTaskData } from "./dataset";

/** Label masks per task name: 1 = the row has the task's label, 0 = it does not. */
export type LabelMasks = Readonly<Record<string, Uint8Array>>;

/** The mask of `task` on `data`, or undefined when every row has its label. */
export function labelMask(data: MultiTaskData, task: string): Uint8Array | undefined {
  return data.masks?.[task];
}

/** How many rows of `data` carry the label of `task`. */
export function labelledCount(data: MultiTaskData, task: string): number {
  const mask = labelMask(data, task);
  if (!mask) return data.rows;
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n;
}

/** Labelled rows per task name, for every task that has targets in `data`. */
export function labelledCounts(data: MultiTaskData): Record<string, number> {
  return Object.fromEntries(Object.keys(data.targets).map((name) => [name, labelledCount(data, name)]));
}

/** Refuses masks that do not fit the dataset: an unknown task, a wrong length, a value not 0/1. */
export function checkMasks(where: string, data: MultiTaskData): void {
  if (data.masks === undefined) return;
  check(data.masks !== null && typeof data.masks === "object", where, () => "'masks' must map task names to Uint8Arrays of 0/1 per row.");
  for (const [name, mask] of Object.entries(data.masks)) {
    check(
      name in data.targets,
      where,
      () => `the label mask of task '${name}' names no task of the dataset (it has targets for: ${Object.keys(data.targets).join(", ")}).`,
    );
    check(mask instanceof Uint8Array, where, () => `the label mask of task '${name}' must be a Uint8Array of 0/1 per row.`);
    check(
      mask.length === data.rows,
      where,
      () => `the label mask of task '${name}' has ${mask.length} entries but the dataset has ${data.rows} rows.`,
    );
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] !== 0 && mask[i] !== 1)
        throw new MtlError(where, `the label mask of task '${name}' has ${mask[i]} at row ${i}; entries must be 0 or 1.`);
    }
  }
}

/** Refuses training data on which some task has no labelled row at all (it could learn nothing). */
export function checkLabelled(where: string, data: MultiTaskData, tasks: readonly Task[], what = "the training data"): void {
  for (const task of tasks) {
    if (labelledCount(data, task.name) === 0) {
      throw new MtlError(
        `${task.kind}('${task.name}')`,
        `${what} has no row labelled for this task (all ${data.rows} rows are masked); it would learn nothing. ` +
          `Give it labelled rows, or leave the task out (${where}).`,
      );
    }
  }
}

/** The masks of the rows at `indices` (undefined stays undefined). */
export function subsetMasks(masks: LabelMasks | undefined, indices: ArrayLike<number>): Record<string, Uint8Array> | undefined {
  if (!masks) return undefined;
  const out: Record<string, Uint8Array> = {};
  for (const [name, mask] of Object.entries(masks)) {
    const m = new Uint8Array(indices.length);
    for (let i = 0; i < indices.length; i++) m[i] = mask[indices[i]];
    out[name] = m;
  }
  return out;
}

/**
 * The positions, within `indices`, of the rows that carry `task`'s label; undefined when all of
 * them do (the common case, which costs nothing).
 */
export function labelledPositions(data: MultiTaskData, task: string, indices: ArrayLike<number>): Int32Array | undefined {
  const mask = labelMask(data, task);
  if (!mask) return undefined;
  let n = 0;
  for (let i = 0; i < indices.length; i++) n += mask[indices[i]];
  if (n === indices.length) return undefined;
  const out = new Int32Array(n);
  let j = 0;
  for (let i = 0; i < indices.length; i++) if (mask[indices[i]]) out[j++] = i;
  return out;
}

/** The target rows at `positions` of `target`. */
export function pickTargetRows(target: TargetArray, positions: ArrayLike<number>): TargetArray {
  const w = target.width;
  const values = target.values instanceof Int32Array ? new Int32Array(positions.length * w) : new Float32Array(positions.length * w);
  for (let i = 0; i < positions.length; i++) values.set(target.values.subarray(positions[i] * w, positions[i] * w + w), i * w);
  return { values, width: w };
}

/** A value that marks a missing label in arrays: null, undefined or NaN. */
export function isMissingLabel(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
}

/**
 * One task's targets from arrays whose missing labels (null, undefined, NaN; for a multi-output
 * target, a row whose every value is missing) become a mask, or with an explicit `given` mask
 * (truthy = labelled). Unlabelled rows hold the placeholder 0. A row with some but not all of its
 * values missing is refused: masks are per row and task.
 */
export function maskedTargets(
  where: string,
  task: string,
  values: ArrayLike<unknown>,
  rows: number,
  given: ArrayLike<unknown> | undefined,
): { target: TargetArray; mask: Uint8Array } {
  check(
    values !== null && values !== undefined && typeof values.length === "number",
    where,
    () => `targets of task '${task}' must be an array, got ${values === null ? "null" : typeof values}.`,
  );
  check(values.length === rows, where, () => `task '${task}' has ${values.length} targets but 'x' has ${rows} rows.`);
  if (given !== undefined) {
    check(
      given !== null && typeof given.length === "number",
      where,
      () => `the mask of task '${task}' must be an array of booleans or 0/1 per row.`,
    );
    check(given.length === rows, where, () => `the mask of task '${task}' has ${given.length} entries but 'x' has ${rows} rows.`);
  }
  const firstRow = Array.from({ length: rows }, (_, r) => values[r]).find((v) => v !== null && typeof v === "object");
  const width = firstRow ? (firstRow as ArrayLike<unknown>).length : 1;
  const mask = new Uint8Array(rows);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const row = values[r];
    const cells: ArrayLike<unknown> =
      width > 1 || (row !== null && typeof row === "object") ? ((row as ArrayLike<unknown> | null) ?? []) : [row];
    let labelled: boolean;
    if (given !== undefined) {
      const g = given[r];
      check(
        typeof g === "boolean" || g === 0 || g === 1,
        where,
        () => `the mask of task '${task}' has ${JSON.stringify(g)} at row ${r}; entries must be booleans or 0/1.`,
      );
      labelled = g === true || g === 1;
    } else {
      const gaps = cells.length === 0 ? width : Array.from(cells).filter(isMissingLabel).length;
      check(
        gaps === 0 || gaps === width,
        where,
        () =>
          `target row ${r} of task '${task}' has ${gaps} of its ${width} values missing; a row is labelled for a task or not (masks are per row and task).`,
      );
      labelled = gaps === 0;
    }
    mask[r] = labelled ? 1 : 0;
    if (!labelled) continue;
    check(
      cells.length === width,
      where,
      () => `task '${task}' target row ${r} has ${cells.length} values; the first labelled row has ${width}.`,
    );
    for (let c = 0; c < width; c++) {
      const v = cells[c];
      if (typeof v === "number" && !Number.isNaN(v)) out[r * width + c] = v;
      else if (typeof v === "boolean") out[r * width + c] = v ? 1 : 0;
      else
        throw new MtlError(
          where,
          `target of task '${task}' at row ${r} is ${JSON.stringify(v)} although the row is labelled; give a number, or mark the row unlabelled.`,
        );
    }
  }
  return { target: { values: out, width }, mask };
}
