/** How a BatchMatMul's operands map onto the addon's batched sgemm (shared by BatchMatMul and _FusedMatMul). */
import type { TensorInfo } from "./views";

/** Sizes, strides (0: broadcast over the batch) and output shape of a batched product. */
export interface Plan {
  transA: boolean;
  transB: boolean;
  batch: number;
  m: number;
  n: number;
  k: number;
  strideA: number;
  strideB: number;
  outShape: number[];
}

/** Shapes of a BatchMatMul the native kernel can run, or undefined to defer to the original. */
export function plan(a: TensorInfo, b: TensorInfo, transA: boolean, transB: boolean): Plan | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== kb) return undefined; // let the original kernel raise tfjs's own error
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((p, q) => p * q, 1);
  const batchB = outerB.reduce((p, q) => p * q, 1);
  let outer: number[];
  if (batchA === batchB && outerA.join() === outerB.join()) outer = outerA;
  else if (batchB === 1) outer = outerA.length >= outerB.length ? outerA : outerB;
  else if (batchA === 1) outer = outerB.length >= outerA.length ? outerB : outerA;
  else return undefined;
  const batch = Math.max(batchA, batchB);
  if (batch * m * n === 0 || k === 0) return undefined;
  return {
    transA,
    transB,
    batch,
    m,
    n,
    k,
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
    outShape: [...outer, m, n],
  };
}
