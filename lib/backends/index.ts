/**
 * Backends: what computes, and why. `mtl.useBestBackend()` (top-level) picks one; these say what
 * runs (`backendInfo`), probe a WebGPU adapter without risking the process (`probeWebGpu`), check the
 * whole machine (`doctor`, the data behind `npx mtlkit doctor`), and switch mtlkit's optional native
 * OpenBLAS kernels for the wasm and cpu backends on and off.
 *
 * ```ts
 * const info = await mtl.useBestBackend();
 * info.candidates.map((c) => `${c.name}: ${c.reason}`);
 * ```
 * @module
 */
export { backendInfo, BackendInfo, BackendCandidate, BackendName, AdapterInfo, UseBackendOptions } from "../backend";
export { probeWebGpu, WebGpuProbe, WebGpuProbeOptions, WebGpuStatus, GpuAdapterSummary } from "./webgpu";
export { doctor, DoctorReport, DoctorOptions, BackendCheck, JupyterInfo, KernelspecFound } from "../doctor";
export { NvidiaInfo, SharedLibrary } from "./system";
export { nativeStatus, NativeStatus } from "../native/addon";
export { enableNativeKernels, disableNativeKernels, NativeKernelsStatus } from "../native/kernels";
