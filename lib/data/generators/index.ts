export { mmoeSynthetic, MmoeSynthetic, MmoeSyntheticOptions } from "./mmoeSynthetic";
export { cagradToy, CagradToy, CagradToyOptions, ParetoFrontOptions, TrajectoryOptions, Trajectory, CAGRAD_TOY_STARTS } from "./cagradToy";
export { gradNormToy, GradNormToy, GradNormToyOptions } from "./gradNormToy";
export { multiFashion, MultiFashion, MultiFashionOptions, MULTI_FASHION_CANVAS, MULTI_FASHION_OFFSET } from "./multiFashion";
export { fashionLocalization, FashionLocalization, FashionLocalizationOptions } from "./fashionLocalization";
export { resizeBilinear, pasteMax, inkBox } from "./imageOps";
