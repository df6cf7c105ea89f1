/**
 * Gives a result object its displays without changing its data: a
 * `[Symbol.for("Jupyter.display")]()` method (Deno's convention, which the mtlkit
 * kernel honours) and a `util.inspect.custom` so that console.log prints the
 * short text instead of a raw dump. Both are non-enumerable: JSON, spreads,
 * Object.keys and deep equality see the plain data as before.
 */
import { inspect } from "util";
import type { MimeBundle } from "./table";

export const JUPYTER_DISPLAY = Symbol.for("Jupyter.display");

export function withDisplay<T extends object>(value: T, render: (v: T) => MimeBundle): T {
  Object.defineProperty(value, JUPYTER_DISPLAY, {
    value: function (this: T) {
      return render(this);
    },
    enumerable: false,
    configurable: true,
    writable: true,
  });
  Object.defineProperty(value, inspect.custom, {
    value: function (this: T) {
      return String(render(this)["text/plain"]);
    },
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return value;
}

/** The text/plain of a bundle, for inspect.custom methods of classes. */
export function plainOf(bundle: MimeBundle): string {
  return String(bundle["text/plain"]);
}
