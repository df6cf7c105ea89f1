/**
 * Task relatedness measured on the shared parameters θ_s during training.
 *
 * 1. Gradient cosine (as in PCGrad, Yu et al., NeurIPS 2020): cos(g_i, g_j) with g_i = ∇_{θ_s} L_i on
 *    the same batch; cos < 0 is a conflict. A zero gradient has cosine 0 with everything (no direction).
 * 2. Lookahead inter-task affinity of TAG (Fifty et al., "Efficiently Identifying Task Groupings
 *    for Multi-Task Learning", NeurIPS 2021, eq. 2):
 *      Z^t_{i→j} = 1 − L_j(X^t, θ_s^t − η ∇_{θ_s} L_i(X^t), θ_j^t) / L_j(X^t, θ_s^t, θ_j^t),
 *    averaged over the steps t where it is measured. Z_{i→j} > 0: a step on task i alone lowers
 *    task j's loss. Readings: the lookahead is a plain SGD step of size η on θ_s only (the equation;
 *    the authors' code can also replay their optimizer), measured every `every` steps on a fresh
 *    seeded batch of the given data rather than on the trainer's own batch, with the model in
 *    inference mode (no dropout), so the measure is deterministic given its seed.
 * Per-task gradients come from one forward and k backward passes (lib/train/jacobian.ts); TAG's
 * lookahead uses tf.variableGrads on model.sharedVariables(), one task at a time.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { batchTensors, MultiTaskData, validateForTasks } from "../data/dataset";
import { checkModelTasks } from "../train/validate";
import { labelledCount } from "../data/masks";
import { check, checkKnownOptions, checkPositiveInteger } from "../errors";
import { Rng } from "../random";
import { Task } from "../tasks/task";
import { Callbacks } from "../train/callbacks";
import { recordOnce, taskGradients } from "../train/jacobian";
import { Reads, readsAsync, readsSync } from "../util/reads";

/**
 * ∇_{θ_s} L_i for each task on one batch, each flattened in sharedVariables() order (float64 rows).
 * One forward pass and k backward passes through the recorded tape (lib/train/jacobian.ts).
 */
export function sharedGradients(model: MultiTaskModel, tasks: Task[], x: tf.Tensor2D, targets: tf.Tensor[]): Float64Array[] {
  return readsSync(sharedGradientReads(model, tasks, x, targets));
}

/** sharedGradients with an awaited read (WebGPU reads only asynchronously). */
export function sharedGradientsAsync(model: MultiTaskModel, tasks: Task[], x: tf.Tensor2D, targets: tf.Tensor[]): Promise<Float64Array[]> {
  return readsAsync(sharedGradientReads(model, tasks, x, targets));
}

function* sharedGradientReads(model: MultiTaskModel, tasks: Task[], x: tf.Tensor2D, targets: tf.Tensor[]): Reads<Float64Array[]> {
  const shared = model.sharedVariables().map(([, v]) => v);
  check(shared.length > 0, "sharedGradients", () => `the model (${model.architecture}) has no shared parameters to compare gradients on.`);
  const jacobian = recordOnce(x, () => {
    const z = model.encode(x, false);
    const outputs = model.decode(z, x, false);
    const losses = tasks.map((t, i) => t.loss(outputs[i], targets[i]));
    return tf.keep(
      taskGradients(
        "param",
        losses,
        shared,
        tasks.map(() => []),
        z,
      ).jacobian,
    );
  });
  const d = jacobian.shape[1];
  const flat = yield jacobian;
  return tasks.map((_, i) => Float64Array.from(flat.subarray(i * d, (i + 1) * d)));
}

