/**
 * Transfer learning beside multi-task learning, with the same budget (optimizer steps):
 * - joint:        one model on tasks A and B, `epochs` epochs (each step sees both losses);
 * - scratch:      a model on B alone, `epochs` epochs (the single-task baseline);
 * - fine-tune:    a model on A alone for `pretrainEpochs`, then its shared parameters θ_s are copied
 *                 into a fresh model on B, trained `epochs − pretrainEpochs` epochs, θ_s updated;
 * - frozen:       the same, but θ_s frozen after pretraining: only B's head learns.
 * Sequential transfer cares about B only, so the comparison is on task B's metrics; joint training
 * also reports A. Every model comes from the same factory, with the same batch size and seeds.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { MultiTaskData, validateForTasks } from "../data/dataset";
import { check, checkKnownOptions, MtlError } from "../errors";
import { Task } from "../tasks/task";
import { toFrame } from "../train/history";
import { Trainer } from "../train/trainer";
import { ModelFactory, TrainerSettings } from "./baselines";
import { evaluate, MetricTable } from "./evaluate";
import { summarize, Summary } from "./stats";

/**
 * How the target task is trained: jointly with the source, from scratch, fine-tuned from a source model, or on
 * the source model's frozen trunk.
 */
export type TransferStrategy = "joint" | "scratch" | "fineTune" | "frozen";
export const TRANSFER_STRATEGIES: TransferStrategy[] = ["joint", "scratch", "fineTune", "frozen"];

/** Options of {@link compareTransfer}. */
export interface TransferOptions {
  /** The task pretrained on (A). */
  source: Task;
  /** The task that matters (B). */
  target: Task;
  build: ModelFactory;
  /** Training data with targets for both tasks (or a record of data per task). */
  train: MultiTaskData | { source: MultiTaskData; target: MultiTaskData };
  /** Test data with targets for B (and A, for the joint model's A metrics). */
  test: MultiTaskData;
  seeds: number[];
  /** Total epochs of every strategy. */
  epochs: number;
  /** Epochs of pretraining on A inside that budget (default half, rounded down, at least 1). */
  pretrainEpochs?: number;
  trainer?: (seed: number) => TrainerSettings;
  strategies?: TransferStrategy[];
}

/** Each strategy's runs over the seeds, scored on the target task. */
export interface TransferResult {
  /** Per strategy, task B's metrics per seed. */
  runs: Record<TransferStrategy, MetricTable[]>;
  /** Per strategy, summary of B's primary metric over seeds. */
  summary: Record<TransferStrategy, Summary>;
  primaryMetric: string;
  /** Seconds per strategy, summed over seeds. */
  seconds: Record<TransferStrategy, number>;
  /** strategy, seed, metric, value rows (task B) as a DataFrame. */
  toDataFrame(): import("danfojs-node").DataFrame;
}

/** A view of `model` whose shared parameters are not trained: the trainer only sees the task variables. */
export function freezeShared(model: MultiTaskModel): MultiTaskModel {
  const view = Object.create(model) as MultiTaskModel;
  return Object.assign(view, {
    sharedVariables: () => [],
    namedVariables: () => model.taskNames.flatMap((_, i) => model.taskVariables(i)),
    forward: (x: tf.Tensor2D, training: boolean) => model.decode(model.encode(x, training), x, training),
    encode: (x: tf.Tensor2D, training: boolean) => model.encode(x, training),
    decode: (z: tf.Tensor2D, x: tf.Tensor2D, training: boolean) => model.decode(z, x, training),
  });
}

/** Copies θ_s from one model into another of the same family (names and shapes must match). */
export function copyShared(from: MultiTaskModel, to: MultiTaskModel): void {
  const a = from.sharedVariables();
  const b = to.sharedVariables();
  check(
    a.length === b.length,
    "copyShared",
    () => `the models have ${a.length} and ${b.length} shared variables; build both with the same factory.`,
  );
  a.forEach(([name, v], i) => {
    const [otherName, w] = b[i];
    check(
      v.shape.join() === w.shape.join(),
      "copyShared",
      () => `shared variable '${name}' has shape [${v.shape}] but '${otherName}' has [${w.shape}].`,
    );
    w.assign(v);
  });
}

/**
 * Transfer learning beside multi-task learning with the same budget: scratch, frozen transfer, fine-tuning and
 * joint training, scored on the target task over seeds.
 */
