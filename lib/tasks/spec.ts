/**
 * How a task was made: the factory's name, the task name and the options it was given. Every task
 * factory attaches this record (under a symbol, so it stays out of the task's visible fields) so a
 * saved model can rebuild its tasks exactly, closures (loss weights, Huber's delta) included.
 */
import type { Task } from "./task";

/** The symbol under which a task keeps its {@link TaskSpec}. */
export const TASK_SPEC = Symbol.for("mtlkit.taskSpec");

/** The factory call that made a task: `mtl.tasks[factory](name, options)`. */
export interface TaskSpec {
  factory: string;
  name: string;
  options: unknown;
}

/** Returns `task` with the record of the factory call that made it attached. */
export function withTaskSpec<T extends Task>(factory: string, name: string, options: unknown, task: T): T {
  let copy: unknown;
  try {
    copy = structuredClone(options ?? {});
  } catch {
    return task; // options that are not plain data: the task cannot be described (saving says so)
  }
  Object.defineProperty(task, TASK_SPEC, { value: { factory, name, options: copy }, enumerable: false });
  return task;
}

/** The factory call that made `task`, or undefined for a task written by hand. */
export function taskSpecOf(task: Task): TaskSpec | undefined {
  return (task as unknown as Record<symbol, TaskSpec | undefined>)[TASK_SPEC];
}
