/** Plotly figure builders: `mtl.viz.*`. Each returns a figure the mtlkit kernel shows inline. */
export { figure, Figure, Trace, Layout, describeFigure, isFigure, normalizeLayout, normalizeTrace, PLOTLY_MIME } from "./figure";
export { trainingCurves, weightCurves, metricCurves, CurveOptions } from "./curves";
export { matrixHeatmap, heatmapSize, cellTexts, cosineHeatmap, affinityHeatmap, cosineEvolution, HeatmapOptions } from "./matrices";
export { metricBars, deltaMBars, paretoScatter, paretoFront, ParetoPoint, ErrorBar } from "./comparison";
