/**
 * Dynamic Task Prioritization — Guo, Haque, Huang, Yeung & Fei-Fei, "Dynamic Task Prioritization
 * for Multitask Learning", ECCV 2018 (task-level prioritisation, Sec. 3.2). Each task has a key
 * performance indicator κ_i ∈ [0, 1] (e.g. accuracy), smoothed by an exponential moving average,
 * and the task's weight is the focal loss of its KPI:
 *
 *   κ̄_i(τ) = α κ_i(τ) + (1 − α) κ̄_i(τ − 1),   w_i = FL(κ̄_i; γ_i) = −(1 − κ̄_i)^{γ_i} log κ̄_i,
 *
 * so tasks that perform worse get more weight, and γ_i sharpens that focus.
 *
 * Readings: the paper does not fix α or γ; defaults α = 0.1 (κ̄ starts at the first KPI seen) and
 * γ = 1. κ̄ is clipped to [1e-6, 1] before the log so a task at KPI 0 gets a large finite weight;
 * a task at KPI 1 gets weight 0. The KPI comes either from the training batch (`kpi: "batch"`, the
 * default: each task's `metrics` entry, by default its primary metric, which must be "higher is
 * better") or from you (`kpi: "manual"`: call `observe(kpis)`, e.g. with validation accuracy at each
 * epoch end); before the first KPI every weight is 1. A KPI outside [0, 1] is refused.
 * Label masks: with kpi "batch", a task absent from a step (no labelled row in the batch) gives no
 * KPI; its smoothed KPI is held (before its first KPI its weight is 1) (docs/missing-labels.md).
 */
import { check, MtlError } from "../errors";
import { checkBound, checkOptions, checkPerTask, finiteOrNull, numberOption, numbersOrNaN, readState, where } from "./common";
import { WeighContext, Weighting, WeightingSetup } from "./types";

/** Options of {@link dtp}. */
export interface DtpOptions {
  /** Focusing parameter γ ≥ 0, one for all tasks or one per task (default 1). */
  gamma?: number | readonly number[];
  /** EMA factor α ∈ (0, 1] of the KPI (default 0.1; 1 = no smoothing). */
  alpha?: number;
  /** Where KPIs come from (default "batch"). */
  kpi?: "batch" | "manual";
  /** With kpi "batch": the metric per task (one name for all, or one per task; default each task's primary metric). */
  metrics?: string | readonly string[];
}

const MIN_KPI = 1e-6;

/** The focal-loss weight −(1 − κ)^γ log κ. */
export function dtpWeight(kpi: number, gamma: number): number {
  const k = Math.min(Math.max(kpi, MIN_KPI), 1);
  return k >= 1 ? 0 : -Math.pow(1 - k, gamma) * Math.log(k);
}

/**
 * Dynamic Task Prioritization (Guo et al., ECCV 2018): w_i = −(1 − κ_i)^γ log κ_i from each task's KPI κ_i, so
 * the hardest tasks weigh most.
 */
