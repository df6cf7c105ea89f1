/**
 * Label masks in a step's batch. For each task whose dataset masks some of the batch's rows, the
 * task's targets are cut to its labelled rows and `rows[i]` says where they sit in the input, so
 * its loss is the mean over them (forward() gathers the outputs); a task with no labelled row in
 * the batch is marked as not training at this step (part -1), exactly like a task a sampler did not
 * draw. All of this is decided on the host from the masks: nothing is read from a tensor.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskData } from "../data/dataset";
import { labelledPositions, pickTargetRows } from "../data/masks";
import { Task } from "../tasks/task";
import type { StepBatch } from "./steps/types";

/**
 * Applies the label masks of `datasets[i]` (task i's dataset) for the rows `picks[i]` to `batch`,
 * in place, and returns it. Targets it replaces are disposed.
 */
export function withLabelMasks(
  batch: StepBatch,
  datasets: MultiTaskData[],
  tasks: Task[],
  picks: Array<ArrayLike<number> | undefined>,
): StepBatch {
  tasks.forEach((task, i) => {
    const indices = picks[i];
    const data = datasets[i];
    if (batch.part[i] < 0 || !indices || !data.masks?.[task.name]) return;
    const positions = labelledPositions(data, task.name, indices);
    if (!positions) return;
    batch.targets[i]?.dispose();
    if (positions.length === 0) {
      batch.targets[i] = undefined;
      batch.part[i] = -1;
      return;
    }
    const labelledRows = Int32Array.from(positions, (p) => indices[p]);
    batch.targets[i] = task.targetTensor(pickTargetRows(data.targets[task.name], labelledRows), positions.length);
    batch.rows ??= tasks.map(() => undefined);
    batch.rows[i] = tf.tensor1d(positions, "int32");
  });
  return batch;
}

/**
 * The rows `rows` (int32 positions) of x [batch, width], as S·x with S the one-hot selection
 * matrix: exact (each output is one product by 1 plus zeros), differentiable, and, unlike tf.gather,
 * free of synchronous reads on every backend (tfjs's cpu gather reads its indices with readSync).
 * A non-finite value in an unselected row would spread (0·∞ is NaN); outputs are finite wherever
 * the parameters and features are, which the trainer checks.
 */
export function selectRows(x: tf.Tensor2D, rows: tf.Tensor1D): tf.Tensor2D {
  // oneHot in its default int32, then cast: tfjs-backend-wasm 4.22 writes int32 bits into a float32
  // oneHot's buffer (1 reads as 1.4e-45), which test/core/masks-trainer.test.ts catches on wasm.
  return tf.tidy(() => tf.matMul(tf.cast(tf.oneHot(rows, x.shape[0]), "float32") as tf.Tensor2D, x));
}
