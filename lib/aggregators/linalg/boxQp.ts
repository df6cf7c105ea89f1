/**
 * The QP behind projections onto the dual cone of the gradients (UPGrad, DualProj):
 *   v* = argmin_{v ≥ u} vᵀ G v,
 * so that Jᵀv* is the projection of Jᵀu onto {x : J x ≥ 0} (Quinton & Rey 2024, Prop. 1).
 * With v = u + s it is a non-negative least-squares problem in s, solved exactly by the
 * Lawson–Hanson active-set method written on the Gramian (the normal equations of each passive
 * set are solved with a pseudo-inverse, so a singular G is fine). KKT: s ≥ 0, G v ≥ 0, sᵢ (G v)ᵢ = 0.
 */
import { Matrix, matVec, maxDiagonal, pinvPsd, subMatrix, Vector } from "./matrix";

export function dualConeWeights(G: Matrix, u: Vector): Vector {
  const k = G.length;
  const scale = maxDiagonal(G);
  if (scale === 0) return [...u];
  const tol = 1e-13 * scale * Math.max(1, ...u.map(Math.abs));
  const Gu = matVec(G, u);
  const s = new Array<number>(k).fill(0);
  const passive = new Array<boolean>(k).fill(false);
  const negGradient = () => {
    const v = u.map((ui, i) => ui + s[i]);
    return matVec(G, v).map((g) => -g);
  };
  for (let outer = 0; outer < 3 * k + 10; outer++) {
    const w = negGradient();
    let j = -1;
    let largest = tol;
    for (let i = 0; i < k; i++) {
      if (!passive[i] && w[i] > largest) {
        largest = w[i];
        j = i;
      }
    }
    if (j < 0) break;
    passive[j] = true;
    for (let inner = 0; inner <= k; inner++) {
      const P = passive.flatMap((p, i) => (p ? [i] : []));
      const z = new Array<number>(k).fill(0);
      const rhs = P.map((i) => -Gu[i]);
      const zP = matVec(pinvPsd(subMatrix(G, P), 1e-14 * P.length), rhs);
      P.forEach((i, a) => (z[i] = zP[a]));
      if (P.every((i) => z[i] > 0)) {
        for (let i = 0; i < k; i++) s[i] = z[i];
        break;
      }
      let alpha = 1;
      for (const i of P) if (z[i] <= 0) alpha = Math.min(alpha, s[i] / (s[i] - z[i]));
      for (let i = 0; i < k; i++) s[i] += alpha * (z[i] - s[i]);
      for (const i of P) {
        if (s[i] <= 1e-15 * Math.max(1, Math.abs(u[i]))) {
          s[i] = 0;
          passive[i] = false;
        }
      }
    }
  }
  return u.map((ui, i) => ui + Math.max(0, s[i]));
}
