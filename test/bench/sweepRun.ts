/**
 * The run function of the sweep benchmark (sweep.ts): a small CPU-bound training, hard sharing on
 * synthetic data with a classification and a regression task, returning its evaluation. Compiled
 * to dist/test/bench/sweepRun.js, which the sweep's worker processes import.
 */
import * as mtl from "../../lib";

let data: mtl.MultiTaskData | undefined;
const tasks = () => [mtl.tasks.classification("quadrant", { classes: 4 }), mtl.tasks.regression("value")];

function trainingData(): mtl.MultiTaskData {
  if (data) return data;
  const rng = new mtl.Rng(42);
  const x = Array.from({ length: 1024 }, () => Array.from({ length: 20 }, () => rng.normal()));
  data = mtl.fromArrays({
    x,
    targets: { quadrant: x.map((r) => (r[0] > 0 ? 1 : 0) + (r[1] > 0 ? 2 : 0)), value: x.map((r) => r[0] - 2 * r[2] + 0.1 * rng.normal()) },
    tasks: tasks(),
  });
  return data;
}

/** Trains for `config.epochs` epochs (batch 32) with the trunk `config.width` wide. */
export async function run(config: { width: number; epochs: number }, context: { seed: number }): Promise<mtl.evaluation.Evaluation> {
  const ts = tasks();
  const model = mtl.hardSharing({ inputSize: 20, trunk: [config.width, config.width], tasks: ts, seed: context.seed });
  await new mtl.Trainer({ model, tasks: ts, epochs: config.epochs, batchSize: 32, seed: context.seed, progress: false }).fit(
    trainingData(),
  );
  const evaluation = await mtl.evaluation.evaluateAsync(model, trainingData(), ts);
  model.dispose();
  return evaluation;
}
