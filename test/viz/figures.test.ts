import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { History } from "../../lib/train/history";
import { studentTQuantile } from "../../lib/eval/stats";
import { isFigure } from "../../lib/viz/figure";

const DISPLAY = Symbol.for("Jupyter.display");

function history(): History {
  const h = new History(["a", "b"]);
  for (let s = 0; s < 6; s++) h.steps.push({ epoch: Math.floor(s / 3), step: s, losses: [1 / (s + 1), 2 / (s + 1)], weights: [1, 0.5 + s / 10], regularizers: {}, total: 0, applied: true });
  h.epochs.push({ epoch: 0, trainLoss: { a: 1, b: 2 }, validationLoss: { a: 0.9, b: 1.8 }, validationMetrics: { a: { mse: 0.9 }, b: { mse: 1.8 } }, seconds: 1 });
  h.epochs.push({ epoch: 1, trainLoss: { a: 0.5, b: 1 }, validationLoss: { a: 0.4, b: 0.9 }, validationMetrics: { a: { mse: 0.4 }, b: { mse: 0.9 } }, seconds: 1 });
  return h;
}

describe("viz", () => {
  it("a figure is a plotly MIME bundle with a text fallback", () => {
    const fig = mtl.viz.figure([{ type: "bar", x: [1], y: [2] }], { title: { text: "T" } });
    const bundle = (fig as unknown as Record<symbol, () => Record<string, unknown>>)[DISPLAY]();
    expect(bundle["application/vnd.plotly.v1+json"]).toEqual({ data: fig.data, layout: fig.layout });
    expect(bundle["text/plain"]).toBe('Figure "T" (1 trace: bar)');
    expect(JSON.parse(JSON.stringify(fig))).toEqual({ data: [{ type: "bar", x: [1], y: [2] }], layout: { title: { text: "T" } } });
    expect(isFigure(fig)).toBe(true);
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
    const fig = mtl.viz.affinityHeatmap([[0.1, -0.2], [0.05, 0.3]], ["a", "b"]);
    expect(fig.data[0].z).toEqual([[0.1, -0.2], [0.05, 0.3]]);
    expect(fig.data[0].zmax).toBeCloseTo(0.2, 12); // scaled by the largest off-diagonal |Z|
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
