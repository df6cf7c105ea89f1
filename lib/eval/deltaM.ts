/**
 * Δm%: the average relative change of a multi-task model's metrics against single-task baselines
 * (Maninis et al., "Attentive Single-Tasking of Multiple Tasks", CVPR 2019; Vandenhende et al.,
 * "Multi-Task Learning for Dense Prediction Tasks: A Survey", TPAMI 2021; as LibMTL reports it):
 *
 *   Δm = (1/T) Σ_t (1/M_t) Σ_m (−1)^{h_{t,m}} (M_{t,m} − B_{t,m}) / B_{t,m} × 100
 *
 * with h_{t,m} = 1 where lower is better (loss, MSE, MAE) and 0 where higher is better.
 * Sign convention: Δm > 0 means the multi-task model is better than the baselines on average,
 * Δm < 0 means worse, whichever direction each metric runs.
 * Readings: B_{t,m} is used as it is, as in the formula, so a negative baseline (an R² below 0)
 * flips that term's sign; choose metrics with positive baselines. A zero baseline makes the ratio
 * undefined and is refused, naming the metric. Across seeds, B is the mean over the baseline's
 * seeds and Δm is computed for each multi-task seed (baseline variance is not propagated into
 * the interval; the negative-transfer report compares both sides' spread).
 */
import { check, checkKnownOptions, MtlError } from "../errors";
import { Task } from "../tasks/task";
import { Evaluation, MetricTable } from "./evaluate";
import { checkLevel, mean, summarize, Summary } from "./stats";
import { withDisplay } from "../display/attach";
import { deltaMBundle, deltaMOverSeedsBundle } from "../display/comparison";

/** Direction of each metric: task → metric → higher is better. */
export type Directions = Record<string, Record<string, boolean>>;

/** Options of {@link deltaM}: which metrics are better higher (from `tasks` or `higherIsBetter`) and which metrics count. */
export interface DeltaMOptions {
  /** The tasks, for their metrics' directions (not needed when an Evaluation is given). */
  tasks?: Task[];
  /** Directions given directly (overrides `tasks`). */
  higherIsBetter?: Directions;
  /** Metrics that count, per task (default: every metric of the task's metricSpecs). */
  metrics?: Record<string, string[]>;
}

/** Δm% and its parts: per task and per metric, the signed relative change (positive: the multi-task model is better). */
export interface DeltaM {
  /** Δm in percent. */
  value: number;
  /** (1/M_t) Σ_m (−1)^h (M − B)/B × 100 per task; Δm is their mean. */
  perTask: Record<string, number>;
  /** Each signed relative change (−1)^h (M − B)/B × 100, task → metric. */
  terms: Record<string, Record<string, number>>;
  /** The metrics used and their directions. */
  directions: Directions;
}

/** Metrics as a table (task → metric → value) or an {@link Evaluation}. */
export type MetricSource = MetricTable | Evaluation;

/** The metric table of an evaluation (or the table itself). */
export function metricTable(source: MetricSource): MetricTable {
  if (isEvaluation(source)) return source.table;
  check(
    source !== null && typeof source === "object",
    "deltaM",
    () => "expected a metric table { task: { metric: value } } or an evaluation.",
  );
  return source;
}

function isEvaluation(x: unknown): x is Evaluation {
  return typeof x === "object" && x !== null && "tasks" in x && "table" in x && "rows" in x;
}

/** The metric directions to use, from the options or the evaluation. */
function resolveDirections(where: string, result: MetricSource, options: DeltaMOptions): Directions {
  const base: Directions = {};
  if (options.higherIsBetter) return options.higherIsBetter;
  if (options.tasks) {
    for (const t of options.tasks) base[t.name] = Object.fromEntries(t.metricSpecs.map((s) => [s.name, s.higherIsBetter]));
    return base;
  }
  if (isEvaluation(result)) {
    for (const [t, r] of Object.entries(result.tasks)) base[t] = { ...r.higherIsBetter };
    return base;
  }
  throw new MtlError(
    where,
    "cannot tell which metrics are better higher or lower: pass option 'tasks' or 'higherIsBetter', or an evaluation from mtl.evaluation.evaluate.",
  );
}

