/** Small fixtures for the weighting tests: a bound method and a fake step context. */
import * as tf from "@tensorflow/tfjs";
import * as mtl from "../../lib";

export function regressionTasks(k: number): mtl.Task[] {
  return Array.from({ length: k }, (_, i) => mtl.tasks.regression(`t${i}`));
}

/** Binds `method` to k regression tasks (or the given tasks) on a tiny model. */
export function bound<W extends mtl.weighting.Weighting>(method: W, tasks: number | mtl.Task[] = 2): W {
  const list = typeof tasks === "number" ? regressionTasks(tasks) : tasks;
  const model = mtl.hardSharing({ inputSize: 2, trunk: [2], tasks: list });
  method.bind({ tasks: list, model });
  return method;
}

/** A context with given losses (and, optionally, gradient norms or batch metrics). */
export function context(
  losses: number[],
  extra: { norms?: number[]; metrics?: Array<Record<string, number>>; step?: number; epoch?: number } = {},
): mtl.weighting.WeighContext {
  return {
    step: extra.step ?? 0,
    epoch: extra.epoch ?? 0,
    losses,
    lossTensor: tf.tensor1d(losses),
    gradientNorms: async () => {
      if (!extra.norms) throw new Error("no norms in this fake context");
      return [...extra.norms];
    },
    batchMetrics: async () => {
      if (!extra.metrics) throw new Error("no metrics in this fake context");
      return extra.metrics.map((m) => ({ ...m }));
    },
  };
}
