/** Task-by-task matrices as heatmaps: gradient cosines, their evolution, TAG affinities. */
import { check } from "../errors";
import { RelatednessMonitor } from "../eval/relatedness";
import { color } from "./curves";
import { figure, Figure, Trace } from "./figure";

/** Options of the heatmap figures. */
export interface HeatmapOptions {
  title?: string;
  zmin?: number;
  zmax?: number;
  xTitle?: string;
  yTitle?: string;
  colorscale?: string;
}

/** A labelled heatmap with the values written in the cells; row i is drawn top to bottom. */
export function matrixHeatmap(matrix: number[][], names: string[], options: HeatmapOptions = {}): Figure {
  const k = names.length;
  check(matrix.length === k && matrix.every((r) => r.length === k), "matrixHeatmap", () => `the matrix must be ${k} × ${k} (tasks ${names.join(", ")}).`);
  const trace: Trace = {
    type: "heatmap",
    z: matrix,
    x: names,
    y: names,
    zmin: options.zmin,
    zmax: options.zmax,
    zmid: 0,
    colorscale: options.colorscale ?? "RdBu",
    text: matrix.map((r) => r.map((v) => v.toFixed(2))),
    texttemplate: "%{text}",
    hovertemplate: "%{y} → %{x}: %{z:.4f}<extra></extra>",
  };
  return figure([trace], {
    title: { text: options.title ?? "" },
    xaxis: { title: { text: options.xTitle ?? "" } },
    yaxis: { title: { text: options.yTitle ?? "" }, autorange: "reversed" },
    width: 120 + 70 * k,
    height: 100 + 60 * k,
  });
}

/** Mean gradient cosine between tasks (from a monitor, or a matrix with names): red = conflict. */
export function cosineHeatmap(source: RelatednessMonitor | number[][], names?: string[], title = "Gradient cosine on θ_s (mean over training)"): Figure {
  const [m, n] = source instanceof RelatednessMonitor ? [source.meanCosine(), source.taskNames] : [source, names!];
  check(n !== undefined, "cosineHeatmap", () => "pass the task names with a matrix.");
  return matrixHeatmap(m, n, { title, zmin: -1, zmax: 1 });
}

/** TAG's Z_{i→j}: row i is the task whose step is taken, column j the task whose loss changes. */
export function affinityHeatmap(source: RelatednessMonitor | number[][], names?: string[], title = "TAG lookahead affinity Z(i → j)"): Figure {
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
      data.push({ type: "scatter", mode: "lines+markers", name: `${names[i]} · ${names[j]}`, x: steps, y: monitor.snapshots.map((s) => s.cosine[i][j]), line: { color: color(c++) } });
    }
  }
  return figure(data, {
    title: { text: title },
    xaxis: { title: { text: "step" } },
    yaxis: { title: { text: "cos(g_i, g_j)" }, range: [-1, 1], zeroline: true },
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { dash: "dot", color: "#888" } }],
  });
}