/** Pairwise cosine similarities of the rows of G (k × k, float64); 1 on the diagonal. */
export function cosineMatrix(rows: ArrayLike<number>[]): number[][] {
  const k = rows.length;
  const norms = rows.map((r) => Math.sqrt(dot(r, r)));
  return Array.from({ length: k }, (_, i) =>
    Array.from({ length: k }, (_, j) => {
      if (i === j) return 1;
      return norms[i] === 0 || norms[j] === 0 ? 0 : dot(rows[i], rows[j]) / (norms[i] * norms[j]);
    }),
  );
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Task losses on a batch without gradients (a tensor to read). */
function taskLosses(model: MultiTaskModel, tasks: Task[], x: tf.Tensor2D, targets: tf.Tensor[]): tf.Tensor1D {
  return tf.tidy(() => {
    const outputs = model.forward(x, false);
    return tf.stack(tasks.map((t, i) => t.loss(outputs[i], targets[i]))) as tf.Tensor1D;
  });
}

/**
 * TAG's lookahead affinity on one batch: Z[i][j] = Z_{i→j} = 1 − L_j(θ_s − η g_i) / L_j(θ_s).
 * θ_s is restored exactly afterwards.
 */
export function lookaheadAffinity(
  model: MultiTaskModel,
  tasks: Task[],
  x: tf.Tensor2D,
  targets: tf.Tensor[],
  learningRate: number,
): number[][] {
  return readsSync(lookaheadReads(model, tasks, x, targets, learningRate));
}

/** lookaheadAffinity with awaited reads. */
export function lookaheadAffinityAsync(
  model: MultiTaskModel,
  tasks: Task[],
  x: tf.Tensor2D,
  targets: tf.Tensor[],
  learningRate: number,
): Promise<number[][]> {
  return readsAsync(lookaheadReads(model, tasks, x, targets, learningRate));
}

function* lookaheadReads(
  model: MultiTaskModel,
  tasks: Task[],
  x: tf.Tensor2D,
  targets: tf.Tensor[],
  learningRate: number,
): Reads<number[][]> {
  check(
    Number.isFinite(learningRate) && learningRate > 0,
    "lookaheadAffinity",
    () => `the learning rate η must be a positive number, got ${learningRate}.`,
  );
  const shared = model.sharedVariables().map(([, v]) => v);
  check(shared.length > 0, "lookaheadAffinity", () => `the model (${model.architecture}) has no shared parameters.`);
  const before = Array.from(yield taskLosses(model, tasks, x, targets));
  const saved = shared.map((v) => tf.clone(v));
  try {
    const rows: number[][] = [];
    for (let i = 0; i < tasks.length; i++) {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tasks[i].loss(model.forward(x, false)[i], targets[i]), shared);
        shared.forEach((v, n) => v.assign(tf.sub(saved[n], tf.mul(learningRate, grads[v.name]))));
      });
      const losses = taskLosses(model, tasks, x, targets);
      shared.forEach((v, n) => v.assign(saved[n]));
      const after = Array.from(yield losses);
      rows.push(after.map((l, j) => 1 - l / before[j]));
    }
    return rows;
  } finally {
    shared.forEach((v, n) => v.assign(saved[n]));
    tf.dispose(saved);
  }
}

/** One measurement of a relatedness monitor: the gradient cosine matrix and, with a learning rate, TAG's lookahead affinity. */
export interface RelatednessSnapshot {
  step: number;
  /** cos(g_i, g_j) on this step's probe batch. */
  cosine: number[][];
  /** Z_{i→j} on this step's probe batch (when a learning rate η was given). */
  affinity?: number[][];
}

/** How often and how strongly two tasks' gradients conflicted (negative cosine) over the measurements. */
export interface PairConflict {
  a: string;
  b: string;
  meanCosine: number;
  /** Fraction of snapshots with cos < 0. */
  conflictRate: number;
  /** Mean of the negative cosines (0 when none): how strongly they conflict when they do. */
  meanConflict: number;
}

/** Options of {@link relatednessMonitor}. */
export interface RelatednessMonitorOptions {
  model: MultiTaskModel;
  tasks: Task[];
  /** Data the probe batches are drawn from (usually the training set). */
  data: MultiTaskData;
  /** Measure after every this many training steps (default 10), and once before training. */
  every?: number;
  /** Rows per probe batch (default 256, or all rows if fewer). */
  batchSize?: number;
  /** η of TAG's lookahead; without it only gradient cosines are recorded. */
  learningRate?: number;
  seed?: number;
}