/** Δm% of one multi-task result against one baseline (both task → metric → value). */
export function deltaM(result: MetricSource, baseline: MetricSource, options: DeltaMOptions = {}): DeltaM {
  const where = "deltaM";
  checkKnownOptions(where, options, ["tasks", "higherIsBetter", "metrics"]);
  const m = metricTable(result);
  const b = metricTable(baseline);
  const all = resolveDirections(where, result, options);
  const taskNames = Object.keys(m);
  check(taskNames.length > 0, where, () => "the result has no tasks.");
  const baseTasks = Object.keys(b);
  for (const t of taskNames) {
    check(t in b, where, () => `the baseline has no task '${t}'; it has ${baseTasks.join(", ") || "no task"}.`);
  }
  for (const t of baseTasks) {
    check(t in m, where, () => `the baseline has task '${t}', which the result lacks (result tasks: ${taskNames.join(", ")}).`);
  }
  if (options.metrics) {
    for (const t of Object.keys(options.metrics))
      check(t in m, where, () => `option 'metrics' names task '${t}', which is not one of ${taskNames.join(", ")}.`);
  }
  const directions: Directions = {};
  const terms: Record<string, Record<string, number>> = {};
  const perTask: Record<string, number> = {};
  for (const t of taskNames) {
    const dirs = all[t];
    check(dirs !== undefined, where, () => `no metric directions for task '${t}'.`);
    const chosen = options.metrics?.[t] ?? Object.keys(dirs);
    check(chosen.length > 0, where, () => `no metrics chosen for task '${t}'.`);
    directions[t] = {};
    terms[t] = {};
    for (const metric of chosen) {
      check(
        metric in dirs,
        where,
        () => `task '${t}' has no metric '${metric}' with a known direction; its metrics are ${Object.keys(dirs).join(", ")}.`,
      );
      check(metric in m[t], where, () => `the result has no metric '${metric}' for task '${t}'.`);
      check(metric in b[t], where, () => `the baseline has no metric '${metric}' for task '${t}'; it has ${Object.keys(b[t]).join(", ")}.`);
      const mv = m[t][metric];
      const bv = b[t][metric];
      check(Number.isFinite(mv), where, () => `the result's '${metric}' of task '${t}' is ${mv}, not a finite number.`);
      check(Number.isFinite(bv), where, () => `the baseline's '${metric}' of task '${t}' is ${bv}, not a finite number.`);
      check(
        bv !== 0,
        where,
        () =>
          `the baseline's '${metric}' of task '${t}' is 0, so the relative change (M − B)/B is undefined; leave this metric out with option 'metrics'.`,
      );
      const sign = dirs[metric] ? 1 : -1; // (−1)^h, h = 1 where lower is better
      directions[t][metric] = dirs[metric];
      terms[t][metric] = ((sign * (mv - bv)) / bv) * 100;
    }
    perTask[t] = mean(Object.values(terms[t]));
  }
  return withDisplay({ value: mean(Object.values(perTask)), perTask, terms, directions }, deltaMBundle);
}

/** Mean over runs (seeds) of each task's metrics. */
export function meanTable(runs: MetricSource[]): MetricTable {
  check(runs.length > 0, "meanTable", () => "needs at least one run.");
  const tables = runs.map(metricTable);
  const out: MetricTable = {};
  for (const [t, metrics] of Object.entries(tables[0])) {
    out[t] = {};
    for (const metric of Object.keys(metrics)) {
      out[t][metric] = mean(
        tables.map((tb, i) => {
          const v = tb[t]?.[metric];
          if (v === undefined) throw new MtlError("meanTable", `run ${i} has no metric '${metric}' for task '${t}'.`);
          return v;
        }),
      );
    }
  }
  return out;
}

/** Δm% per multi-task seed against the mean baseline, with its mean, standard deviation and Student-t interval. */
export interface DeltaMOverSeeds {
  /** Δm over the multi-task seeds: mean, std and Student-t interval. */
  summary: Summary;
  /** The same per task. */
  perTask: Record<string, Summary>;
  runs: DeltaM[];
  /** The baseline used: the mean over the baseline runs. */
  baseline: MetricTable;
}

/** Δm% of each multi-task run (seed) against the mean baseline, summarised with a `level` Student-t interval. */
export function deltaMOverSeeds(
  results: MetricSource[],
  baselines: MetricSource[] | MetricSource,
  options: DeltaMOptions & { level?: number } = {},
): DeltaMOverSeeds {
  const { level = 0.95, ...rest } = options;
  checkLevel(level);
  check(Array.isArray(results) && results.length > 0, "deltaMOverSeeds", () => "needs at least one multi-task run.");
  const baseline = meanTable(Array.isArray(baselines) ? baselines : [baselines]);
  const runs = results.map((r) => deltaM(r, baseline, rest));
  const perTask: Record<string, Summary> = {};
  for (const t of Object.keys(runs[0].perTask))
    perTask[t] = summarize(
      runs.map((r) => r.perTask[t]),
      level,
    );
  return withDisplay(
    {
      summary: summarize(
        runs.map((r) => r.value),
        level,
      ),
      perTask,
      runs,
      baseline,
    },
    deltaMOverSeedsBundle,
  );
}
