export { mmoeSynthetic, MmoeSynthetic, MmoeSyntheticOptions } from "./mmoeSynthetic";
export { gradNormToy, GradNormToy, GradNormToyOptions } from "./gradNormToy";
export { multiFashion, MultiFashion, MultiFashionOptions, MULTI_FASHION_CANVAS, MULTI_FASHION_OFFSET } from "./multiFashion";
export { fashionLocalization, FashionLocalization, FashionLocalizationOptions } from "./fashionLocalization";
export { resizeBilinear, pasteMax, inkBox } from "./imageOps";
