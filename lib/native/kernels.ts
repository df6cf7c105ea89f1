/**
 * Native kernels for tfjs's wasm and cpu backends. `enableNativeKernels()` replaces each backend's
 * BatchMatMul with one that calls OpenBLAS's sgemm through the addon — on the wasm backend directly
 * on views of the WebAssembly heap, so nothing is copied — and keeps the original kernel for what it
 * does not handle (broadcast batch dimensions other than 1); likewise the convolution and pooling
 * kernels and their gradients (./convKernels); `_FusedMatMul`, `Sum` and mtlkit's own dense-layer
 * gradient kernel (./denseKernels). Transpose flags cost
 * nothing here, so lib/ops/matmul.ts stops materialising transposes while these kernels are active.
 * Results equal the backends' own within float32 rounding (BLAS sums in a different order).
 */
import * as tf from "@tensorflow/tfjs";
import type { CpuBackendLike, TensorInfo, WasmBackendLike } from "./views";
import "./wasmKernels"; // wasm's Conv2DBackpropFilter, kept as the native one's fallback
import { loadNative, NativeAddon } from "./addon";
import { convPoolKernels, KernelFunc } from "./convKernels";
import { denseKernels, denseOwnKernels } from "./denseKernels";
import { nativeThreads } from "./threads";
import { plan } from "./matmulPlan";

const SUPPORTED = ["wasm", "cpu"] as const;
type SupportedBackend = (typeof SUPPORTED)[number];

/** Per backend with native kernels on, the kernels they replaced (to put back). */
const originals = new Map<SupportedBackend, tf.KernelConfig[]>();
/** Per backend with native kernels on, mtlkit's own kernels it added (to remove). */
const added = new Map<SupportedBackend, string[]>();

function nativeKernel(backendName: SupportedBackend, addon: NativeAddon, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const a = args.inputs.a as unknown as TensorInfo;
    const b = args.inputs.b as unknown as TensorInfo;
    const p = plan(a, b, Boolean(args.attrs?.transposeA), Boolean(args.attrs?.transposeB));
    if (!p) return fallback(args);
    const run = (av: Float32Array, bv: Float32Array, cv: Float32Array) =>
      addon.gemm(p.transA, p.transB, p.batch, p.m, p.n, p.k, av, p.strideA, bv, p.strideB, cv);
    if (backendName === "wasm") {
      const backend = args.backend as WasmBackendLike;
      // Allocate the output first: allocation may grow the heap and detach earlier views.
      const out = backend.makeOutput(p.outShape, "float32");
      run(backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(b), backend.typedArrayFromHeap(out));
      return out as unknown as tf.TensorInfo;
    }
    const backend = args.backend as CpuBackendLike;
    const values = new Float32Array(p.batch * p.m * p.n);
    run(backend.data.get(a.dataId).values, backend.data.get(b.dataId).values, values);
    return backend.makeTensorInfo(p.outShape, "float32", values) as unknown as tf.TensorInfo;
  };
}

/** Which backends run mtlkit's native kernels now, and why (or why not). */
export interface NativeKernelsStatus {
  enabled: SupportedBackend[];
  reason: string;
}

/** Replaces BatchMatMul, _FusedMatMul, Sum, the convolutions and the poolings on the wasm and cpu backends with native ones, when the addon loads. */
export function enableNativeKernels(options: { threads?: number } = {}): NativeKernelsStatus {
  const { addon, status } = loadNative();
  if (!addon) return { enabled: [], reason: status.reason };
  const threads = options.threads ?? nativeThreads(process.env);
  addon.setThreads(threads);
  for (const backendName of SUPPORTED) {
    if (originals.has(backendName) || !tf.findBackendFactory(backendName)) continue;
    const factories: Record<string, (fallback: KernelFunc) => KernelFunc> = {
      [tf.BatchMatMul]: (fallback) => nativeKernel(backendName, addon, fallback),
      ...convPoolKernels(backendName, addon),
      ...denseKernels(backendName, addon),
    };
    const replaced: tf.KernelConfig[] = [];
    for (const [kernelName, make] of Object.entries(factories)) {
      const original = tf.getKernel(kernelName, backendName);
      if (!original) continue; // nothing to fall back on: leave the kernel missing, as tfjs has it
      replaced.push(original);
      tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({ kernelName, backendName, kernelFunc: make(original.kernelFunc as unknown as KernelFunc) as never });
    }
    originals.set(backendName, replaced);
    const own: string[] = [];
    for (const [kernelName, kernelFunc] of Object.entries(denseOwnKernels(backendName, addon))) {
      if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({ kernelName, backendName, kernelFunc: kernelFunc as never });
      own.push(kernelName);
    }
    added.set(backendName, own);
  }
  return { enabled: [...originals.keys()], reason: status.reason.replace(/\d+ threads?/, `${threads} thread${threads === 1 ? "" : "s"}`) };
}

/** Puts the backends' own kernels back. */
export function disableNativeKernels(): void {
  for (const [backendName, replaced] of originals) {
    for (const original of replaced) {
      tf.unregisterKernel(original.kernelName, backendName);
      tf.registerKernel(original);
    }
  }
  originals.clear();
  for (const [backendName, names] of added) for (const kernelName of names) tf.unregisterKernel(kernelName, backendName);
  added.clear();
}

/** The addon, when native kernels are enabled for `backendName` (for mtlkit's fused optimizer). */
export function nativeAddonFor(backendName = tf.getBackend()): NativeAddon | undefined {
  return originals.has(backendName as SupportedBackend) ? loadNative().addon : undefined;
}

/** True when the active backend's matmul is the native one. */
export function nativeMatMulActive(backendName = tf.getBackend()): boolean {
  return originals.has(backendName as SupportedBackend);
}