/** Records gradient cosines (and TAG affinities) while a Trainer runs: pass `monitor.callbacks` to it. */
export class RelatednessMonitor {
  readonly snapshots: RelatednessSnapshot[] = [];
  readonly taskNames: string[];
  readonly callbacks: Callbacks;
  private readonly rng: Rng;
  private readonly every: number;
  private readonly batchSize: number;

  constructor(private readonly options: RelatednessMonitorOptions) {
    const where = "relatednessMonitor";
    checkKnownOptions(where, options, ["model", "tasks", "data", "every", "batchSize", "learningRate", "seed"]);
    check(options.model && Array.isArray(options.tasks) && options.tasks.length >= 2, where, () => "needs a model and at least two tasks.");
    checkModelTasks(where, options.model, options.tasks);
    validateForTasks(options.data, options.tasks);
    // Gradients and lookahead losses here are over every row of a batch: masked labels would count
    // their placeholder targets. Pass the rows labelled for every task (mtl.subset) instead.
    const masked = options.tasks.find((t) => labelledCount(options.data, t.name) < options.data.rows);
    check(
      masked === undefined,
      where,
      () =>
        `task '${masked!.name}' has masked labels in option 'data' (${labelledCount(options.data, masked!.name)} of ${options.data.rows} rows labelled); ` +
        "the monitor measures on rows labelled for every task: pass mtl.subset(data, rows) with those rows.",
    );
    this.every = options.every ?? 10;
    checkPositiveInteger(where, "every", this.every);
    this.batchSize = Math.min(options.batchSize ?? 256, options.data.rows);
    checkPositiveInteger(where, "batchSize", this.batchSize);
    if (options.learningRate !== undefined) {
      check(
        Number.isFinite(options.learningRate) && options.learningRate > 0,
        where,
        () => `option 'learningRate' must be a positive number, got ${options.learningRate}.`,
      );
    }
    this.rng = new Rng(options.seed ?? 0);
    this.taskNames = options.tasks.map((t) => t.name);
    this.callbacks = {
      // Awaited by the trainer: the measurements read with awaits, as WebGPU needs.
      onTrainBegin: async (history) => {
        if (this.snapshots.length === 0) await this.measureAsync(history.steps.length);
      },
      onStepEnd: async (record) => {
        if ((record.step + 1) % this.every === 0) await this.measureAsync(record.step + 1);
      },
    };
  }

  /** Takes one measurement now, labelled with `step`. */
  measure(step: number): RelatednessSnapshot {
    return readsSync(this.measurement(step));
  }

  /** `measure` with awaited reads. */
  measureAsync(step: number): Promise<RelatednessSnapshot> {
    return readsAsync(this.measurement(step));
  }

  private *measurement(step: number): Reads<RelatednessSnapshot> {
    const { model, tasks, data, learningRate } = this.options;
    const indices = this.rng.permutation(data.rows).subarray(0, this.batchSize);
    const batch = batchTensors(data, tasks, indices);
    try {
      const snapshot: RelatednessSnapshot = {
        step,
        cosine: cosineMatrix(yield* sharedGradientReads(model, tasks, batch.x, batch.targets)),
      };
      if (learningRate !== undefined) snapshot.affinity = yield* lookaheadReads(model, tasks, batch.x, batch.targets, learningRate);
      this.snapshots.push(snapshot);
      return snapshot;
    } finally {
      batch.x.dispose();
      tf.dispose(batch.targets);
    }
  }

  /** Mean cosine matrix over the snapshots. */
  meanCosine(): number[][] {
    return meanMatrices(this.snapshots.map((s) => s.cosine));
  }

  /** TAG's affinity averaged over the snapshots: Z[i][j] = Z_{i→j}. */
  affinity(): number[][] {
    const zs = this.snapshots.flatMap((s) => (s.affinity ? [s.affinity] : []));
    check(zs.length > 0, "RelatednessMonitor.affinity", () => "no affinities were recorded; give option 'learningRate' (TAG's η).");
    return meanMatrices(zs);
  }

