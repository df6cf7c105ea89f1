/**
 * Parameters tied across tasks by a regulariser rather than shared outright (soft sharing): each
 * group holds one variable per task tower, all of the same shape, and optionally their learned
 * center θ_s. `mtl.regularizers.softSharing` penalises the distance within each group.
 */
import * as tf from "@tensorflow/tfjs";
import { MultiTaskModel } from "./types";

/** One tied variable: its copy in every task's tower, and their learned center when there is one. */
export interface TiedGroup {
  /** The variable's name inside a tower, e.g. "0.kernel" (layer 0's weight matrix). */
  readonly name: string;
  /** Index of the tower layer the variable belongs to (what per-layer λ is keyed by). */
  readonly layer: number;
  /** θ_1 … θ_k: the k towers' copies, in task order. */
  readonly members: tf.Variable[];
  /** θ_s when the model learns the center; absent when the center is the towers' mean. */
  readonly center?: tf.Variable;
}

/** The soft-sharing center θ_s: a learned variable, or the towers' mean. */
export type CenterKind = "learned" | "mean";

/** A model whose task towers are tied by a regulariser ({@link softSharing}'s): what `mtl.regularizers.softSharing` penalises. */
export interface TiedModel extends MultiTaskModel {
  /** How θ_s is obtained: a learned variable per tied group, or the towers' mean. */
  readonly center: CenterKind;
  /** The tied tower layers, in order. */
  readonly tiedLayers: readonly number[];
  tiedGroups(): TiedGroup[];
}

export function isTiedModel(model: MultiTaskModel): model is TiedModel {
  return typeof (model as Partial<TiedModel>).tiedGroups === "function";
}
