/** Task-by-task matrices as heatmaps: gradient cosines, their evolution, TAG affinities. */
import { check } from "../errors";
import { RelatednessMonitor } from "../eval/relatedness";
import { color } from "./curves";
import { figure, Figure, TITLE_CHAR_PX, Trace } from "./figure";

/** Options of the heatmap figures. */
export interface HeatmapOptions {
  title?: string;
  zmin?: number;
  zmax?: number;
  xTitle?: string;
  yTitle?: string;
  colorscale?: string;
}

/**
 * A labelled heatmap with the values written in the cells; row i is drawn top to bottom.
 * Its size grows with the number of labels, the longest label and value, and the title, so
 * cells stay readable and tick labels do not overlap (see {@link heatmapSize}).
 */
export function matrixHeatmap(matrix: number[][], names: string[], options: HeatmapOptions = {}): Figure {
  const k = names.length;
  check(
    matrix.length === k && matrix.every((r) => r.length === k),
    "matrixHeatmap",
    () => `the matrix must be ${k} × ${k} (tasks ${names.join(", ")}).`,
  );
  const text = cellTexts(matrix);
  const trace: Trace = {
    type: "heatmap",
    z: matrix,
    x: names,
    y: names,
    zmin: options.zmin,
    zmax: options.zmax,
    zmid: 0,
    colorscale: options.colorscale ?? "RdBu",
    text,
    texttemplate: "%{text}",
    hovertemplate: "%{y} → %{x}: %{z:.4f}<extra></extra>",
  };
  const title = options.title ?? "";
  const size = heatmapSize(names, Math.max(0, ...text.flat().map((t) => t.length)), title);
  return figure([trace], {
    title: { text: title },
    xaxis: { title: { text: options.xTitle ?? "" }, automargin: true, tickangle: size.tickAngle },
    yaxis: { title: { text: options.yTitle ?? "" }, autorange: "reversed", automargin: true },
    width: size.width,
    height: size.height,
  });
}

/**
 * The numbers written in the cells: two decimals, or two significant digits in exponent form
 * when every |value| is below 0.05 (TAG affinities are ~1e-4; "0.00" would hide them).
 */
export function cellTexts(matrix: number[][]): string[][] {
  const largest = Math.max(0, ...matrix.flat().filter(Number.isFinite).map(Math.abs));
  const small = largest > 0 && largest < 0.05;
  return matrix.map((r) => r.map((v) => (!small ? v.toFixed(2) : v === 0 ? "0" : v.toExponential(1))));
}

/** Approximate width in px of one character of plotly's default 12 px tick font. */
const CHAR_PX = 7;

/**
 * The pixel size of a k × k heatmap with these labels: square cells wide enough for their
 * value text (at least 56 px; up to 120 px while k is small, so a 2 × 2 matrix is not a stamp), margins for the longest label, room for the colorbar, and a
 * width that fits the title on one line. Column labels that would not fit their cell
 * horizontally are turned by -45° (their height then enters the bottom margin).
 */
export function heatmapSize(names: string[], valueChars: number, title = ""): { width: number; height: number; tickAngle: number } {
  const k = names.length;
  const longest = Math.max(1, ...names.map((n) => n.length));
  const cell = Math.max(56, CHAR_PX * valueChars + 20, Math.min(120, Math.floor(480 / Math.max(1, k))));
  const tickAngle = CHAR_PX * longest + 8 > cell ? -45 : 0;
  const left = CHAR_PX * longest + 60; // labels + axis title
  const bottom = (tickAngle ? Math.ceil(CHAR_PX * longest * Math.SQRT1_2) + 20 : 20) + 50;
  const right = 130; // colorbar
  const top = 90; // title
  const width = Math.max(420, Math.ceil(TITLE_CHAR_PX * title.length) + 80, left + k * cell + right);
  const height = Math.max(360, top + k * cell + bottom);
  return { width: Math.round(width), height: Math.round(height), tickAngle };
}

/** Mean gradient cosine between tasks (from a monitor, or a matrix with names): red = conflict. */
export function cosineHeatmap(
  source: RelatednessMonitor | number[][],
  names?: string[],
  title = "Gradient cosine on θ_s (mean over training)",
): Figure {
  const [m, n] = source instanceof RelatednessMonitor ? [source.meanCosine(), source.taskNames] : [source, names!];
  check(n !== undefined, "cosineHeatmap", () => "pass the task names with a matrix.");
  return matrixHeatmap(m, n, { title, zmin: -1, zmax: 1, xTitle: "task j", yTitle: "task i" });
}

/** TAG's Z_{i→j}: row i is the task whose step is taken, column j the task whose loss changes. */
export function affinityHeatmap(
  source: RelatednessMonitor | number[][],
  names?: string[],
  title = "TAG lookahead affinity Z(i → j)",
): Figure {
  const [m, n] = source instanceof RelatednessMonitor ? [source.affinity(), source.taskNames] : [source, names!];
  check(n !== undefined, "affinityHeatmap", () => "pass the task names with a matrix.");
  const scale = Math.max(1e-12, ...m.flatMap((r, i) => r.filter((_, j) => j !== i).map(Math.abs)));
  return matrixHeatmap(m, n, { title, zmin: -scale, zmax: scale, xTitle: "task j (loss measured)", yTitle: "task i (step taken)" });
}

/** Each pair's gradient cosine over the training steps; the zero line marks conflict. */
export function cosineEvolution(monitor: RelatednessMonitor, title = "Gradient cosine over training"): Figure {
  check(monitor.snapshots.length > 0, "cosineEvolution", () => "the monitor has no snapshots yet.");
  const steps = monitor.snapshots.map((s) => s.step);
  const names = monitor.taskNames;
  const data: Trace[] = [];
  let c = 0;
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: `${names[i]} · ${names[j]}`,
        x: steps,
        y: monitor.snapshots.map((s) => s.cosine[i][j]),
        line: { color: color(c++) },
      });
    }
  }
  return figure(data, {
    title: { text: title },
    xaxis: { title: { text: "step" } },
    yaxis: { title: { text: "cos(g_i, g_j)" }, range: [-1, 1], zeroline: true },
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { dash: "dot", color: "#888" } }],
  });
}
