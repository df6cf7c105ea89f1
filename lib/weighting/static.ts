/**
 * Static weighting: fixed user weights, the hand-tuned linear scalarisation
 *
 *   L_total = Σ_i w_i L_i,   w_i ≥ 0 given (an array in task order, or by task name; missing names get 1).
 *
 * Exported as `mtl.weighting.static([...])` (`staticWeights` inside the library: `static` is a
 * reserved word for a declaration).
 */
import { check, MtlError } from "../errors";
import { checkPerTask, readState, where } from "./common";
import { Weighting, WeightingSetup } from "./types";

/** The fixed weights of {@link staticWeights}. */
export interface StaticOptions {
  weights: readonly number[] | Readonly<Record<string, number>>;
}

/** Fixed weights, in task order or by task name: the hand-tuned linear scalarisation (`mtl.weighting.static`). */
export function staticWeights(weights: readonly number[] | Readonly<Record<string, number>>): Weighting<StaticOptions> {
  const w = where("static");
  check(
    weights !== null && typeof weights === "object",
    w,
    () => `option 'weights' must be an array or an object keyed by task name, got ${String(weights)}.`,
  );
  const entries = Array.isArray(weights) ? weights.map((v, i) => [String(i), v] as const) : Object.entries(weights);
  for (const [key, v] of entries) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new MtlError(
        w,
        `option 'weights': the weight ${Array.isArray(weights) ? `at index ${key}` : `of task '${key}'`} must be a finite number ≥ 0, got ${v}.`,
      );
    }
  }
  let resolved: number[] | undefined;
  return {
    name: "static",
    options: Object.freeze({ weights: Array.isArray(weights) ? [...weights] : { ...weights } }),
    bind(setup: WeightingSetup) {
      const names = setup.tasks.map((t) => t.name);
      if (Array.isArray(weights)) {
        checkPerTask("static", "weights", weights, setup);
        resolved = [...weights];
      } else {
        const byName = weights as Record<string, number>;
        for (const key of Object.keys(byName)) {
          check(names.includes(key), w, () => `option 'weights' names task '${key}', which is not one of ${names.join(", ")}.`);
        }
        resolved = names.map((n) => byName[n] ?? 1);
      }
    },
    weigh() {
      check(resolved !== undefined, w, () => "the method is not bound to tasks yet; pass it to a Trainer (or call bind) first.");
      return [...resolved];
    },
    variables: () => [],
    state: () => ({ method: "static" }),
    loadState(state: unknown) {
      readState("static", state);
    },
  };
}
