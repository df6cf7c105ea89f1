/**
 * MoCo — Fernando, Shen, Liu, Chaudhury, Murugesan, Chen, "Mitigating Gradient Bias in
 * Multi-objective Learning: A Provably Convergent Approach", ICLR 2023 (Algorithm 1).
 * Tracks the task gradients and the weights across steps t = 1, 2, …:
 *   Y_{t+1} = Y_t − β_t (Y_t − J_t),             β_t = β / t^{σ_β}
 *   λ_{t+1} = Π_Δ(λ_t − γ_t (Y_{t+1} Y_{t+1}ᵀ + ρ I) λ_t),   γ_t = γ / t^{σ_γ}
 *   d = Y_{t+1}ᵀ λ_{t+1}
 * from Y_0 = 0, λ_0 = 1/k. Defaults β = 0.5, σ_β = 0.5, γ = 0.1, σ_γ = 0.5, ρ = 0 (LibMTL's).
 * Readings: Π_Δ is the Euclidean projection onto the simplex (the paper; LibMTL uses a softmax);
 * the paper's optional projection of y_i onto a ball of radius L_i is omitted (L_i = ∞);
 * `normalize: "loss"` replaces g_i by L_i g_i / ||g_i|| first, as the authors' and LibMTL's code.
 * Param level only: the tracked Y must refer to the same coordinates at every step, which the
 * representation of a new batch does not. State: t, λ and Y (k × d, kept as a tf.Variable).
 * Label masks (`absentTasks: "zero"`): a task absent from a step keeps its tracked gradient y_i
 * (the step brings no new estimate of it), which keeps its part in λ and d as at any step
 * (docs/missing-labels.md).
 */
import * as tf from "@tensorflow/tfjs";
import { check } from "../errors";
import { checkNumberIn, checkOneOf, options } from "./common";
import { matVec, projectSimplex } from "./linalg/matrix";
import { Reads, readsAsync, readsSync } from "../util/reads";
import { AggregationContext, Aggregator, gramianReads, jacobianChecks, requireLosses, rowNorms } from "./types";

/** Options of {@link moco}: step sizes β, γ and their decay exponents, the regulariser ρ and the gradient normalisation. */
export interface MocoOptions {
  beta?: number;
  betaSigma?: number;
  gamma?: number;
  gammaSigma?: number;
  rho?: number;
  normalize?: "none" | "loss";
}

/** An aggregator that holds tensors across steps (MoCo's tracked gradients, DB-MTL's buffer): dispose it when done. */
export interface StatefulAggregator extends Aggregator {
  /** Frees the tensors of the state. */
  dispose(): void;
}

/** The context with loss 1 for absent tasks (their rows are zero and held, so the value is never used). */
export function withAbsentLosses(context: AggregationContext | undefined): AggregationContext | undefined {
  const present = context?.present;
  if (!present || !context?.losses) return context;
  return { ...context, losses: context.losses.map((l, i) => (present[i] ? l : 1)) };
}

/**
 * MoCo (Fernando et al., ICLR 2023): tracks the task gradients and the weights across steps to remove the bias
 * of stochastic MGDA. Param level only.
 */
export function moco(opts?: MocoOptions): StatefulAggregator {
  const o = options("moco", opts, ["beta", "betaSigma", "gamma", "gammaSigma", "rho", "normalize"]);
  const beta = o.beta ?? 0.5;
  const betaSigma = o.betaSigma ?? 0.5;
  const gamma = o.gamma ?? 0.1;
  const gammaSigma = o.gammaSigma ?? 0.5;
  const rho = o.rho ?? 0;
  const normalize = o.normalize ?? "none";
  checkNumberIn("moco", "beta", beta, 0, 1);
  checkNumberIn("moco", "betaSigma", betaSigma, 0, 10);
  checkNumberIn("moco", "gamma", gamma, 0, 1e6);
  checkNumberIn("moco", "gammaSigma", gammaSigma, 0, 10);
  checkNumberIn("moco", "rho", rho, 0, 1e6);
  checkOneOf("moco", "normalize", normalize, ["none", "loss"] as const);
  let Y: tf.Variable | undefined;
  let lambda: number[] | undefined;
  let t = 0;
  function* work(jacobian: tf.Tensor2D, context?: AggregationContext): Reads<tf.Tensor1D> {
    yield* jacobianChecks("MoCo", jacobian, context, Y?.shape[0]);
    const [k, d] = jacobian.shape;
    if (Y) check(Y.shape[1] === d, "MoCo", () => `the Jacobian has ${d} columns but the tracked gradients have ${Y!.shape[1]}.`);
    const losses = normalize === "loss" ? requireLosses("moco", k, withAbsentLosses(context)) : undefined;
    Y ??= tf.tidy(() => tf.variable(tf.zeros([k, d]), false));
    lambda ??= new Array<number>(k).fill(1 / k);
    t++;
    const betaT = beta / Math.pow(t, betaSigma);
    const gammaT = gamma / Math.pow(t, gammaSigma);
    const tracked = Y;
    tf.tidy(() => {
      let J: tf.Tensor2D = jacobian;
      if (losses) {
        const norms = tf.reshape(rowNorms(J), [k, 1]);
        J = tf.mul(tf.div(J, tf.add(norms, 1e-8)), tf.tensor2d(losses, [k, 1]));
      }
      const step = tf.mul(betaT, tf.sub(tracked, J));
      const present = context?.present;
      tracked.assign(tf.sub(tracked, present ? tf.mul(step, tf.tensor2d(present.map(Number), [k, 1])) : step));
    });
    const G = yield* gramianReads(Y as tf.Tensor2D);
    const step = matVec(G, lambda).map((v, i) => v + rho * lambda![i]);
    lambda = projectSimplex(lambda.map((l, i) => l - gammaT * step[i]));
    const w = lambda;
    return tf.tidy(() => tf.reshape(tf.matMul(tf.tensor2d(w, [1, k]), tracked as tf.Tensor2D), [d]) as tf.Tensor1D);
  }
  return {
    name: "MoCo",
    levels: ["param"],
    absentTasks: "zero",
    get lastWeights() {
      return lambda ? [...lambda] : undefined;
    },
    aggregate: (jacobian, context) => readsSync(work(jacobian, context)),
    aggregateAsync: (jacobian, context) => readsAsync(work(jacobian, context)),
    state: () => ({ t, lambda: lambda ? [...lambda] : null, y: Y ? Array.from(Y.dataSync()) : null, shape: Y?.shape ?? null }),
    stateAsync: async () => ({ t, lambda: lambda ? [...lambda] : null, y: Y ? Array.from(await Y.data()) : null, shape: Y?.shape ?? null }),
    loadState(s) {
      Y?.dispose();
      Y = undefined;
      t = Number(s.t ?? 0);
      lambda = (s.lambda as number[] | null) ?? undefined;
      if (s.y && s.shape) Y = tf.tidy(() => tf.variable(tf.tensor2d(s.y as number[], s.shape as [number, number]), false));
    },
    dispose() {
      Y?.dispose();
      Y = undefined;
    },
    toString: () => `MoCo(beta=${beta}, gamma=${gamma}, rho=${rho})`,
  };
}
