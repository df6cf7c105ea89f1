export { loadNative, NativeStatus } from "./addon";
export { enableNativeKernels, disableNativeKernels, nativeMatMulActive, nativeAddonFor, NativeKernelsStatus } from "./kernels";
export { FusedAdamOptimizer } from "./adam";
