/**
 * Plotly figure builders: `mtl.viz.*`. Each returns a {@link Figure} that the mtlkit kernel shows
 * inline (plotly.js inlined once, no CDN) and that tests can inspect as plain data.
 *
 * ```ts
 * mtl.viz.trainingCurves(trainer.history);
 * mtl.viz.figure([{ type: "bar", x: ["a", "b"], y: [1, 2] }], { title: "Two bars" });
 * ```
 * @module
 */
export { figure, Figure, Trace, Layout } from "./figure";
export { trainingCurves, weightCurves, metricCurves, CurveOptions } from "./curves";
export { matrixHeatmap, heatmapSize, cellTexts, cosineHeatmap, affinityHeatmap, cosineEvolution, HeatmapOptions } from "./matrices";
export { metricBars, deltaMBars, paretoScatter, paretoFront, ParetoPoint, ErrorBar } from "./comparison";
