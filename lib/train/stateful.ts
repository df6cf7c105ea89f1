/**
 * Parts of a training run with state beyond the model's weights (a loss-weighting method's running
 * averages, an aggregator's EMA, learnable task weights…). The trainer saves and restores them in
 * checkpoints by name, so a resumed run continues exactly where it stopped. An optimizer that
 * implements it has its state saved in the checkpoint's manifest and restored after its slots.
 */
export interface Stateful {
  /** JSON-serialisable state. */
  state(): unknown;
  /** The same with awaited reads, where the state lives in tensors (what checkpoints call when present). */
  stateAsync?(): Promise<unknown>;
  loadState(state: unknown): void;
}

export function isStateful(x: unknown): x is Stateful {
  return !!x && typeof (x as Stateful).state === "function" && typeof (x as Stateful).loadState === "function";
}
