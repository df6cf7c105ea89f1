/**
 * Regularizers add a penalty R(θ) to the training loss, each logged in the history as its own term:
 *   l2(λ):  λ Σ_{θ ∈ S} ||θ||²₂         (λ is not halved: the gradient gains 2λθ, which is PyTorch's
 *                                        weight_decay = 2λ under SGD and Adam, and not AdamW's
 *                                        decoupled decay; test/core/l2-weight-decay.test.ts)
 *   l1(λ):  λ Σ_{θ ∈ S} ||θ||₁
 * S is the chosen set of parameters: "all", "shared" (θ_s), "tasks" (all θ_i), one task's
 * parameters, or any predicate on the variable's name. Biases are included unless `biases: false`.
 * softSharing(λ) (softSharing.ts) penalises the distance between task towers tied by soft sharing.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "../architectures/types";
import { check, checkKnownOptions, MtlError } from "../errors";

/**
 * Which parameters a regularizer penalises: all, the shared θ_s, every task's θ_i, one task's, or those whose
 * name a predicate accepts.
 */
export type ParameterSet = "all" | "shared" | "tasks" | { task: string } | ((name: string) => boolean);

/** A penalty R(θ) added to the training loss and logged in the history under its name (the trainer's `regularizers` option). */
export interface Regularizer {
  readonly name: string;
  /** The penalty on the model's parameters, a scalar added to the loss. */
  penalty(model: MultiTaskModel): tf.Scalar;
  /** Optional: throws an MtlError when the regularizer cannot apply to `model` (the trainer calls it before training). */
  validate?(model: MultiTaskModel): void;
}

/** Options of {@link l1} and {@link l2}: the parameters penalised, and whether biases count (default true). */
export interface NormRegularizerOptions {
  on?: ParameterSet;
  biases?: boolean;
}

/** The model's variables in `set`, by name. */
function selectVariables(model: MultiTaskModel, set: ParameterSet, biases = true): tf.Variable[] {
  let named: Array<[string, tf.Variable]>;
  if (set === "all") named = model.namedVariables();
  else if (set === "shared") named = model.sharedVariables();
  else if (set === "tasks") named = model.taskNames.flatMap((_, i) => model.taskVariables(i));
  else if (typeof set === "function") named = model.namedVariables().filter(([n]) => set(n));
  else if (set && typeof set === "object" && typeof set.task === "string") {
    const i = model.taskNames.indexOf(set.task);
    if (i < 0) throw new MtlError("regularizer", `task '${set.task}' is not one of the model's tasks (${model.taskNames.join(", ")}).`);
    named = model.taskVariables(i);
  } else
    throw new MtlError("regularizer", `option 'on' must be "all", "shared", "tasks", { task } or a function; got ${JSON.stringify(set)}.`);
  return named.filter(([n, v]) => biases || !(n.endsWith(".bias") || v.rank === 1)).map(([, v]) => v);
}

function normRegularizer(kind: "l1" | "l2", lambda: number, options: NormRegularizerOptions): Regularizer {
  const where = `regularizers.${kind}`;
  check(typeof lambda === "number" && Number.isFinite(lambda) && lambda >= 0, where, () => `λ must be a finite number ≥ 0, got ${lambda}.`);
  checkKnownOptions(where, options, ["on", "biases"]);
  const on = options.on ?? "all";
  const label = typeof on === "string" ? on : typeof on === "function" ? "custom" : `task:${on.task}`;
  return {
    name: `${kind}(${label})`,
    penalty(model) {
      return tf.tidy(() => {
        const vars = selectVariables(model, on, options.biases ?? true);
        if (vars.length === 0) return tf.scalar(0);
        const terms = vars.map((v) => (kind === "l2" ? tf.sum(tf.square(v)) : tf.sum(tf.abs(v))));
        return tf.mul(lambda, tf.addN(terms)) as tf.Scalar;
      });
    },
  };
}

/** Weight decay: λ Σ_{θ∈S} ‖θ‖²₂ (λ is not halved). */
export function l2(lambda: number, options: NormRegularizerOptions = {}): Regularizer {
  return normRegularizer("l2", lambda, options);
}

/** λ Σ_{θ∈S} ‖θ‖₁. */
export function l1(lambda: number, options: NormRegularizerOptions = {}): Regularizer {
  return normRegularizer("l1", lambda, options);
}

export { softSharing, SoftSharingPenaltyOptions, SoftSharingForm, SoftSharingDistance } from "./softSharing";
