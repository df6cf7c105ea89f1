/**
 * Small dense float64 linear algebra for k × k Gramians (k = number of tasks, rarely above 50):
 * symmetric eigendecomposition (cyclic Jacobi), pseudo-inverse, and Gaussian elimination.
 * Plain number[][]; every routine copies its input.
 */

export type Matrix = number[][];
export type Vector = number[];

/** The machine epsilon of float32: Gramians computed from float32 gradients are exact to about this. */
export const FLOAT32_EPS = 2 ** -23;

export function zeros(n: number, m = n): Matrix {
  return Array.from({ length: n }, () => new Array<number>(m).fill(0));
}

export function identity(n: number): Matrix {
  const I = zeros(n);
  for (let i = 0; i < n; i++) I[i][i] = 1;
  return I;
}

export function matVec(A: Matrix, x: Vector): Vector {
  return A.map((row) => {
    let s = 0;
    for (let j = 0; j < row.length; j++) s += row[j] * x[j];
    return s;
  });
}

export function dot(a: Vector, b: Vector): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** xᵀ A y. */
export function quad(A: Matrix, x: Vector, y: Vector = x): number {
  return dot(x, matVec(A, y));
}

export function sum(x: Vector): number {
  let s = 0;
  for (const v of x) s += v;
  return s;
}

/** A sub-matrix on the given row and column indices. */
export function subMatrix(A: Matrix, rows: number[], cols: number[] = rows): Matrix {
  return rows.map((i) => cols.map((j) => A[i][j]));
}

/** Largest absolute diagonal entry (the scale of a Gramian). */
export function maxDiagonal(A: Matrix): number {
  let m = 0;
  for (let i = 0; i < A.length; i++) m = Math.max(m, Math.abs(A[i][i]));
  return m;
}

export interface Eigen {
  /** Eigenvalues, descending. */
  values: Vector;
  /** vectors[i] is the unit eigenvector of values[i]. */
  vectors: Matrix;
}

/**
 * Eigendecomposition of a symmetric matrix by the cyclic Jacobi method: rotations until every
 * off-diagonal entry is negligible. Accurate to a few ulps of the largest eigenvalue.
 */
export function symmetricEigen(S: Matrix): Eigen {
  const n = S.length;
  const A = S.map((r) => [...r]);
  // Symmetrise: Gramians from float32 products can be asymmetric in the last bit.
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) A[i][j] = A[j][i] = (A[i][j] + A[j][i]) / 2;
  const V = identity(n);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let total = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        total += A[i][j] * A[i][j];
        if (i !== j) off += A[i][j] * A[i][j];
      }
    }
    if (off <= 1e-30 * total || off === 0) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p][q];
        if (apq === 0) continue;
        const theta = (A[q][q] - A[p][p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k][p];
          const akq = A[k][q];
          A[k][p] = c * akp - s * akq;
          A[k][q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[p][k];
          const aqk = A[q][k];
          A[p][k] = c * apk - s * aqk;
          A[q][k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k][p];
          const vkq = V[k][q];
          V[k][p] = c * vkp - s * vkq;
          V[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => A[b][b] - A[a][a]);
  return { values: order.map((i) => A[i][i]), vectors: order.map((i) => V.map((row) => row[i])) };
}

/**
 * The numerical rank threshold of a Gramian: eigenvalues below k · ε₃₂ · λ_max count as zero
 * (the gradients behind a Gramian are float32, so smaller eigenvalues are rounding noise; this is
 * also the threshold torch.linalg.pinv and Aligned-MTL's code use).
 */
export function rankTolerance(values: Vector, n: number, rtol?: number): number {
  const top = Math.max(0, ...values);
  return (rtol ?? n * FLOAT32_EPS) * top;
}

/** Moore–Penrose pseudo-inverse of a symmetric positive semi-definite matrix. */
export function pinvPsd(S: Matrix, rtol?: number): Matrix {
  const n = S.length;
  if (n === 0) return [];
  const { values, vectors } = symmetricEigen(S);
  const tol = rankTolerance(values, n, rtol);
  const P = zeros(n);
  values.forEach((l, k) => {
    if (!(l > tol)) return;
    const v = vectors[k];
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) P[i][j] += (v[i] * v[j]) / l;
  });
  return P;
}

/** Solves A x = b by Gaussian elimination with partial pivoting; undefined if A is singular. */
export function solve(A: Matrix, b: Vector): Vector | undefined {
  const n = A.length;
  const M = A.map((r, i) => [...r, b[i]]);
  let scale = 0;
  for (const r of A) for (const v of r) scale = Math.max(scale, Math.abs(v));
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    if (!(Math.abs(M[p][c]) > 1e-14 * scale)) return undefined;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      if (f === 0) continue;
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * x[k];
    x[r] = s / M[r][r];
  }
  return x;
}

/** Euclidean projection onto the probability simplex {x ≥ 0, Σx = 1} (sort-based, exact). */
export function projectSimplex(y: Vector): Vector {
  const u = [...y].sort((a, b) => b - a);
  let cumulative = 0;
  let theta = 0;
  for (let i = 0; i < u.length; i++) {
    cumulative += u[i];
    const t = (cumulative - 1) / (i + 1);
    if (u[i] - t > 0) theta = t;
  }
  return y.map((v) => Math.max(v - theta, 0));
}
