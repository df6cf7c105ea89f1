/**
 * Models that leave the notebook: save and load (`model.save`, `mtl.loadModel`), weights by name
 * (`model.getWeights`, `model.setWeights` with PyTorch's layout), predictions on raw rows, and a
 * static web page that runs them in the browser (`exportWeb`, `mtlkit export-web`). See docs/deploy.md.
 *
 * ```ts
 * await model.save("penguins-model", { standardizer: scaler, featureNames: data.featureNames });
 * const loaded = await mtl.loadModel("penguins-model");     // same class, same tasks, same weights
 * const p = await mtl.deploy.predict(loaded, [[39.1, 18.7, 181, 0, 0, 1]]);  // raw rows: the saved scaler applies
 * await mtl.deploy.exportWeb("penguins-model", "penguins-web");              // a static page
 * ```
 * @module
 */
export { readModelFiles, VerifiedModelFiles } from "./load";
export { SaveOptions } from "./save";
export { predict, TaskPrediction, InputRows, NamedInputRows } from "./predict";
export { InputSpec, InputFieldSpec } from "./inputs";
export { ModelDescription, Json } from "./describe";
export { MODEL_FORMAT, MODEL_FORMAT_VERSION, SavedModelFile } from "./format";
export { WeightLayout, NamedWeights, WeightValues, WeightInput, NestedNumbers, GetWeightsOptions, SetWeightsOptions } from "./weights";
export { exportWeb, ExportWebOptions } from "./web/exportWeb";
export { openInBrowser, OpenInBrowserOptions, BrowserRun } from "./web/openInBrowser";
