/** Datasets, generators and task samplers: `mtl.data.*`. */
export * from "./dataset";
export * from "./dataframe";
export * from "./generators";
