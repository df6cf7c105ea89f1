/**
 * Loads mtlkit's optional native addon (native/, built by `npm install` when a C++ compiler and
 * OpenBLAS are present). It is strictly optional: when it is missing, `nativeStatus()` says why
 * and everything runs on the wasm or cpu backend as before.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface NativeAddon {
  gemm(
    transA: boolean,
    transB: boolean,
    batch: number,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    strideA: number,
    b: Float32Array,
    strideB: number,
    c: Float32Array,
  ): void;
  /**
   * gemm's product, then c = act(c + bias) with bias (n floats, or null) added to every row;
   * activation 0 linear, 1 relu (native/src/dense.h).
   */
  fusedGemm(
    transA: boolean,
    transB: boolean,
    batch: number,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    strideA: number,
    b: Float32Array,
    strideB: number,
    c: Float32Array,
    bias: Float32Array | null,
    activation: 0 | 1,
  ): void;
  /** c = act(c + bias) in place over rows × cols, bias (cols floats, or null) added to every row; activation 0 linear, 1 relu. */
  biasActivation(c: Float32Array, rows: number, cols: number, bias: Float32Array | null, activation: 0 | 1): void;
  /**
   * From dy and y (rows × cols): dz = dy · step(y) for relu (activation 1; y and dz may be null for
   * 0, linear), and db[j] = Σ_rows dz (or dy) when db is not null.
   */
  denseGrad(
    dy: Float32Array,
    y: Float32Array | null,
    rows: number,
    cols: number,
    activation: 0 | 1,
    dz: Float32Array | null,
    db: Float32Array | null,
  ): void;
  /** Sums of x as outer × inner: over outer (mode 0, out holds inner floats) or inner (mode 1, outer floats); double accumulation. */
  reduceSum(x: Float32Array, outer: number, inner: number, mode: 0 | 1, out: Float32Array): void;
  adam(
    value: Float32Array,
    gradient: Float32Array,
    m: Float32Array,
    v: Float32Array,
    beta1: number,
    beta2: number,
    oneMinusBeta1: number,
    oneMinusBeta2: number,
    oneMinusAccBeta1: number,
    oneMinusAccBeta2: number,
    epsilon: number,
    negLearningRate: number,
  ): void;
  /** Σ x² over all elements of all arrays, in double precision. */
  sumOfSquares(arrays: Float32Array[]): number;
  /**
   * Convolution over NHWC float32 arrays (native/src/conv_pool.h). op 0: out = conv(x = a, filter = b);
   * 1: out = ∂x from dy = a, filter = b; 2: out = ∂filter from x = a, dy = b. geometry: [batch, inH,
   * inW, inC, outH, outW, outC, fH, fW, strideH, strideW, dilationH, dilationW, padTop, padLeft].
   */
  conv2d(op: 0 | 1 | 2, a: Float32Array, b: Float32Array, out: Float32Array, geometry: number[]): void;
  /**
   * Pooling: op 0 max, 1 average (x = a); 2 max gradient (x = a, dy = b; ties go to the first
   * maximum); 3 average gradient (dy = a).
   * geometry: [batch, inH, inW, channels, outH, outW, fH, fW, strideH, strideW, padTop, padLeft].
   */
  pool(op: 0 | 1 | 2 | 3, a: Float32Array, b: Float32Array, out: Float32Array, geometry: number[]): void;
  setThreads(threads: number): void;
  info(): { threads: number; blas: string };
}

/** Whether mtlkit's optional native addon loaded, and why not or what it is. */
export interface NativeStatus {
  available: boolean;
  /** Why it is not available, or what it is. */
  reason: string;
  path?: string;
}

/** The package root: the nearest folder above this file whose package.json is mtlkit's. */
function packageRoot(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, "utf8")).name === "mtlkit") return dir;
      } catch {
        // keep looking
      }
    }
    dir = dirname(dir);
  }
  return undefined;
}

let cached: { addon?: NativeAddon; status: NativeStatus } | undefined;

/** Whether mtlkit's native addon (OpenBLAS kernels) loads here, and if not, why (e.g. "OpenBLAS was not found"). */
export function nativeStatus(): NativeStatus {
  return loadNative().status;
}

export function loadNative(): { addon?: NativeAddon; status: NativeStatus } {
  if (cached) return cached;
  const root = packageRoot();
  if (process.env.MTLKIT_NATIVE === "0") {
    cached = { status: { available: false, reason: "disabled by MTLKIT_NATIVE=0" } };
    return cached;
  }
  if (!root) {
    cached = { status: { available: false, reason: "the mtlkit package folder was not found" } };
    return cached;
  }
  const path = join(root, "native", "build", "Release", "mtlkit_native.node");
  if (!existsSync(path)) {
    let why = "the native addon was not built";
    try {
      const status = JSON.parse(readFileSync(join(root, "native", "build-status.json"), "utf8")) as { ok: boolean; reason: string };
      if (!status.ok) why = `the native addon failed to build: ${status.reason}`;
    } catch {
      why += " (run `npm run build:native`)";
    }
    cached = { status: { available: false, reason: why } };
    return cached;
  }
  try {
    const addon = require(path) as NativeAddon;
    const info = addon.info();
    cached = {
      addon,
      status: {
        available: true,
        reason: `${info.blas.split(" ").slice(0, 2).join(" ")}, ${info.threads} thread${info.threads === 1 ? "" : "s"}`,
        path,
      },
    };
  } catch (e) {
    cached = { status: { available: false, reason: `the native addon failed to load: ${(e as Error).message.split("\n")[0]}`, path } };
  }
  return cached;
}