export function dtp(
  options: DtpOptions = {},
): Weighting<Required<DtpOptions>> & { observe(kpis: readonly number[]): void; kpis(): number[] | undefined } {
  const w = where("dtp");
  checkOptions("dtp", options, ["gamma", "alpha", "kpi", "metrics"]);
  const gammaOpt = options.gamma ?? 1;
  const gammaList = typeof gammaOpt === "number" ? [gammaOpt] : gammaOpt;
  check(Array.isArray(gammaList), w, () => `option 'gamma' must be a number or a list of numbers, got ${JSON.stringify(gammaOpt)}.`);
  gammaList.forEach((g) => numberOption("dtp", "gamma", g, { min: 0 }));
  const alpha = numberOption("dtp", "alpha", options.alpha ?? 0.1, { above: 0, max: 1 });
  const source = options.kpi ?? "batch";
  check(source === "batch" || source === "manual", w, () => `option 'kpi' must be "batch" or "manual", got ${JSON.stringify(source)}.`);
  check(source === "batch" || options.metrics === undefined, w, () => "option 'metrics' only applies with kpi \"batch\".");
  let names: string[] = [];
  let gammas: number[] = [];
  let metricNames: string[] = [];
  let smoothed: number[] | undefined;

  /** Updates the smoothed KPIs of the tasks marked in `present` (all when omitted); the others are held. */
  function observePresent(kpis: readonly number[], present?: readonly boolean[]): void {
    if (!present || present.every(Boolean)) {
      observe(kpis);
      return;
    }
    const prior = smoothed ?? new Array<number>(names.length).fill(NaN);
    present.forEach((p, i) => {
      if (!p) return;
      const v = kpis[i];
      if (!(typeof v === "number" && v >= 0 && v <= 1))
        throw new MtlError(w, `metric '${metricNames[i]}' of task '${names[i]}' is ${v}; a KPI must lie in [0, 1] (option 'kpi').`);
    });
    smoothed = prior.map((s, i) => (!present[i] ? s : Number.isFinite(s) ? alpha * kpis[i] + (1 - alpha) * s : kpis[i]));
  }

  function observe(kpis: readonly number[]): void {
    check(
      Array.isArray(kpis) && kpis.length === names.length,
      w,
      () => `observe needs ${names.length} KPIs (${names.join(", ")}), got ${JSON.stringify(kpis)}.`,
    );
    kpis.forEach((v, i) => {
      if (!(typeof v === "number" && v >= 0 && v <= 1)) {
        const what = source === "batch" ? `metric '${metricNames[i]}' of task '${names[i]}'` : `the KPI of task '${names[i]}'`;
        throw new MtlError(w, `${what} is ${v}; a KPI must lie in [0, 1] (option 'kpi').`);
      }
    });
    smoothed = smoothed ? smoothed.map((s, i) => (Number.isFinite(s) ? alpha * kpis[i] + (1 - alpha) * s : kpis[i])) : [...kpis];
  }

  return {
    name: "dtp",
    options: Object.freeze({
      gamma: typeof gammaOpt === "number" ? gammaOpt : [...gammaOpt],
      alpha,
      kpi: source,
      metrics: options.metrics ?? "primary",
    }),
    bind(setup: WeightingSetup) {
      names = setup.tasks.map((t) => t.name);
      if (typeof gammaOpt !== "number") checkPerTask("dtp", "gamma", gammaOpt, setup);
      gammas = names.map((_, i) => (typeof gammaOpt === "number" ? gammaOpt : gammaOpt[i]));
      const m = options.metrics;
      if (Array.isArray(m)) checkPerTask("dtp", "metrics", m, setup);
      metricNames = setup.tasks.map((t, i) => (m === undefined ? t.primaryMetric : typeof m === "string" ? m : m[i]));
      if (source === "batch") {
        setup.tasks.forEach((t, i) => {
          const spec = t.metricSpecs.find((s) => s.name === metricNames[i]);
          check(
            spec !== undefined,
            w,
            () =>
              `task '${t.name}' has no metric '${metricNames[i]}' (it has ${t.metricSpecs.map((s) => s.name).join(", ")}); set option 'metrics'.`,
          );
          check(
            spec.higherIsBetter,
            w,
            () =>
              `the KPI of task '${t.name}' must be a metric in [0, 1] where higher is better; '${metricNames[i]}' is not. Set option 'metrics' (e.g. "accuracy") or use kpi "manual".`,
          );
        });
      }
      smoothed = undefined;
    },
    async weigh(context: WeighContext) {
      const k = checkBound("dtp", names.length || undefined);
      if (source === "batch") {
        const metrics = await context.batchMetrics();
        observePresent(
          metrics.map((m, i) => m[metricNames[i]]),
          context.present,
        );
      }
      return smoothed ? smoothed.map((s, i) => (Number.isFinite(s) ? dtpWeight(s, gammas[i]) : 1)) : new Array(k).fill(1);
    },
    observe,
    kpis: () => (smoothed ? [...smoothed] : undefined),
    variables: () => [],
    state: () => ({ method: "dtp", kpis: smoothed ? finiteOrNull(smoothed) : null }),
    loadState(state: unknown) {
      const st = readState("dtp", state);
      smoothed = st.kpis === null ? undefined : numbersOrNaN("dtp", "kpis", st.kpis, names.length);
    },
  };
}
