export { loadNative, NativeStatus } from "./addon";
export { enableNativeKernels, disableNativeKernels, nativeMatMulActive, NativeKernelsStatus } from "./kernels";
