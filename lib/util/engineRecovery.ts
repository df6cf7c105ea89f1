/**
 * Repairs tfjs's engine after the mtlkit kernel interrupts a cell's synchronous code.
 *
 * The kernel stops synchronous code with SIGINT (vm's breakOnSigint), which V8 carries out by
 * terminating the script: no catch or finally block runs. A `tf.tidy`, `tf.variableGrads` or kernel
 * call cut short that way leaves its scope open (every tensor made after it would be tracked there
 * and never freed), the tensors it made so far alive, and the gradient and kernel depths raised.
 * The kernel calls hooks registered under `Symbol.for("mtlkit.cellHooks")` (a global, so the kernel
 * imports nothing from mtlkit and every copy of mtlkit a notebook loads registers its own): `before`
 * as a cell starts, `terminated` when its synchronous run was ended that way. This one notes the
 * engine's state before the cell and closes what the terminated run left open, freeing the tensors
 * of those scopes as tidy would have.
 */
import * as tf from "@tensorflow/tfjs";

interface EngineState {
  scopeStack: unknown[];
  gradientDepth: number;
  kernelDepth: number;
  activeTape: unknown;
}

interface EngineInternals {
  state: EngineState;
  endScope(result?: tf.TensorContainer): void;
}

export interface CellHook {
  before(): void;
  terminated(): void;
}

const CELL_HOOKS = Symbol.for("mtlkit.cellHooks");

function engine(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

let saved: Omit<EngineState, "scopeStack"> & { scopes: number } = { scopes: 0, gradientDepth: 0, kernelDepth: 0, activeTape: null };

export const tfjsCellHook: CellHook = {
  before() {
    const s = engine().state;
    saved = { scopes: s.scopeStack.length, gradientDepth: s.gradientDepth, kernelDepth: s.kernelDepth, activeTape: s.activeTape };
  },
  terminated() {
    const e = engine();
    while (e.state.scopeStack.length > saved.scopes) e.endScope();
    e.state.gradientDepth = saved.gradientDepth;
    e.state.kernelDepth = saved.kernelDepth;
    e.state.activeTape = saved.activeTape;
  },
};

/** Registers the hook with the kernel (idempotent). */
export function registerCellHook(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (!(g[CELL_HOOKS] instanceof Set)) g[CELL_HOOKS] = new Set<CellHook>();
  (g[CELL_HOOKS] as Set<CellHook>).add(tfjsCellHook);
}

registerCellHook();
