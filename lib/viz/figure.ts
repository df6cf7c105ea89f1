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

/**
 * Builds a figure from traces and a layout. The title, when present, is the text/plain fallback.
 * Titles given as plain strings (layout, axes, colorbars, legend) are turned into plotly.js 3's
 * `{ text }` form, which is the only one plotly.js 3 draws, and cartesian axes get `automargin`
 * so long tick labels push the margins instead of overlapping the title or being cut off; a log
 * axis spanning 1 to 4 decades is labelled 1, 2, 5 per decade, and a title too long for a fixed
 * `width` is broken into lines. The caller's objects are not modified; the display hook normalises
 * again, so titles set later as strings (`fig.layout.title = "…"`) still render.
 */
export function figure(data: Trace[], layout: Layout = {}): Figure {
  return {
    data: data.map(normalizeTrace),
    layout: normalizeLayout(layout, data),
    [JUPYTER_DISPLAY]() {
      const fig = { data: this.data.map(normalizeTrace), layout: normalizeLayout(this.layout, this.data) };
      return { [PLOTLY_MIME]: fig, "text/plain": describeFigure(fig.data, fig.layout) };
    },
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A title as plotly.js 3 wants it: a string or number becomes `{ text }`; anything else is kept. */
function titleObject(title: unknown): unknown {
  return typeof title === "string" || typeof title === "number" ? { text: String(title) } : title;
}

/** A copy of `container` whose `title` is in `{ text }` form (the same object when nothing changes). */
function withTitle<T>(container: T): T {
  if (!isRecord(container) || !("title" in container)) return container;
  const title = titleObject(container.title);
  return title === container.title ? container : ({ ...container, title } as T);
}

/** A colorbar's owner (a trace, its marker, a coloraxis) with the colorbar title in `{ text }` form. */
function withColorbarTitle<T>(owner: T): T {
  if (!isRecord(owner) || !isRecord(owner.colorbar)) return owner;
  const colorbar = withTitle(owner.colorbar);
  return colorbar === owner.colorbar ? owner : ({ ...owner, colorbar } as T);
}

/** An axis with `automargin: true` unless it says otherwise. */
function withAutomargin(axis: Record<string, unknown>): Record<string, unknown> {
  return "automargin" in axis ? axis : { ...axis, automargin: true };
}

/**
 * An axis whose title gets an explicit `standoff` (10 px) when it pushes margins: plotly.js
 * keeps a title without one inside the default margin, on top of long tick labels; with one,
 * automargin makes room for the title beyond the labels.
 */
function withStandoff(axis: Record<string, unknown>): Record<string, unknown> {
  const title = axis.title;
  if (axis.automargin === false || !isRecord(title) || !title.text || "standoff" in title) return axis;
  return { ...axis, title: { ...title, standoff: 10 } };
}

/** Approximate width in px of one character of plotly's default 17 px title font. */
export const TITLE_CHAR_PX = 9.5;

/**
 * A layout of fixed `width` whose title would not fit on one line, with the title broken at
 * spaces into lines that do (`<br>`), and the top margin (and a fixed height) grown by the
 * extra lines: plotly.js neither wraps titles nor keeps them inside the figure.
 */
function withWrappedTitle(layout: Layout): Layout {
  const title = layout.title;
  if (typeof layout.width !== "number" || !isRecord(title) || typeof title.text !== "string" || title.text.includes("<br")) return layout;
  const perLine = Math.max(10, Math.floor((layout.width - 60) / TITLE_CHAR_PX));
  if (title.text.length <= perLine) return layout;
  const lines: string[] = [];
  for (const word of title.text.split(" ")) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= perLine) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  // each extra line gets room above the plot: the top margin (plotly's default is 100 px) and
  // a fixed height grow by one title line
  const extra = Math.round(1.3 * 17 * (lines.length - 1));
  const margin = isRecord(layout.margin) ? layout.margin : {};
  const top = typeof margin.t === "number" ? margin.t : 100;
  return {
    ...layout,
    title: { ...title, text: lines.join("<br>") },
    margin: { ...margin, t: top + extra },
    ...(typeof layout.height === "number" ? { height: layout.height + extra } : {}),
  };
}

/** The decades (log10 units) a log axis shows: its explicit range, else the positive values of the traces drawn on it. */
function logDecades(axis: Record<string, unknown>, key: string, data: Trace[]): number {
  const range = axis.range;
  if (Array.isArray(range) && range.length === 2 && range.every((r) => typeof r === "number")) return Math.abs(range[1] - range[0]);
  const letter = key[0] as "x" | "y";
  const id = `${letter}${key.slice(5)}`; // "yaxis2" -> "y2"
  const values = data
    .filter((t) => ((t[`${letter}axis`] as string | undefined) ?? letter) === id && Array.isArray(t[letter]))
    .flatMap((t) => (t[letter] as unknown[]).filter((v): v is number => typeof v === "number" && Number.isFinite(v) && v > 0));
  if (values.length === 0) return 0;
  return Math.log10(Math.max(...values) / Math.min(...values));
}

/**
 * A log axis without tick settings of its own, spanning more than 0.9 and at most 4 decades,
 * labelled 1, 2, 5 per decade (`dtick: "D2"`): plotly.js's automatic choice there is often
 * every digit ("D1"), whose 7, 8, 9 labels overlap near each power of ten.
 */
function withLogTicks(axis: Record<string, unknown>, key: string, data: Trace[]): Record<string, unknown> {
  if (axis.type !== "log" || ["dtick", "tickvals", "tickmode", "nticks"].some((k) => k in axis)) return axis;
  const decades = logDecades(axis, key, data);
  return decades > 0.9 && decades <= 4 ? { ...axis, dtick: "D2" } : axis;
}

const CARTESIAN_AXIS = /^[xy]axis\d*$/;
const SCENE = /^scene\d*$/;
const POLAR = /^polar\d*$/;
const COLORAXIS = /^coloraxis\d*$/;

/**
 * A layout in plotly.js 3's form: `title`, every axis title (cartesian, 3-D scenes, polar),
 * the legend title and colorbar titles as `{ text }`; cartesian axes with `automargin: true`
 * unless set, and their titles with a `standoff` so the pushed margin holds title and labels;
 * a log axis spanning 1 to 4 decades of `data` labels 1, 2, 5 per decade (see withLogTicks);
 * a title too long for a figure of fixed `width` is broken into lines (see withWrappedTitle). Returns a new object; nested objects are copied only where they change.
 */
export function normalizeLayout(layout: Layout, data: Trace[] = []): Layout {
  const out: Layout = withWrappedTitle(withTitle({ ...layout }));
  for (const key of new Set(["xaxis", "yaxis", ...Object.keys(out)])) {
    const value = out[key];
    if (CARTESIAN_AXIS.test(key)) {
      if (value !== undefined && !isRecord(value)) continue;
      out[key] = withLogTicks(withStandoff(withAutomargin(withTitle(value ?? {}))), key, data);
    } else if (SCENE.test(key) && isRecord(value)) {
      const scene = { ...value };
      for (const a of ["xaxis", "yaxis", "zaxis"]) if (isRecord(scene[a])) scene[a] = withTitle(scene[a]);
      out[key] = scene;
    } else if (POLAR.test(key) && isRecord(value)) {
      const polar = { ...value };
      for (const a of ["radialaxis", "angularaxis"]) if (isRecord(polar[a])) polar[a] = withTitle(polar[a]);
      out[key] = polar;
    } else if (COLORAXIS.test(key)) {
      out[key] = withColorbarTitle(value);
    } else if (key === "legend") {
      out[key] = withTitle(value);
    }
  }
  return out;
}

/** A trace with its colorbar titles (on the trace and on its marker) in `{ text }` form. */
export function normalizeTrace(trace: Trace): Trace {
  const t = withColorbarTitle(trace);
  const marker = withColorbarTitle(t.marker);
  return marker === t.marker ? t : { ...t, marker };
}

/** A one-line text description, e.g. `Figure "Task losses" (3 traces: scatter)`. */
export function describeFigure(data: Trace[], layout: Layout): string {
  const title = layout.title;
  const text = typeof title === "string" ? title : (title as { text?: string } | undefined)?.text;
  const kinds = [...new Set(data.map((t) => t.type ?? "scatter"))].join(", ");
  return `Figure${text ? ` "${text}"` : ""} (${data.length} trace${data.length === 1 ? "" : "s"}: ${kinds || "none"})`;
}

export function isFigure(x: unknown): x is Figure {
  return (
    typeof x === "object" &&
    x !== null &&
    Array.isArray((x as Figure).data) &&
    typeof (x as Record<symbol, unknown>)[JUPYTER_DISPLAY] === "function"
  );
}