export async function compareTransfer(options: TransferOptions): Promise<TransferResult> {
  const where = "compareTransfer";
  checkKnownOptions(where, options, [
    "source",
    "target",
    "build",
    "train",
    "test",
    "seeds",
    "epochs",
    "pretrainEpochs",
    "trainer",
    "strategies",
  ]);
  const { source, target, build, test, seeds, epochs } = options;
  check(source && target && source.name !== target.name, where, () => "options 'source' and 'target' must be two different tasks.");
  check(
    Number.isInteger(epochs) && epochs >= 2,
    where,
    () => `option 'epochs' must be an integer ≥ 2 (pretraining and fine-tuning share it), got ${epochs}.`,
  );
  const pre = options.pretrainEpochs ?? Math.max(1, Math.floor(epochs / 2));
  check(
    Number.isInteger(pre) && pre >= 1 && pre < epochs,
    where,
    () => `option 'pretrainEpochs' must be an integer in [1, ${epochs - 1}], got ${pre}.`,
  );
  check(Array.isArray(seeds) && seeds.length > 0, where, () => "option 'seeds' must list at least one seed.");
  const strategies = options.strategies ?? TRANSFER_STRATEGIES;
  for (const s of strategies)
    check(TRANSFER_STRATEGIES.includes(s), where, () => `unknown strategy '${s}'; use ${TRANSFER_STRATEGIES.join(", ")}.`);
  const trainSource = "source" in options.train ? options.train.source : options.train;
  const trainTarget = "target" in options.train ? options.train.target : options.train;
  validateForTasks(trainSource, [source]);
  validateForTasks(trainTarget, [target]);
  validateForTasks(test, [target]);
  if (strategies.includes("joint")) {
    check(
      trainSource === trainTarget,
      where,
      () =>
        "joint training needs one training set with targets for both tasks; pass 'train' as one dataset or leave 'joint' out of 'strategies'.",
    );
  }

  const runs = {} as Record<TransferStrategy, MetricTable[]>;
  const seconds = {} as Record<TransferStrategy, number>;
  for (const s of strategies) {
    runs[s] = [];
    seconds[s] = 0;
  }
  const trainModel = async (model: MultiTaskModel, tasks: Task[], data: MultiTaskData, ep: number, seed: number) => {
    const trainer = new Trainer({ progress: false, ...(options.trainer?.(seed) ?? {}), model, tasks, seed });
    await trainer.fit(data, { epochs: ep });
  };
  const scoreB = (model: MultiTaskModel, tasks: Task[]): MetricTable => {
    const ev = evaluate(model, test, tasks);
    return tasks.length === 1 ? { [target.name]: ev.table[target.name] } : ev.table;
  };
  for (const seed of seeds) {
    for (const strategy of strategies) {
      const start = Date.now();
      const models: MultiTaskModel[] = [];
      try {
        if (strategy === "joint") {
          const m = build([source, target], seed);
          models.push(m);
          await trainModel(m, [source, target], trainSource, epochs, seed);
          validateForTasks(test, [source]);
          runs.joint.push(scoreB(m, [source, target]));
        } else if (strategy === "scratch") {
          const m = build([target], seed);
          models.push(m);
          await trainModel(m, [target], trainTarget, epochs, seed);
          runs.scratch.push(scoreB(m, [target]));
        } else {
          const a = build([source], seed);
          models.push(a);
          await trainModel(a, [source], trainSource, pre, seed);
          const b = build([target], seed);
          models.push(b);
          copyShared(a, b);
          await trainModel(strategy === "frozen" ? freezeShared(b) : b, [target], trainTarget, epochs - pre, seed);
          runs[strategy].push(scoreB(b, [target]));
        }
      } finally {
        for (const m of models) m.dispose();
      }
      seconds[strategy] += (Date.now() - start) / 1000;
    }
  }
  const primaryMetric = target.primaryMetric;
  const summary = {} as Record<TransferStrategy, Summary>;
  for (const s of strategies) summary[s] = summarize(runs[s].map((t) => t[target.name][primaryMetric]));
  const toDataFrame = () => {
    const rows: Array<Record<string, unknown>> = [];
    for (const s of strategies) {
      runs[s].forEach((t, i) => {
        for (const [metric, value] of Object.entries(t[target.name]))
          rows.push({ strategy: s, seed: seeds[i], task: target.name, metric, value });
      });
    }
    return toFrame(rows);
  };
  if (strategies.length === 0) throw new MtlError(where, "no strategies to compare.");
  return { runs, summary, primaryMetric, seconds, toDataFrame };
}
