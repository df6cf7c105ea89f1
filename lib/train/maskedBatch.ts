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
import { StepBatch } from "./steps/types";

/**
 * Applies the label masks of `datasets[i]` (task i's dataset) for the rows `picks[i]` to `batch`,
 * in place, and returns it. Targets it replaces are disposed.
 */
export function withLabelMasks(batch: StepBatch, datasets: MultiTaskData[], tasks: Task[], picks: Array<ArrayLike<number> | undefined>): StepBatch {
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