  /** Per pair of tasks: mean cosine, how often (fraction of snapshots) and how strongly they conflict. */
  conflicts(): PairConflict[] {
    check(this.snapshots.length > 0, "RelatednessMonitor.conflicts", () => "no snapshots yet.");
    const out: PairConflict[] = [];
    const k = this.taskNames.length;
    for (let i = 0; i < k; i++) {
      for (let j = i + 1; j < k; j++) {
        const c = this.snapshots.map((s) => s.cosine[i][j]);
        const neg = c.filter((v) => v < 0);
        out.push({
          a: this.taskNames[i],
          b: this.taskNames[j],
          meanCosine: c.reduce((x, y) => x + y, 0) / c.length,
          conflictRate: neg.length / c.length,
          meanConflict: neg.length ? neg.reduce((x, y) => x + y, 0) / neg.length : 0,
        });
      }
    }
    return out;
  }
}

/**
 * Trainer callbacks that measure, every few steps on a seeded probe batch, the gradient cosines cos(∇L_i, ∇L_j)
 * on θ_s and TAG's lookahead affinity (Fifty et al., NeurIPS 2021).
 */
export function relatednessMonitor(options: RelatednessMonitorOptions): RelatednessMonitor {
  return new RelatednessMonitor(options);
}

function meanMatrices(ms: number[][][]): number[][] {
  check(ms.length > 0, "meanMatrices", () => "no matrices to average.");
  return ms[0].map((row, i) => row.map((_, j) => ms.reduce((s, m) => s + m[i][j], 0) / ms.length));
}

/** A partition of the tasks into groups and its affinity score ({@link suggestGroups}). */
export interface Grouping {
  groups: string[][];
  /** Σ_j (mean over the other members i of j's group of Z_{i→j}); a task alone scores 0. */
  score: number;
}

/**
 * Task grouping from affinities (TAG's network selection, Fifty et al. 2021 §3.2): score each
 * candidate grouping by the affinity every task receives from the other members of its group,
 *   score = Σ_j (1/(|g(j)| − 1)) Σ_{i ∈ g(j), i ≠ j} Z_{i→j},
 * and search all of them exhaustively. Reading: the paper lets a task sit in several groups and be
 * served by its best one; here a grouping is a partition (every task trained in exactly one
 * network), which is what a user trains. A task alone gets 0 (no transfer), so all-separate wins
 * when every affinity is negative. Returns the `top` best groupings with at most `maxGroups` groups.
 */
export function suggestGroups(affinity: number[][], taskNames: string[], options: { maxGroups?: number; top?: number } = {}): Grouping[] {
  const where = "suggestGroups";
  checkKnownOptions(where, options, ["maxGroups", "top"]);
  const k = taskNames.length;
  check(k >= 1 && k <= 10, where, () => `exhaustive search handles 1 to 10 tasks, got ${k}.`);
  check(
    affinity.length === k && affinity.every((r) => r.length === k && r.every(Number.isFinite)),
    where,
    () => `the affinity matrix must be ${k} × ${k} finite numbers (one row and column per task: ${taskNames.join(", ")}).`,
  );
  const maxGroups = options.maxGroups ?? k;
  checkPositiveInteger(where, "maxGroups", maxGroups);
  const top = options.top ?? 5;
  checkPositiveInteger(where, "top", top);
  const found: Grouping[] = [];
  const assign = new Array<number>(k).fill(0);
  // Restricted growth strings enumerate each partition once.
  const visit = (pos: number, used: number) => {
    if (pos === k) {
      const groups: number[][] = Array.from({ length: used }, () => []);
      assign.forEach((g, t) => groups[g].push(t));
      let score = 0;
      for (const g of groups) {
        if (g.length < 2) continue;
        for (const j of g) score += g.filter((i) => i !== j).reduce((s, i) => s + affinity[i][j], 0) / (g.length - 1);
      }
      found.push({ groups: groups.map((g) => g.map((t) => taskNames[t])), score });
      return;
    }
    for (let g = 0; g < Math.min(used + 1, maxGroups); g++) {
      assign[pos] = g;
      visit(pos + 1, Math.max(used, g + 1));
    }
  };
  visit(0, 0);
  found.sort((a, b) => b.score - a.score);
  return found.slice(0, top);
}
