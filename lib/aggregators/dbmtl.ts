/**
 * DB-MTL — Lin, Ye, Xu, Shi, Zhang, Kwok, "Dual-Balancing for Multi-Task Learning", 2023
 * (arXiv:2308.12029).
 * Loss-scale balancing: each task's loss is log-transformed, so its gradient is ∇log L_i = g_i / L_i.
 * Gradient-magnitude balancing: an EMA of those gradients, rescaled to the largest norm:
 *   ĝ_i ← β_t ĝ_i + (1 − β_t) g_i / L_i,   β_t = β / t^{σ}   (ĝ_i starts at 0)
 *   d = Σ_i α_i ĝ_i,   α_i = max_j ||ĝ_j|| / ||ĝ_i||
 * Defaults β = 0.9, σ = 0.5 (the authors' and LibMTL's). Needs the losses (L_i > 0).
 * Readings: a zero ĝ_i contributes nothing (α_i ĝ_i = 0). Param level only (the EMA must refer to the
 * same coordinates at every step). `lastWeights` records α_i / L_i, the weight on the current g_i
 * of the EMA's newest term up to (1 − β_t). State: t and the buffer (k × d tf.Variable).
 * Label masks (`absentTasks: "zero"`): a task absent from a step keeps its buffer row ĝ_i, which
 * keeps its part in d as at any step (docs/missing-labels.md).
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { checkNumberIn, options } from "./common";
import { StatefulAggregator, withAbsentLosses } from "./moco";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { AggregationContext, jacobianChecks, requireLosses, rowName, rowNorms } from "./types";

/** Options of {@link dbmtl}: the EMA rate β (default 0.9) and its decay exponent σ (`betaSigma`, default 0.5). */
export interface DbMtlOptions {
  beta?: number;
  betaSigma?: number;
}

/**
 * DB-MTL (Lin et al., 2023): log-transformed losses (g_i / L_i), tracked by an EMA and rescaled to the largest
 * gradient norm. Param level only.
 */
export function dbmtl(opts?: DbMtlOptions): StatefulAggregator {
  const o = options("dbmtl", opts, ["beta", "betaSigma"]);
  const beta = o.beta ?? 0.9;
  const sigma = o.betaSigma ?? 0.5;
  checkNumberIn("dbmtl", "beta", beta, 0, 1);
  checkNumberIn("dbmtl", "betaSigma", sigma, 0, 10);
  let buffer: tf.Variable | undefined;
  let t = 0;
  let last: number[] | undefined;
  function* work(jacobian: tf.Tensor2D, context?: AggregationContext): Reads<tf.Tensor1D> {
    yield* jacobianChecks("DB-MTL", jacobian, context, buffer?.shape[0]);
    const [k, d] = jacobian.shape;
    if (buffer) check(buffer.shape[1] === d, "DB-MTL", () => `the Jacobian has ${d} columns but the buffer has ${buffer!.shape[1]}.`);
    const losses = requireLosses("dbmtl", k, withAbsentLosses(context));
    const present = context?.present;
    losses.forEach((l, i) =>
      check(l > 0, "dbmtl", () => `the loss of ${rowName(i, context)} is ${l}; DB-MTL takes log L_i and needs L_i > 0.`),
    );
    buffer ??= tf.tidy(() => tf.variable(tf.zeros([k, d]), false));
    t++;
    const betaT = beta / Math.pow(t, sigma);
    const buf = buffer;
    const norms = tf.tidy(() => {
      const logGrads = tf.div(jacobian, tf.tensor2d(losses, [k, 1]));
      const updated = tf.add(logGrads, tf.mul(betaT, tf.sub(buf, logGrads)));
      buf.assign(
        present
          ? tf.where(
              tf
                .tensor2d(
                  present.map((p) => [p]),
                  [k, 1],
                  "bool",
                )
                .tile([1, d]),
              updated,
              buf,
            )
          : updated,
      );
      return rowNorms(buf as tf.Tensor2D);
    });
    const n = Array.from(yield norms);
    const top = Math.max(...n);
    const alpha = n.map((v) => (v > 0 ? top / v : 0));
    last = alpha.map((a, i) => a / losses[i]);
    return tf.tidy(() => tf.reshape(tf.matMul(tf.tensor2d(alpha, [1, k]), buf as tf.Tensor2D), [d]) as tf.Tensor1D);
  }
  return {
    name: "DB-MTL",
    levels: ["param"],
    absentTasks: "zero",
    get lastWeights() {
      return last ? [...last] : undefined;
    },
    aggregate: (jacobian, context) => readsSync(work(jacobian, context)),
    aggregateAsync: (jacobian, context) => readsAsync(work(jacobian, context)),
    state: () => ({ t, buffer: buffer ? Array.from(buffer.dataSync()) : null, shape: buffer?.shape ?? null }),
    stateAsync: async () => ({ t, buffer: buffer ? Array.from(await buffer.data()) : null, shape: buffer?.shape ?? null }),
    loadState(s) {
      buffer?.dispose();
      buffer = undefined;
      t = Number(s.t ?? 0);
      if (s.buffer && s.shape) buffer = tf.tidy(() => tf.variable(tf.tensor2d(s.buffer as number[], s.shape as [number, number]), false));
    },
    dispose() {
      buffer?.dispose();
      buffer = undefined;
    },
    toString: () => `DB-MTL(beta=${beta}, betaSigma=${sigma})`,
  };
}
