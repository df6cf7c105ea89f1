/** The activations mtlkit's native kernels fuse (native/src/dense.h), by tfjs's name → the addon's code. */
export const NATIVE_ACTIVATIONS: ReadonlyMap<string, 0 | 1> = new Map([
  ["linear", 0],
  ["relu", 1],
]);
