/**
 * A plotly figure as plain data, `{ data, layout }`, that the mtlkit kernel shows inline.
 * It follows Deno's display convention: an object with a `[Symbol.for("Jupyter.display")]()`
 * method returns a MIME bundle; the kernel adds `text/html` (plotly.js inlined once, no CDN).
 * Outside a notebook the figure is still plain JSON (`JSON.stringify(fig)` drops the symbol).
 */

/** One plotly trace (scatter, bar, heatmap…); kept open since plotly has dozens of trace kinds. */
export type Trace = Record<string, unknown> & { type?: string };

/** A plotly layout (title, axes, size…). */
export type Layout = Record<string, unknown>;

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/** A plotly figure as plain data, `{ data, layout }`, which the mtlkit kernel shows inline. */
export interface Figure {
  data: Trace[];
  layout: Layout;
  [JUPYTER_DISPLAY](): Record<string, unknown>;
}

/** Builds a figure from traces and a layout. The title, when present, is the text/plain fallback. */
export function figure(data: Trace[], layout: Layout = {}): Figure {
  return {
    data,
    layout,
    [JUPYTER_DISPLAY]() {
      return { [PLOTLY_MIME]: { data: this.data, layout: this.layout }, "text/plain": describeFigure(this.data, this.layout) };
    },
  };
}

/** A one-line text description, e.g. `Figure "Task losses" (3 traces: scatter)`. */
export function describeFigure(data: Trace[], layout: Layout): string {
  const title = layout.title;
  const text = typeof title === "string" ? title : (title as { text?: string } | undefined)?.text;
  const kinds = [...new Set(data.map((t) => t.type ?? "scatter"))].join(", ");
  return `Figure${text ? ` "${text}"` : ""} (${data.length} trace${data.length === 1 ? "" : "s"}: ${kinds || "none"})`;
}

export function isFigure(x: unknown): x is Figure {
  return typeof x === "object" && x !== null && Array.isArray((x as Figure).data) && typeof (x as Record<symbol, unknown>)[JUPYTER_DISPLAY] === "function";
}
