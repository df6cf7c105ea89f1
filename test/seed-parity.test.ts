/**
 * The guide's PyTorch example reproduced in mtlkit: same initial weights, same data, same batches,
 * Adam, per-step losses compared with PyTorch's to float32 rounding (1e-6 relative), on every
 * backend and on both update paths (tfjs ops, and the native kernels where the addon is built).
 * References: test/fixtures/seed_parity.py (Debian's python3-torch 1.13), two cases —
 *   seed-parity.json        input 20, shared 64, 4 classes, 25 steps, CE + MSE;
 *   seed-parity-13-37.json  input 13, shared 37, 5 classes, 60 steps, CE + MSE and, from the same
 *                           start, static weights (0.7, 1.6) + L2 (λ Σ ||θ||²).
 * tfjs's own Adam (float32 running β powers, 1 − βᵗ in float32) drifts ~4e-6 away on the second
 * case; mtlkit's Adam forms the bias corrections in float64 from the step count, as PyTorch does.
 */
import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../lib/native";
import { eachBackend } from "./helpers/backends";

interface DenseJson {
  kernel: number[][];
  bias: number[];
}
interface StepLosses {
  task1: number;
  task2: number;
  total: number;
}
interface Fixture {
  config: { input: number; shared: number; classes: number; rows: number; batch: number; steps: number; lr: number };
  x: number[][];
  y1: number[];
  y2: number[];
  initial: { shared: DenseJson; task1: DenseJson; task2: DenseJson };
}
const read = <T>(name: string): T => JSON.parse(readFileSync(join(__dirname, "fixtures", name), "utf8")) as T;
const guide = read<Fixture & { losses: StepLosses[] }>("seed-parity.json");
const second = read<Fixture & { runs: Record<"plain" | "weightedL2", { weights: number[]; l2: number; losses: StepLosses[] }> }>(
  "seed-parity-13-37.json",
);

/**
 * float32 rounding: mtlkit stays within 3.3e-7 of PyTorch on every path here; tfjs's float32 bias
 * correction drifts to 3.7e-6–4.0e-6 by step 57 of the second case (2.0e-6 on the guide's).
 */
const TOLERANCE = 1e-6;

/** Trains mtlkit's copy of a fixture's model and returns the largest relative loss difference per step. */
async function worstRelativeError(
  fixture: Fixture,
  expected: StepLosses[],
  weights: number[],
  l2: number,
): Promise<{ error: number; step: number }> {
  const { config } = fixture;
  const tasks = [mtl.tasks.classification("task1", { classes: config.classes }), mtl.tasks.regression("task2")];
  const model = mtl.hardSharing({ inputSize: config.input, trunk: [config.shared], tasks, activation: "relu" });
  const vars = Object.fromEntries(model.namedVariables());
  const load = (prefix: string, d: DenseJson) => {
    vars[`${prefix}.kernel`].assign(tf.tensor2d(d.kernel));
    vars[`${prefix}.bias`].assign(tf.tensor1d(d.bias));
  };
  load("trunk.0", fixture.initial.shared);
  load("head.task1.0", fixture.initial.task1);
  load("head.task2.0", fixture.initial.task2);

  const data = mtl.fromArrays({ x: fixture.x, targets: { task1: fixture.y1, task2: fixture.y2 }, tasks });
  const trainer = new mtl.Trainer({
    model,
    tasks,
    optimizer: mtl.optimizers.adam({ learningRate: config.lr }),
    weighting: mtl.weighting.static(weights),
    regularizers: l2 > 0 ? [mtl.regularizers.l2(l2)] : [],
    progress: false,
  });
  let worst = { error: 0, step: -1 };
  for (let step = 0; step < expected.length; step++) {
    const start = (step * config.batch) % config.rows;
    const indices = Int32Array.from({ length: config.batch }, (_, i) => start + i);
    const batch = mtl.subset(data, indices);
    const x = tf.tensor2d(batch.features, [config.batch, config.input]);
    const targets = tasks.map((t) => t.targetTensor(batch.targets[t.name], config.batch));
    const record = await trainer.trainStep(x, targets);
    tf.dispose([x, ...targets]);
    const e = expected[step];
    const error = Math.max(
      Math.abs(record.losses[0] - e.task1) / e.task1,
      Math.abs(record.losses[1] - e.task2) / e.task2,
      Math.abs(record.total - e.total) / e.total,
    );
    if (error > worst.error) worst = { error, step };
  }
  model.dispose();
  trainer.optimizer.dispose();
  return worst;
}

const nativeAvailable = loadNative().status.available;
const PATHS = nativeAvailable ? (["tfjs ops", "native"] as const) : (["tfjs ops"] as const);

eachBackend((backend) => {
  for (const path of PATHS) {
    describe(`the seed example on ${backend}, ${path}`, () => {
      afterAll(() => disableNativeKernels());
      const setPath = () => (path === "native" ? enableNativeKernels() : disableNativeKernels());

      it(`matches PyTorch's per-step losses to ${TOLERANCE} relative: the guide's case, ${guide.config.steps} steps`, async () => {
        setPath();
        const worst = await worstRelativeError(guide, guide.losses, [1, 1], 0);
        expect(worst.error, `worst at step ${worst.step}`).toBeLessThanOrEqual(TOLERANCE);
      });

      for (const run of ["plain", "weightedL2"] as const) {
        const { weights, l2, losses } = second.runs[run];
        it(`matches PyTorch's per-step losses to ${TOLERANCE} relative: 13-37, 5 classes, ${losses.length} steps, ${run}`, async () => {
          expect(losses.length).toBeGreaterThanOrEqual(60);
          setPath();
          const worst = await worstRelativeError(second, losses, weights, l2);
          expect(worst.error, `worst at step ${worst.step}`).toBeLessThanOrEqual(TOLERANCE);
        });
      }
    });
  }
});
