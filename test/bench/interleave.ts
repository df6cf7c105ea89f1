/**
 * Interleaved timing for benchmarks that compare methods side by side: each round times
 * `perRound` training steps of every run, rotating which run goes first, so load changes on a shared
 * machine affect all runs alike. Ratios are best taken per round (`roundMeans`), then the median.
 */
import * as tf from "@tensorflow/tfjs";

export interface TimedRun {
  trainer: { trainStep(x: tf.Tensor2D, targets: tf.Tensor[]): Promise<unknown> };
  /** Every step's milliseconds. */
  times: number[];
  /** Mean milliseconds per step in each round. */
  roundMeans: number[];
}

export async function timeInterleaved(
  runs: TimedRun[],
  x: tf.Tensor2D,
  targets: tf.Tensor[],
  rounds: number,
  perRound: number,
): Promise<void> {
  const tensors = tf.memory().numTensors;
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < runs.length; j++) {
      const run = runs[(j + round) % runs.length];
      let sum = 0;
      for (let s = 0; s < perRound; s++) {
        const t0 = performance.now();
        await run.trainer.trainStep(x, targets);
        const dt = performance.now() - t0;
        run.times.push(dt);
        sum += dt;
      }
      run.roundMeans.push(sum / perRound);
    }
  }
  if (tf.memory().numTensors !== tensors) throw new Error(`tensor count grew from ${tensors} to ${tf.memory().numTensors}`);
}

/** The median of each run's per-round ratio to `baseline`'s. */
export function medianRatio(run: TimedRun, baseline: TimedRun): number {
  return median(run.roundMeans.map((m, i) => m / baseline.roundMeans[i]));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
