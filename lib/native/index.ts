/** lib/native's own barrel, for the floors above it (the public names are in lib/backends/index.ts). */
export { loadNative, nativeStatus, NativeStatus } from "./addon";
export { enableNativeKernels, disableNativeKernels, nativeMatMulActive, nativeAddonFor, NativeKernelsStatus } from "./kernels";
export { FusedAdamOptimizer } from "./adam";
