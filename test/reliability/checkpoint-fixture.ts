/** A small trainer with Adam, data of two epochs' worth of steps, and a digest of everything a checkpoint restores. */
import { createHash } from "node:crypto";
import * as mtl from "../../lib";

export function makeTrainer(extra: Partial<mtl.TrainerOptions> = {}) {
  const rng = new mtl.Rng(11);
  const x = Array.from({ length: 8 }, () => Array.from({ length: 3 }, () => rng.normal()));
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.classification("b", { classes: 2 })];
  const data = mtl.fromArrays({ x, targets: { a: x.map((r) => r[0] - r[1]), b: x.map((r) => (r[2] > 0 ? 1 : 0)) }, tasks });
  const model = mtl.hardSharing({ inputSize: 3, trunk: [4], tasks, seed: 1 });
  const trainer = new mtl.Trainer({
    model,
    tasks,
    batchSize: 4,
    seed: 2,
    progress: false,
    optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
    ...extra,
  });
  return { trainer, data, model };
}

/** SHA-256 over the weights, the optimizer's weights and scalars, and the trainer's state and history records. */
export async function digest(trainer: mtl.Trainer): Promise<string> {
  const h = createHash("sha256");
  for (const [name, v] of trainer.model.namedVariables()) h.update(name).update(bytesOf(await v.data()));
  const slots = await trainer.optimizer.getWeights();
  for (const s of slots) {
    // Values only: slot names carry tfjs's ids of the saving process's variables.
    h.update(bytesOf(await s.tensor.data()));
    if (!(s.tensor instanceof mtl.tf.Variable)) s.tensor.dispose();
  }
  for (const [key, v] of Object.entries(trainer.optimizer))
    if (v instanceof mtl.tf.Variable && v.rank === 0) h.update(key).update(String((await v.data())[0]));
  // history.run describes the process that trains now (backend, start time), not the checkpoint.
  const { history, ...state } = trainer.snapshot();
  h.update(JSON.stringify({ ...state, steps: history.steps, epochs: history.epochs }));
  return h.digest("hex");
}

/** The bytes of a typed array (a tensor's data may be a view into a larger buffer). */
function bytesOf(a: ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
