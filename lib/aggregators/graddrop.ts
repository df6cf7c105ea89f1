/**
 * GradDrop — Chen, Ngiam, Huang, Luong, Kretzschmar, Chai, Anguelov, "Just Pick a Sign: Optimizing
 * Deep Multitask Models with Gradient Sign Dropout", NeurIPS 2020 (Algorithm 1).
 * At the shared representation A (rep level only: it is defined on activations):
 *   ∇_i = Σ_batch sign(A) ∘ ∂L_i/∂A          (per feature)
 *   P = ½ (1 + Σ_i ∇_i / Σ_i |∇_i|)          (positive sign purity)
 *   U ~ Uniform(0, 1) per feature;  M_i = 1[P > U] 1[∇_i > 0] + 1[P < U] 1[∇_i < 0]
 *   d = Σ_i (ℓ_i + (1 − ℓ_i) M_i) ∘ ∂L_i/∂A   (ℓ = leak, default 0; masks broadcast over the batch)
 * Readings: with the representation in the context (the trainer passes it), the purity is computed
 * per feature with the batch sum and sign(A) as in the paper; on a bare matrix (no context) every
 * column is its own feature with sign(A) = 1, which is torchjd's GradDrop. A feature with
 * Σ|∇_i| = 0 has no defined purity and keeps nothing (its gradients are all zero anyway).
 * U comes from the seeded generator (state). `lastWeights` records the fraction of each task's
 * features kept (ℓ_i + (1 − ℓ_i)·mean M_i): GradDrop has no per-task weights.
 * Label masks: a task absent from a step reaches it as a zero row (`absentTasks: "zero"`), which
 * adds nothing to the purity or the update (docs/missing-labels.md).
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { Rng, RngState } from "../random";
import { options } from "./common";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { AggregationContext, Aggregator, jacobianChecks } from "./types";

/** Options of {@link graddrop}: the leak per task and the seed of the random masks. */
export interface GradDropOptions {
  /** Leak ℓ_i ∈ [0, 1] per task (one number for all, or one per task). Default 0. */
  leak?: number | number[];
  seed?: number;
}

/**
 * GradDrop (Chen et al., NeurIPS 2020): keeps, feature by feature, only the gradients of one sign, chosen at
 * random with the sign's purity. Rep level only.
 */
export function graddrop(opts?: GradDropOptions): Aggregator {
  const o = options("graddrop", opts, ["leak", "seed"]);
  const leaks = o.leak === undefined ? [0] : Array.isArray(o.leak) ? o.leak : [o.leak];
  leaks.forEach((l) => check(typeof l === "number" && l >= 0 && l <= 1, "graddrop", () => `option 'leak' must be in [0, 1], got ${l}.`));
  const rng = new Rng(o.seed ?? 0);
  let last: number[] | undefined;
  function* work(jacobian: tf.Tensor2D, context?: AggregationContext): Reads<tf.Tensor1D> {
    yield* jacobianChecks("GradDrop", jacobian, context);
    const [k, d] = jacobian.shape;
    check(leaks.length === 1 || leaks.length === k, "graddrop", () => `option 'leak' has ${leaks.length} values for ${k} tasks.`);
    const leak = leaks.length === 1 ? new Array<number>(k).fill(leaks[0]) : leaks;
    const z = context?.representation;
    if (z) check(z.size === d, "GradDrop", () => `the representation has ${z.size} entries but the Jacobian rows have ${d}.`);
    const width = z ? z.shape[1] : d;
    const u = new Float32Array(width);
    for (let i = 0; i < width; i++) u[i] = rng.uniform();
    const [direction, kept] = tf.tidy(() => {
      const rows = z ? tf.reshape(jacobian, [k, z.shape[0], width]) : tf.reshape(jacobian, [k, 1, width]);
      const signed = z ? tf.sum(tf.mul(rows, tf.sign(z)), 1) : tf.reshape(jacobian, [k, width]);
      const P = tf.mul(0.5, tf.add(1, tf.div(tf.sum(signed, 0), tf.sum(tf.abs(signed), 0))));
      const U = tf.tensor1d(u);
      const mask = tf.cast(
        tf.logicalOr(tf.logicalAnd(tf.greater(P, U), tf.greater(signed, 0)), tf.logicalAnd(tf.less(P, U), tf.less(signed, 0))),
        "float32",
      );
      const l = tf.tensor2d(leak, [k, 1]);
      const factor = tf.add(l, tf.mul(tf.sub(1, l), mask)); // [k, width]
      const masked = tf.mul(rows, tf.expandDims(factor, 1));
      return [tf.reshape(tf.sum(masked, 0), [d]) as tf.Tensor1D, tf.mean(factor, 1)];
    });
    last = Array.from(yield kept);
    return direction;
  }
  return {
    name: "GradDrop",
    levels: ["rep"],
    absentTasks: "zero",
    get lastWeights() {
      return last ? [...last] : undefined;
    },
    aggregate: (jacobian, context) => readsSync(work(jacobian, context)),
    aggregateAsync: (jacobian, context) => readsAsync(work(jacobian, context)),
    state: () => ({ rng: rng.getState() }),
    loadState: (s) => rng.setState(s.rng as RngState),
    toString: () => `GradDrop(leak=${JSON.stringify(o.leak ?? 0)})`,
  };
}
