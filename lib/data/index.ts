/** Datasets, generators and task samplers: `mtl.data.*`. */
export * from "./dataset";
export * from "./dataframe";
export { NamedInput, InputKind, InputArray, selectInputs, inputSize, describeInputs } from "./inputs";
export * from "./generators";
export * from "./datasets";
export { readIdx, parseIdx, writeIdx, encodeIdx, IdxArray } from "./idx";
export { TaskSampler, TaskSizes, roundRobin, proportional, temperature, annealed } from "./samplers";
