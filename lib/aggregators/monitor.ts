/**
 * A record of the gradients an aggregator saw, step by step: wrap any aggregator and train with the
 * wrapper; the update is the inner method's, unchanged.
 *
 *   const agg = mtl.aggregators.monitored(mtl.aggregators.upgrad());
 *   await new mtl.Trainer({ model, tasks, aggregator: agg }).fit(data);
 *   agg.log;        // per step: ‖g_i‖ and cos(g_i, g_j) of the Jacobian the method aggregated
 *   agg.summary();  // per pair: mean cosine, conflict rate (fraction of steps with cos < 0); norm ratios
 *
 * The geometry comes from the Gramian G = J Jᵀ of the step's own Jacobian (at the trainer's level,
 * "param" or "rep"): ‖g_i‖ = √G_ii, cos(g_i, g_j) = G_ij / (‖g_i‖‖g_j‖) (0 when a gradient is zero).
 * It costs one k × d × k product and one read per step, no extra forward or backward pass. For a
 * measure that works with any update rule (weightings too) on a separate probe batch, see
 * `mtl.evaluation.relatednessMonitor`.
 *
 * With label masks a task may be absent from a step (no labelled row in the batch): its norm and
 * cosines are NaN in that step's entry, and the summary averages each pair over the steps where both
 * tasks were present.
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { Matrix } from "./linalg/matrix";
import { AggregationContext, Aggregator, gramianReads } from "./types";

/** The geometry of one step's task gradients. */
export interface GradientGeometry {
  /** ‖g_i‖ per task (NaN for a task absent from the step). */
  norms: number[];
  /** cos(g_i, g_j), k × k, 1 on the diagonal (0 off it where a gradient is zero; NaN where a task is absent). */
  cosines: number[][];
}

/** One pair of tasks over the recorded steps. */
export interface PairGeometry {
  /** Task indices (row order of the Jacobian) and names where the trainer gave them. */
  i: number;
  j: number;
  names?: [string, string];
  meanCosine: number;
  /** Steps where both tasks were present (all steps without label masks). */
  steps: number;
  /** Fraction of steps with cos(g_i, g_j) < 0. */
  conflictRate: number;
  /** Per step, max(‖g_i‖, ‖g_j‖) / min(‖g_i‖, ‖g_j‖) (Infinity when one is zero), summarised by its median. */
  medianNormRatio: number;
}

/** What {@link summarizeGeometry} gives: the pairs of tasks over the recorded steps. */
export interface GradientSummary {
  /** Steps recorded. */
  steps: number;
  pairs: PairGeometry[];
}

/** An aggregator that records each step's gradient geometry; made by {@link monitored}. */
export interface MonitoredAggregator extends Aggregator {
  /** The wrapped method. */
  readonly inner: Aggregator;
  /** One entry per aggregated step, in order. */
  readonly log: readonly GradientGeometry[];
  /** Per pair of tasks: mean cosine, conflict rate and median norm ratio over the log. */
  summary(): GradientSummary;
  /** Empties the log (e.g. between runs). */
  clear(): void;
}

/** ‖g_i‖ and cos(g_i, g_j) from a Gramian. */
export function geometryOf(G: Matrix): GradientGeometry {
  const norms = G.map((row, i) => Math.sqrt(Math.max(0, row[i])));
  const cosines = G.map((row, i) =>
    row.map((gij, j) => {
      if (i === j) return 1;
      const d = norms[i] * norms[j];
      return d === 0 ? 0 : Math.max(-1, Math.min(1, gij / d));
    }),
  );
  return { norms, cosines };
}

