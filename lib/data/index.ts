/** Datasets, generators and task samplers: `mtl.data.*`. */
export * from "./dataset";
export * from "./dataframe";
export * from "./generators";
export * from "./datasets";
export { readIdx, parseIdx, writeIdx, encodeIdx, IdxArray } from "./idx";
export { TaskSampler, TaskSizes, roundRobin, proportional, temperature, annealed } from "./samplers";
export { labelledCount, labelledCounts, labelMask, LabelMasks } from "./masks";
