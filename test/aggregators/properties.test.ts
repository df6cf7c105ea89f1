/** Properties the papers promise, on many sampled matrices (float64 weightings on exact Gramians). */
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { dualConeWeights } from "../../lib/aggregators/linalg/boxQp";
import { projectSimplex, symmetricEigen, pinvPsd } from "../../lib/aggregators/linalg/matrix";
import { combine, dot, gram, sampleMatrix } from "./helpers";
import { alignedMtlWeights } from "../../lib/aggregators/alignedMtl";
import { cagradWeights } from "../../lib/aggregators/cagrad";
import { configWeights } from "../../lib/aggregators/config";
import { fairgradWeights } from "../../lib/aggregators/fairgrad";
import { imtlgWeights } from "../../lib/aggregators/imtlg";
import { mgdaWeights } from "../../lib/aggregators/mgda";
import { nashMtlWeights } from "../../lib/aggregators/nashMtl";
import { pcgradCoefficients } from "../../lib/aggregators/pcgrad";
import { dualprojWeights, upgradWeights } from "../../lib/aggregators/upgrad";

const KINDS = ["full", "deficient", "zero"] as const;

/** ~240 sampled Jacobians: k = 2..6 tasks, n = 2..9 columns (so both k ≤ n and k > n), three kinds. */
function samples(count = 240, seed = 7): number[][][] {
  const rng = new mtl.Rng(seed);
  return Array.from({ length: count }, (_, s) => sampleMatrix(rng, 2 + (s % 5), 2 + rng.int(8), KINDS[s % 3]));
}

const permute = <T>(xs: T[], p: number[]) => p.map((i) => xs[i]);
const scaleOf = (G: number[][]) => Math.max(...G.map((r, i) => r[i]));
/** Linearly independent rows (smallest eigenvalue of the cosine matrix clearly above zero). */
function fullRank(G: number[][]): boolean {
  if (G.some((r, i) => !(r[i] > 0))) return false;
  const C = G.map((r, i) => r.map((v, j) => v / Math.sqrt(G[i][i] * G[j][j])));
  const { values } = symmetricEigen(C);
  return values[values.length - 1] > 1e-6;
}

describe("linear algebra", () => {
  it("Jacobi eigendecomposition reconstructs the matrix", () => {
    for (const J of samples(60, 1)) {
      const G = gram(J);
      const { values, vectors } = symmetricEigen(G);
      const R = G.map((_, i) => G.map((__, j) => values.reduce((s, l, k) => s + l * vectors[k][i] * vectors[k][j], 0)));
      G.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - R[i][j])).toBeLessThan(1e-10 * scaleOf(G) + 1e-14)));
      for (let i = 1; i < values.length; i++) expect(values[i]).toBeLessThanOrEqual(values[i - 1]);
    }
  });

  it("pseudo-inverse satisfies G G⁺ G = G", () => {
    for (const J of samples(60, 2)) {
      const G = gram(J);
      const P = pinvPsd(G);
      const GP = G.map((r) =>
        P[0].map((_, j) =>
          dot(
            r,
            P.map((p) => p[j]),
          ),
        ),
      );
      const GPG = GP.map((r) =>
        G[0].map((_, j) =>
          dot(
            r,
            G.map((g) => g[j]),
          ),
        ),
      );
      G.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - GPG[i][j])).toBeLessThan(1e-7 * scaleOf(G))));
    }
  });

  it("simplex projection is exact", () => {
    projectSimplex([0.5, 0.4875]).forEach((v, i) => expect(v).toBeCloseTo([0.50625, 0.49375][i], 15));
    expect(projectSimplex([2, 0, -1])).toEqual([1, 0, 0]);
    const p = projectSimplex([0.3, 0.3, 0.3]);
    p.forEach((v) => expect(v).toBeCloseTo(1 / 3, 15));
  });

  it("MGDA's min-norm point satisfies the KKT conditions to 1e-9", () => {
    for (const J of samples()) {
      const G = gram(J);
      const w = mgdaWeights(G);
      expect(Math.abs(w.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
      w.forEach((v) => expect(v).toBeGreaterThanOrEqual(0));
      const Gw = G.map((r) => dot(r, w));
      const norm2 = dot(w, Gw);
      const tol = 1e-9 * scaleOf(G);
      Gw.forEach((g, j) => {
        expect(g).toBeGreaterThanOrEqual(norm2 - tol); // no vertex lies "behind" the point
        if (w[j] > 1e-9) expect(Math.abs(g - norm2)).toBeLessThan(tol); // equality on the support
      });
    }
  });

  it("the dual-cone QP satisfies its KKT conditions", () => {
    const rng = new mtl.Rng(3);
    for (const J of samples(150, 4)) {
      const G = gram(J);
      const u = G.map(() => rng.uniform());
      const v = dualConeWeights(G, u);
      const Gv = G.map((r) => dot(r, v));
      const tol = 1e-9 * scaleOf(G);
      v.forEach((vi, i) => {
        expect(vi).toBeGreaterThanOrEqual(u[i] - 1e-12);
        expect(Gv[i]).toBeGreaterThanOrEqual(-tol);
        if (vi > u[i] + 1e-9) expect(Math.abs(Gv[i])).toBeLessThan(tol);
      });
    }
  });
});

