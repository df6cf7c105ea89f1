/**
 * Models that leave the notebook: save and load (`model.save`, `mtl.loadModel`), weights by name
 * (`model.getWeights`, `model.setWeights` with PyTorch's layout), predictions on raw rows, and a
 * static web page that runs them in the browser (`exportWeb`, `mtlkit export-web`). See docs/deploy.md.
 */
export { readModelFiles } from "./load";
export { SaveOptions } from "./save";
export { predict, TaskPrediction, InputRows } from "./predict";
export { InputSpec, InputFieldSpec } from "./inputs";
export { ModelDescription } from "./describe";
export { MODEL_FORMAT, MODEL_FORMAT_VERSION, SavedModelFile } from "./format";
export { WeightLayout, NamedWeights, WeightValues, WeightInput, GetWeightsOptions, SetWeightsOptions } from "./weights";
export { exportWeb, ExportWebOptions } from "./web/exportWeb";
export { openInBrowser, OpenInBrowserOptions, BrowserRun } from "./web/openInBrowser";
