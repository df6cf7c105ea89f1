/**
 * What a run function may return, turned into plain JSON metrics: an evaluation from
 * `mtl.evaluation.evaluate` (its metric table, and each metric's direction), a metric table
 * `{ task: { metric: value } }`, or flat metrics `{ metric: value }`. Every value must be a finite
 * number: JSON carries no NaN, and a metric that is not a number cannot be compared.
 */
import type { Directions } from "../eval/deltaM";
import { MtlError } from "../errors";
import type { Metrics } from "./records";

/**
 * A run function's return value as plain JSON metrics (see the module comment for what it may be),
 * with each metric's direction when it was an evaluation. Throws an MtlError naming the metric that is
 * not a finite number. A sweep's worker calls it on each run's value; a test of a run function can too:
 *
 * ```ts
 * mtl.sweep.normalizeMetrics({ species: { accuracy: 0.93 } });   // { metrics: { species: { accuracy: 0.93 } } }
 * ```
 */
export function normalizeMetrics(value: unknown): { metrics: Metrics; directions?: Directions } {
  const where = "sweep run function";
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new MtlError(
      where,
      `must return metrics: an evaluation (mtl.evaluation.evaluate), { task: { metric: value } } or { metric: value }; it returned ${value === null ? "null" : Array.isArray(value) ? "a list" : typeof value}.`,
    );
  }
  const v = value as Record<string, unknown>;
  if (isEvaluation(v)) {
    const directions: Directions = {};
    for (const [task, report] of Object.entries(v.tasks as Record<string, { higherIsBetter?: Record<string, boolean> }>)) {
      directions[task] = { ...(report.higherIsBetter ?? {}) };
    }
    return { metrics: checkMetrics(v.table as Record<string, unknown>), directions };
  }
  return { metrics: checkMetrics(v) };
}

function isEvaluation(v: Record<string, unknown>): boolean {
  return typeof v.table === "object" && v.table !== null && typeof v.tasks === "object" && v.tasks !== null && Array.isArray(v.rows);
}

function checkMetrics(v: Record<string, unknown>): Metrics {
  const where = "sweep run function";
  const out: Metrics = {};
  const entries = Object.entries(v);
  if (entries.length === 0) throw new MtlError(where, "returned no metrics (an empty object).");
  for (const [key, x] of entries) {
    if (typeof x === "number") {
      if (!Number.isFinite(x)) throw new MtlError(where, `returned metric '${key}' = ${x}; metrics must be finite numbers.`);
      out[key] = x;
    } else if (x !== null && typeof x === "object" && !Array.isArray(x)) {
      const inner: Record<string, number> = {};
      for (const [metric, y] of Object.entries(x as Record<string, unknown>)) {
        if (typeof y !== "number" || !Number.isFinite(y)) {
          throw new MtlError(
            where,
            `returned metric '${metric}' of task '${key}' = ${typeof y === "number" ? y : JSON.stringify(y)}; metrics must be finite numbers.`,
          );
        }
        inner[metric] = y;
      }
      out[key] = inner;
    } else {
      throw new MtlError(
        where,
        `returned '${key}' = ${JSON.stringify(x)}; a metric must be a finite number, or a task's { metric: number }.`,
      );
    }
  }
  return out;
}
