/**
 * A model's input spec: what it takes, one entry per named input. A saved model stores it as one
 * field of its description (`model.inputs` in model.json), so models with several named inputs
 * (an image and a text side by side) describe themselves the same way as today's single-input ones.
 */
import { check } from "../errors";

/** One input: its per-example shape and dtype, and what a saved model also records about it. */
export interface InputFieldSpec {
  /** Shape of one example (today [features]; the batch dimension is left out). */
  shape: number[];
  /** "float32" for features (token ids too arrive as numbers). */
  dtype: "float32" | "int32";
  /** The features' names in column order, when the saver knew them (shown by the web page). */
  names?: string[];
  /**
   * The standardisation fitted on the training data, (x − mean) / std per feature: a loaded model's
   * `mtl.deploy.predict` and the exported web page apply it to raw inputs.
   */
  standardize?: { mean: number[]; std: number[] };
}

/** Every input of a model by name. */
export type InputSpec = Record<string, InputFieldSpec>;

/** The name of the input of a model that takes one feature matrix. */
export const SINGLE_INPUT = "x";

/** The spec of a model that takes one matrix of `inputSize` features. */
export function singleInputSpec(inputSize: number): InputSpec {
  return { [SINGLE_INPUT]: { shape: [inputSize], dtype: "float32" } };
}

/** Number of values in one example of an input. */
export function exampleSize(field: InputFieldSpec): number {
  return field.shape.reduce((a, b) => a * b, 1);
}

/** Refuses a malformed input spec read from a file, naming the input and the file. */
export function checkInputSpec(where: string, spec: unknown): asserts spec is InputSpec {
  check(
    spec !== null && typeof spec === "object" && !Array.isArray(spec) && Object.keys(spec).length > 0,
    where,
    () => "'inputs' must map each input's name to its spec.",
  );
  for (const [name, field] of Object.entries(spec as Record<string, InputFieldSpec>)) {
    check(
      field &&
        Array.isArray(field.shape) &&
        field.shape.every((d) => Number.isInteger(d) && d > 0) &&
        (field.dtype === "float32" || field.dtype === "int32"),
      where,
      () => `input '${name}' needs a shape of positive integers and a dtype ("float32" or "int32").`,
    );
    const size = exampleSize(field);
    if (field.names !== undefined) {
      check(
        Array.isArray(field.names) && field.names.length === size,
        where,
        () => `input '${name}' has ${size} values per example but ${field.names?.length} names.`,
      );
    }
    if (field.standardize !== undefined) {
      const { mean, std } = field.standardize;
      check(
        Array.isArray(mean) &&
          Array.isArray(std) &&
          mean.length === size &&
          std.length === size &&
          mean.every(Number.isFinite) &&
          std.every((s) => Number.isFinite(s) && s > 0),
        where,
        () => `input '${name}''s standardisation needs ${size} finite means and ${size} positive standard deviations.`,
      );
    }
  }
}
