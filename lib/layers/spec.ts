/**
 * How an encoder or head block was made: its factory's name and options. mtlkit's own blocks keep
 * this record (under a symbol) so a saved model that uses them as a trunk or head can be rebuilt;
 * a user's function block or a tf.LayersModel has none and cannot be described.
 */

/** The symbol under which a block keeps its {@link BlockFactorySpec}. */
export const BLOCK_SPEC = Symbol.for("mtlkit.blockSpec");

/** The factory call that made a block: `mtl[factory](options)`. */
export interface BlockFactorySpec {
  factory: string;
  options: unknown;
}

/** Attaches the record of the factory call that made `block`. */
export function recordBlockSpec(block: object, factory: string, options: unknown): void {
  let copy: unknown;
  try {
    copy = structuredClone(options ?? {});
  } catch {
    return; // options that are not plain data: the block cannot be described (saving says so)
  }
  Object.defineProperty(block, BLOCK_SPEC, { value: { factory, options: copy }, enumerable: false });
}

/** The factory call that made `block`, if it is one of mtlkit's describable blocks. */
export function blockSpecOf(block: unknown): BlockFactorySpec | undefined {
  if (block === null || typeof block !== "object") return undefined;
  return (block as Record<symbol, BlockFactorySpec | undefined>)[BLOCK_SPEC];
}