describe("aggregator properties", () => {
  it("PCGrad: projected gradients do not conflict (pairwise for k = 2; with the last visited task for k > 2)", () => {
    const rng = new mtl.Rng(11);
    for (const J of samples()) {
      const G = gram(J);
      const k = G.length;
      const order = Array.from(rng.permutation(k));
      const C = pcgradCoefficients(G, () => order);
      const tol = 1e-9 * scaleOf(G);
      C.forEach((c, i) => {
        const visited = order.filter((j) => j !== i && G[j][j] > 0);
        const targets = k === 2 ? visited : visited.slice(-1);
        for (const j of targets) expect(dot(c, G[j])).toBeGreaterThanOrEqual(-tol);
      });
    }
  });

  it("UPGrad and DualProj are non-conflicting; UPGrad is permutation-invariant", () => {
    const rng = new mtl.Rng(12);
    for (const J of samples()) {
      const G = gram(J);
      const tol = 1e-9 * scaleOf(G);
      for (const w of [upgradWeights(G), dualprojWeights(G)]) {
        const d = combine(J, w);
        J.forEach((g) => expect(dot(g, d)).toBeGreaterThanOrEqual(-tol));
      }
      const p = Array.from(rng.permutation(G.length));
      const Jp = permute(J, p);
      const d = combine(J, upgradWeights(G));
      const dp = combine(Jp, upgradWeights(gram(Jp)));
      d.forEach((v, i) => expect(Math.abs(v - dp[i])).toBeLessThan(1e-8 * Math.sqrt(scaleOf(G)) + 1e-12));
    }
  });

  it("MGDA, CAGrad, IMTL-G, Nash-MTL, ConFIG, Aligned-MTL, DualProj are permutation-invariant", () => {
    const rng = new mtl.Rng(13);
    const methods: Array<[string, (G: number[][]) => number[]]> = [
      ["MGDA", (G) => mgdaWeights(G)],
      ["CAGrad", (G) => cagradWeights(G, 0.5)],
      ["IMTL-G", imtlgWeights],
      ["Nash-MTL", (G) => nashMtlWeights(G)],
      ["ConFIG", configWeights],
      ["Aligned-MTL", (G) => alignedMtlWeights(G)],
      ["DualProj", dualprojWeights],
    ];
    for (const J of samples(120, 5).filter((_, s) => s % 3 === 0)) {
      const G = gram(J);
      const p = Array.from(rng.permutation(G.length));
      const Jp = permute(J, p);
      for (const [name, f] of methods) {
        const d = combine(J, f(G));
        const dp = combine(Jp, f(gram(Jp)));
        const size = Math.max(1e-6 * Math.sqrt(scaleOf(G)), ...d.map(Math.abs));
        d.forEach((v, i) => {
          if (Math.abs(v - dp[i]) > 1e-6 * size) throw new Error(`${name}: permuting the tasks changed entry ${i}: ${v} vs ${dp[i]}`);
        });
      }
    }
  });

  it("scaling J by a > 0 scales the update by a (Nash-MTL: leaves it unchanged)", () => {
    const rng = new mtl.Rng(14);
    const linear: Array<[string, (G: number[][]) => number[]]> = [
      ["mean", (G) => G.map(() => 1 / G.length)],
      [
        "PCGrad",
        (G) =>
          pcgradCoefficients(G, (i) => G.map((_, j) => j).filter((j) => j !== i)).reduce(
            (s, c) => s.map((v, m) => v + c[m]),
            G.map(() => 0),
          ),
      ],
      ["MGDA", (G) => mgdaWeights(G)],
      ["CAGrad", (G) => cagradWeights(G, 0.5)],
      ["IMTL-G", imtlgWeights],
      ["UPGrad", upgradWeights],
      ["DualProj", dualprojWeights],
      ["ConFIG", configWeights],
      ["Aligned-MTL", (G) => alignedMtlWeights(G)],
    ];
    for (const J of samples(90, 6).filter((_, s) => s % 3 !== 2)) {
      const a = Math.exp(2 * rng.normal());
      const G = gram(J);
      const Ja = J.map((r) => r.map((v) => a * v));
      const Ga = gram(Ja);
      for (const [name, f] of linear) {
        const d = combine(J, f(G)).map((v) => a * v);
        const da = combine(Ja, f(Ga));
        const size = Math.max(1e-6 * a * Math.sqrt(scaleOf(G)), ...d.map(Math.abs));
        d.forEach((v, i) => {
          if (Math.abs(v - da[i]) > 1e-6 * size)
            throw new Error(`${name}: A(aJ) ≠ aA(J) at entry ${i}: ${da[i]} vs ${v}; a = ${a}; J = ${JSON.stringify(J)}`);
        });
      }
      const n = combine(J, nashMtlWeights(G));
      const na = combine(Ja, nashMtlWeights(Ga));
      n.forEach((v, i) => expect(Math.abs(v - na[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(v))));
    }
  });

  it("CAGrad's dual weights are optimal and its update lies on the ball's boundary", () => {
    const rng = new mtl.Rng(15);
    for (const J of samples(90, 8).filter((_, s) => s % 3 !== 1)) {
      const G = gram(J);
      const k = G.length;
      const c = 0.5;
      const g0 = combine(
        J,
        G.map(() => 1 / k),
      );
      const rho = c * Math.hypot(...g0);
      const F = (w: number[]) => {
        const gw = combine(J, w);
        return dot(gw, g0) + rho * Math.hypot(...gw);
      };
      const w = cagradWeights(G, c);
      const d = combine(J, w);
      // Recover w* from the weights: w = 1/k + (ρ/||g_w||) w*, so w* ∝ w − 1/k.
      const raw = w.map((v) => v - 1 / k);
      const total = raw.reduce((s, v) => s + v, 0);
      if (total <= 1e-12) continue;
      const wStar = raw.map((v) => Math.max(0, v / total));
      const best = F(wStar);
      for (let trial = 0; trial < 100; trial++) {
        const r = projectSimplex(G.map(() => rng.uniform() * 2 - 0.5));
        expect(best).toBeLessThanOrEqual(F(r) + 1e-9 * Math.abs(F(r)) + 1e-12);
      }
      const dist = Math.hypot(...d.map((v, i) => v - g0[i]));
      expect(Math.abs(dist - rho)).toBeLessThan(1e-7 * Math.max(rho, 1e-12) + 1e-12);
    }
  });

  it("IMTL-G equals the paper's closed form on full-rank gradients and projects equally", () => {
    for (const J of samples(60, 9).filter((r) => r.length <= r[0].length && r.length >= 2)) {
      const G = gram(J);
      if (!fullRank(G)) continue;
      const k = J.length;
      const n = G.map((r, i) => Math.sqrt(r[i]));
      const U = J.map((r, i) => r.map((v) => v / n[i]));
      const D = J.slice(1).map((r) => r.map((v, j) => J[0][j] - v));
      const Ud = U.slice(1).map((r) => r.map((v, j) => U[0][j] - v));
      const DU = D.map((dr) => Ud.map((ur) => dot(dr, ur)));
      const rhs = Ud.map((ur) => dot(J[0], ur)); // g1 Uᵀ (row vector)
      // α_{2:k} (D Uᵀ) = g1 Uᵀ  ⇒  (D Uᵀ)ᵀ α = (g1 Uᵀ)ᵀ.
      const M = DU[0].map((_, j) => DU.map((r) => r[j]));
      const sol = solveSmall(M, rhs);
      if (!sol) continue;
      const alpha = [1 - sol.reduce((s, v) => s + v, 0), ...sol];
      const ours = imtlgWeights(G);
      ours.forEach((v, i) => expect(Math.abs(v - alpha[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(alpha[i]))));
      const d = combine(J, ours);
      const p = U.map((u) => dot(u, d));
      p.forEach((v) => expect(Math.abs(v - p[0])).toBeLessThan(1e-7 * Math.max(1, Math.abs(p[0]))));
      expect(k).toBeGreaterThan(1);
    }
  });

  it("Nash-MTL solves Gα = 1/α with ||d||² = k; FairGrad solves (Gw)_i = w_i^{−1/α}", () => {
    for (const J of samples(90, 10)) {
      const G = gram(J);
      const w = nashMtlWeights(G);
      if (w.every((v) => v === 0)) continue;
      const active = w.flatMap((v, i) => (v > 0 ? [i] : []));
      for (const i of active) expect(Math.abs(dot(G[i], w) * w[i] - 1)).toBeLessThan(1e-9);
      expect(
        dot(
          w,
          G.map((r) => dot(r, w)),
        ),
      ).toBeCloseTo(active.length, 8);
      for (const alpha of [0.5, 2, 5]) {
        const f = fairgradWeights(G, alpha);
        if (f.every((v) => v === 0)) continue;
        f.forEach((v, i) => {
          if (v > 0) expect(Math.abs(dot(G[i], f) / v ** (-1 / alpha) - 1)).toBeLessThan(1e-7);
        });
      }
    }
  });

  it("Aligned-MTL's aligned gradients have equal singular values; ConFIG projects equally on every unit gradient", () => {
    for (const J of samples(90, 11).filter((r) => r.length <= r[0].length)) {
      const G = gram(J);
      const k = G.length;
      const rows = G.map((_, i) =>
        combine(
          J,
          alignedMtlWeights(
            G,
            "min",
            G.map((__, j) => (i === j ? 1 : 0)),
          ),
        ),
      );
      const H = gram(rows);
      const { values } = symmetricEigen(H);
      const kept = values.filter((l) => l > 1e-6 * values[0]);
      kept.forEach((l) => expect(Math.abs(l - kept[0])).toBeLessThan(1e-6 * kept[0]));
      if (!fullRank(G)) continue;
      const d = combine(J, configWeights(G));
      const p = J.map((r) => dot(r, d) / Math.hypot(...r));
      p.forEach((v) => expect(Math.abs(v - p[0])).toBeLessThan(1e-6 * Math.max(1, Math.abs(p[0]))));
      expect(p[0]).toBeGreaterThanOrEqual(-1e-9);
      expect(k).toBeGreaterThan(1);
    }
  });
});

function solveSmall(M: number[][], b: number[]): number[] | undefined {
  const n = M.length;
  const a = M.map((r, i) => [...r, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[p][c])) p = r;
    if (Math.abs(a[p][c]) < 1e-12) return undefined;
    [a[c], a[p]] = [a[p], a[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let k = c; k <= n; k++) a[r][k] -= f * a[c][k];
    }
  }
  return a.map((r, i) => r[n] / r[i]);
}
