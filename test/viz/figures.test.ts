import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { History } from "../../lib/train/history";
import { studentTQuantile } from "../../lib/eval/stats";
import { isFigure, normalizeLayout } from "../../lib/viz/figure";

const DISPLAY = Symbol.for("Jupyter.display");

function history(): History {
  const h = new History(["a", "b"]);
  for (let s = 0; s < 6; s++)
    h.steps.push({
      epoch: Math.floor(s / 3),
      step: s,
      losses: [1 / (s + 1), 2 / (s + 1)],
      weights: [1, 0.5 + s / 10],
      regularizers: {},
      total: 0,
      applied: true,
    });
  h.epochs.push({
    epoch: 0,
    trainLoss: { a: 1, b: 2 },
    validationLoss: { a: 0.9, b: 1.8 },
    validationMetrics: { a: { mse: 0.9 }, b: { mse: 1.8 } },
    seconds: 1,
  });
  h.epochs.push({
    epoch: 1,
    trainLoss: { a: 0.5, b: 1 },
    validationLoss: { a: 0.4, b: 0.9 },
    validationMetrics: { a: { mse: 0.4 }, b: { mse: 0.9 } },
    seconds: 1,
  });
  return h;
}

describe("viz", () => {
  it("a figure is a plotly MIME bundle with a text fallback", () => {
    const fig = mtl.viz.figure([{ type: "bar", x: [1], y: [2] }], { title: { text: "T" } });
    const bundle = (fig as unknown as Record<symbol, () => Record<string, unknown>>)[DISPLAY]();
    expect(bundle["application/vnd.plotly.v1+json"]).toEqual({ data: fig.data, layout: fig.layout });
    expect(bundle["text/plain"]).toBe('Figure "T" (1 trace: bar)');
    expect(JSON.parse(JSON.stringify(fig))).toEqual({
      data: [{ type: "bar", x: [1], y: [2] }],
      layout: { title: { text: "T" }, xaxis: { automargin: true }, yaxis: { automargin: true } },
    });
    expect(isFigure(fig)).toBe(true);
  });

  it("turns plain-string titles into plotly.js 3's { text } form everywhere, without touching the caller's objects", () => {
    const layout = {
      title: "Loss",
      xaxis: { title: "step", type: "log" },
      yaxis: { title: { text: "loss", font: { size: 10 } } },
      xaxis2: { title: "epoch" },
      yaxis3: { title: 3, automargin: false },
      scene: { xaxis: { title: "a" }, zaxis: { title: "c" } },
      polar: { radialaxis: { title: "r" } },
      legend: { title: "method", x: 1 },
      coloraxis: { colorbar: { title: "z" } },
    };
    const trace = { type: "heatmap", z: [[1]], colorbar: { title: "cos" } };
    const scatter = { type: "scatter", x: [1], y: [1], marker: { color: [1], colorbar: { title: "w" } } };
    const before = JSON.stringify([layout, trace, scatter]);
    const fig = mtl.viz.figure([trace, scatter], layout);
    expect(fig.layout).toEqual({
      title: { text: "Loss" },
      xaxis: { title: { text: "step", standoff: 10 }, type: "log", automargin: true },
      yaxis: { title: { text: "loss", font: { size: 10 }, standoff: 10 }, automargin: true },
      xaxis2: { title: { text: "epoch", standoff: 10 }, automargin: true },
      yaxis3: { title: { text: "3" }, automargin: false },
      scene: { xaxis: { title: { text: "a" } }, zaxis: { title: { text: "c" } } },
      polar: { radialaxis: { title: { text: "r" } } },
      legend: { title: { text: "method" }, x: 1 },
      coloraxis: { colorbar: { title: { text: "z" } } },
    });
    expect(fig.data[0].colorbar).toEqual({ title: { text: "cos" } });
    expect((fig.data[1].marker as { colorbar: unknown }).colorbar).toEqual({ title: { text: "w" } });
    expect(JSON.stringify([layout, trace, scatter])).toBe(before);
    // a title set later as a string is normalised when the figure is displayed
    fig.layout.title = "Later";
    const shown = (fig as unknown as Record<symbol, () => Record<string, { layout: { title: unknown } }>>)[DISPLAY]();
    expect(shown["application/vnd.plotly.v1+json"].layout.title).toEqual({ text: "Later" });
    expect(normalizeLayout(normalizeLayout(layout))).toEqual(normalizeLayout(layout));
  });

  it("labels a log axis of 1 to 4 decades 1, 2, 5 per decade, unless the caller set its ticks", () => {
    const line = (y: number[], yaxis?: string) => ({ type: "scatter", x: y.map((_, i) => i), y, ...(yaxis ? { yaxis } : {}) });
    const dtick = (f: mtl.viz.Figure, axis = "yaxis") => (f.layout[axis] as { dtick?: unknown }).dtick;
    expect(dtick(mtl.viz.figure([line([0.3, 3])], { yaxis: { type: "log" } }))).toBe("D2"); // one decade
    expect(dtick(mtl.viz.figure([line([0.5, 2])], { yaxis: { type: "log" } }))).toBeUndefined(); // within a decade: plotly's linear ticks
    expect(dtick(mtl.viz.figure([line([1e-6, 1])], { yaxis: { type: "log" } }))).toBeUndefined(); // 6 decades: plotly labels decades
    expect(dtick(mtl.viz.figure([line([1, 100])], { yaxis: { type: "log", dtick: 1 } }))).toBe(1);
    expect(dtick(mtl.viz.figure([line([1, 100])], { yaxis: { type: "linear" } }))).toBeUndefined();
    expect(dtick(mtl.viz.figure([line([1, 2])], { yaxis: { type: "log", range: [0, 3] } }))).toBe("D2"); // the range, not the data
    // each axis reads only its own traces
    const two = mtl.viz.figure([line([1, 1.5]), line([1, 1000], "y2")], { yaxis: { type: "log" }, yaxis2: { type: "log" } });
    expect([dtick(two), dtick(two, "yaxis2")]).toEqual([undefined, "D2"]);
  });

  it("breaks a title too long for a fixed-width figure into lines", () => {
    const long = "MultiFashion: Dress / Coat · Shirt / Trouser · Pullover / T-shirt/top · Trouser / Coat · Bag / Bag";
    const fig = mtl.viz.figure([{ type: "scatter", x: [1], y: [1] }], { title: long, width: 600 });
    const title = fig.layout.title as { text: string };
    const lines = title.text.split("<br>");
    expect(lines.length).toBe(2);
    expect(lines.join(" ")).toBe(long);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual((600 - 60) / 9.5);
    expect(fig.layout.margin).toEqual({ t: 100 + 22 });
    const fixed = mtl.viz.figure([], { title: long, width: 600, height: 260, margin: { t: 40, l: 10 } }).layout;
    expect([fixed.height, fixed.margin]).toEqual([260 + 22, { t: 40 + 22, l: 10 }]);
    // responsive figures (no width) and titles that fit keep one line
    expect(mtl.viz.figure([], { title: long }).layout.title).toEqual({ text: long });
    expect(mtl.viz.figure([], { title: "Short", width: 600 }).layout.title).toEqual({ text: "Short" });
  });

  it("sizes heatmaps by their labels, values and title", () => {
    const small = mtl.viz.heatmapSize(["a", "b"], 5);
    expect(small).toEqual({ width: 67 + 2 * 120 + 130, height: 90 + 2 * 120 + 70, tickAngle: 0 });
    const names = Array.from({ length: 12 }, (_, i) => `genre number ${i}`);
    const big = mtl.viz.heatmapSize(names, 5);
    expect(big.width).toBeGreaterThanOrEqual(12 * 56 + 7 * 15);
    expect(big.height).toBeGreaterThanOrEqual(12 * 56);
    expect(big.tickAngle).toBe(-45); // 15-character labels do not fit a 56 px cell
    const long = mtl.viz.heatmapSize(["a", "b"], 5, "A long title that needs more than four hundred and twenty pixels of width");
    expect(long.width).toBeGreaterThan(600);
    const fig = mtl.viz.matrixHeatmap(
      names.map(() => names.map(() => 0.5)),
      names,
      { title: "T" },
    );
    expect([fig.layout.width, fig.layout.height]).toEqual([big.width, big.height]);
    expect((fig.layout.xaxis as { tickangle: number }).tickangle).toBe(-45);
  });

  it("training, weight and metric curves", () => {
    const h = history();
    const loss = mtl.viz.trainingCurves(h);
    expect(loss.data.map((t) => t.name)).toEqual(["a (train)", "a (validation)", "b (train)", "b (validation)"]);
    expect(loss.data[0].y).toEqual(h.lossCurve("a"));
    expect(loss.data[1].x).toEqual([2, 5]);
    const smooth = mtl.viz.trainingCurves(h, { smooth: 0.5 });
    expect((smooth.data[0].y as number[])[1]).toBeCloseTo(0.5 * 1 + 0.5 * 0.5, 12);
    expect(mtl.viz.weightCurves(h).data[1].y).toEqual(h.weightCurve("b"));
    expect(mtl.viz.metricCurves(h, "mse").data[0].y).toEqual([0.9, 0.4]);
    expect(() => mtl.viz.metricCurves(h, "f1")).toThrow(/no task has validation metric 'f1'/);
  });

  it("heatmaps and the cosine evolution", () => {
    const fig = mtl.viz.affinityHeatmap(
      [
        [0.1, -0.2],
        [0.05, 0.3],
      ],
      ["a", "b"],
    );
    expect(fig.data[0].z).toEqual([
      [0.1, -0.2],
      [0.05, 0.3],
    ]);
    expect(fig.data[0].zmax).toBeCloseTo(0.2, 12); // scaled by the largest off-diagonal |Z|
    expect(fig.data[0].text).toEqual([
      ["0.10", "-0.20"],
      ["0.05", "0.30"],
    ]);
    expect(
      mtl.viz.affinityHeatmap(
        [
          [4e-4, -1.2e-5],
          [0, 3e-4],
        ],
        ["a", "b"],
      ).data[0].text,
    ).toEqual([
      ["4.0e-4", "-1.2e-5"],
      ["0", "3.0e-4"],
    ]);
    expect(() => mtl.viz.cosineHeatmap([[1]], ["a", "b"])).toThrow(/2 × 2/);
  });

  it("metric bars with error bars, Δm bars and the Pareto front", () => {
    const runs = (v: number[]) => v.map((x) => ({ a: { mse: x }, b: { accuracy: 1 - x } }));
    const bars = mtl.viz.metricBars({ single: runs([1, 2, 3]), mtl: runs([1, 1, 1]) }, { a: "mse", b: "accuracy" });
    expect(bars.data[0].y).toEqual([2, -1]);
    expect((bars.data[0].error_y as { array: number[] }).array).toEqual([1, 1]);
    expect((bars.data[1].error_y as { array: number[] }).array).toEqual([0, 0]);
    const ci = mtl.viz.metricBars({ single: runs([1, 2, 3]) }, { a: "mse" }, { error: "ci" });
    expect((ci.data[0].error_y as { array: number[] }).array[0]).toBeCloseTo(studentTQuantile(0.975, 2) / Math.sqrt(3), 10);
    const s = mtl.evaluation.summarize([1, 2, 3]);
    expect(mtl.viz.deltaMBars({ m: s }).data[0].y).toEqual([2]);
    // x: accuracy (higher better), y: mse (lower better)
    const pts = [
      { label: "A", x: 0.9, y: 0.5 },
      { label: "B", x: 0.8, y: 0.3 },
      { label: "C", x: 0.7, y: 0.6 }, // dominated by A and B
      { label: "D", x: 0.9, y: 0.4 }, // dominates A
    ];
    expect(mtl.viz.paretoFront(pts, true, false)).toEqual([1, 3]);
    const fig = mtl.viz.paretoScatter(pts, { x: "acc", y: "mse", xHigherIsBetter: true, yHigherIsBetter: false });
    expect(fig.data.at(-1)!.x).toEqual([0.8, 0.9]);
  });
});
