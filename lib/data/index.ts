/**
 * Datasets, generators and task samplers: `mtl.data.*`. Nothing downloads at run time: every dataset
 * comes from an npm dependency, a Debian package or the repository. The builders that turn arrays
 * and tables into datasets are top-level (`mtl.fromArrays`, `mtl.fromDataFrame`, `mtl.split`).
 *
 * ```ts
 * const { data, tasks } = mtl.data.mmoeSynthetic({ p: 0.5, rows: 10000, seed: 0 });
 * const penguins = mtl.data.penguins();
 * ```
 * @module
 */
export { mmoeSynthetic, MmoeSynthetic, MmoeSyntheticOptions } from "./generators/mmoeSynthetic";
export { gradNormToy, GradNormToy, GradNormToyOptions } from "./generators/gradNormToy";
export { multiFashion, MultiFashion, MultiFashionOptions } from "./generators/multiFashion";
export {
  cagradToy,
  CagradToy,
  CagradToyOptions,
  ParetoFrontOptions,
  TrajectoryOptions,
  Trajectory,
  CAGRAD_TOY_STARTS,
} from "./generators/cagradToy";
export { fashionLocalization, FashionLocalization, FashionLocalizationOptions } from "./generators/fashionLocalization";
export { fashionMnist, FashionMnistOptions, ImageSet, FASHION_MNIST_CLASSES } from "./datasets/fashionMnist";
export {
  penguins,
  seattleWeather,
  weather,
  cars,
  balancedClassWeights,
  Row,
  TableInfo,
  PENGUINS_INFO,
  SEATTLE_WEATHER_INFO,
  WEATHER_INFO,
  CARS_INFO,
} from "./datasets/vega";
export {
  brownCorpus,
  brownTagging,
  BrownPassage,
  BrownSentence,
  BrownTagging,
  BrownTaggingOptions,
  BROWN_GENRES,
  UNIVERSAL_TAGS,
} from "./datasets/brown";
export { NamedInput, InputKind, InputArray, selectInputs } from "./inputs";
export { TaskSampler, TaskSizes, roundRobin, proportional, temperature, annealed } from "./samplers";
export { labelledCount, labelledCounts, labelMask, LabelMasks } from "./masks";
export { datasetSizes } from "../train/batches";
export { resizeBilinear } from "./generators/imageOps";
