/** The Trainer's own check of its options, for a sweep to run on every configuration before any run starts. */
import { resolveTrainerOptions, TrainerOptions } from "../train/config";

/**
 * Checks Trainer options exactly as `new mtl.Trainer(options)` does (model ↔ tasks, update rule,
 * epochs, batch size, clipping, checkpoints, sampler…), without building a trainer or training;
 * throws the Trainer's MtlError.
 */
export function checkTrainerOptions(options: TrainerOptions): void {
  resolveTrainerOptions(options);
}