/** Summarises a log of step geometries pair by pair. */
export function summarizeGeometry(log: readonly GradientGeometry[], taskNames?: readonly string[]): GradientSummary {
  check(log.length > 0, "aggregators.monitored", () => "no steps were recorded yet; train with the monitored aggregator first.");
  const k = log[0].norms.length;
  const pairs: PairGeometry[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const both = log.filter((g) => Number.isFinite(g.norms[i]) && Number.isFinite(g.norms[j]));
      const cos = both.map((g) => g.cosines[i][j]);
      const ratios = both.map((g) => {
        const lo = Math.min(g.norms[i], g.norms[j]);
        return lo === 0 ? Infinity : Math.max(g.norms[i], g.norms[j]) / lo;
      });
      pairs.push({
        i,
        j,
        ...(taskNames ? { names: [taskNames[i], taskNames[j]] as [string, string] } : {}),
        steps: both.length,
        meanCosine: cos.reduce((a, b) => a + b, 0) / cos.length,
        conflictRate: cos.filter((c) => c < 0).length / cos.length,
        medianNormRatio: median(ratios),
      });
    }
  }
  return { steps: log.length, pairs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Wraps `inner` so that every aggregation also records the step's gradient geometry (norms and
 * pairwise cosines). Name, levels, weights and state are the inner method's.
 */
export function monitored(inner: Aggregator): MonitoredAggregator {
  check(
    inner !== null && typeof inner === "object" && typeof inner.aggregate === "function",
    "aggregators.monitored",
    () => "expects an aggregator, e.g. mtl.aggregators.monitored(mtl.aggregators.mgda()).",
  );
  const log: GradientGeometry[] = [];
  let taskNames: readonly string[] | undefined;
  function* record(jacobian: tf.Tensor2D, context?: AggregationContext): Reads<void> {
    const present = context?.present;
    const given = context?.gramian;
    const geometry = geometryOf(given?.length === jacobian.shape[0] ? given : yield* gramianReads(jacobian));
    if (!present || present.every(Boolean)) {
      if (context?.taskNames) taskNames = [...context.taskNames];
      log.push(geometry);
      return;
    }
    // Some tasks are absent: the rows are the present tasks' (or every task's, absent ones zero, for
    // a method with absentTasks "zero"); place them at their task indices, NaN for the absent.
    const rowOf = present.flatMap((p, i) => (p ? [i] : []));
    const index = (r: number) => (geometry.norms.length === present.length ? r : rowOf[r]);
    const k = present.length;
    const norms = new Array<number>(k).fill(NaN);
    const cosines = Array.from({ length: k }, (_, i) => Array.from({ length: k }, (_, j) => (i === j ? 1 : NaN)));
    geometry.norms.forEach((n, r) => {
      const i = index(r);
      if (!present[i]) return;
      norms[i] = n;
      geometry.cosines[r].forEach((c, s) => {
        const j = index(s);
        if (present[j] && i !== j) cosines[i][j] = c;
      });
    });
    log.push({ norms, cosines });
  }
  const wrapper: MonitoredAggregator = {
    inner,
    name: inner.name,
    levels: inner.levels,
    get lastWeights() {
      return inner.lastWeights;
    },
    get log() {
      return log;
    },
    aggregate(jacobian, context) {
      readsSync(record(jacobian, context));
      return inner.aggregate(jacobian, context);
    },
    async aggregateAsync(jacobian, context) {
      await readsAsync(record(jacobian, context));
      return inner.aggregateAsync ? inner.aggregateAsync(jacobian, context) : inner.aggregate(jacobian, context);
    },
    summary: () => summarizeGeometry(log, taskNames),
    clear() {
      log.length = 0;
    },
    toString: () => `monitored(${String(inner)})`,
  };
  // The trainer gives the wrapper what the inner method expects when a task is absent from a batch.
  if (inner.absentTasks) Object.assign(wrapper, { absentTasks: inner.absentTasks });
  if (inner.state) wrapper.state = () => inner.state!();
  if (inner.stateAsync) wrapper.stateAsync = () => inner.stateAsync!();
  if (inner.loadState) wrapper.loadState = (s) => inner.loadState!(s);
  return wrapper;
}
