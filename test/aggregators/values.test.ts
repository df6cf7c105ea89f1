/**
 * Hand-worked values (derivations in the comments) and torchjd's documented values for
 * J = [[-4, 1, 1], [6, 1, 1]].
 */
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";
import { combine, dot, expectClose, gram, run } from "./helpers";
import { alignedMtlWeights } from "../../lib/aggregators/alignedMtl";
import { cagradWeights } from "../../lib/aggregators/cagrad";
import { fairgradWeights } from "../../lib/aggregators/fairgrad";
import { imtlgWeights } from "../../lib/aggregators/imtlg";
import { mgdaWeights } from "../../lib/aggregators/mgda";
import { nashMtlWeights } from "../../lib/aggregators/nashMtl";

const A = mtl.aggregators;
// Conflicting pair: g1 = (1, 0), g2 = (−1, 1); G = [[1, −1], [−1, 2]].
const C2 = [
  [1, 0],
  [-1, 1],
];
// Orthogonal, very unequal norms: G = diag(9, 1, 0.25).
const O3 = [
  [3, 0, 0],
  [0, 1, 0],
  [0, 0, 0.5],
];
const TJ = [
  [-4, 1, 1],
  [6, 1, 1],
];
const S2 = Math.SQRT2;

eachBackend(
  () => {
    describe("aggregator values", () => {
      it("mean and sum", async () => {
        expectClose(await run(A.mean(), C2), [0, 0.5]);
        expectClose(await run(A.sum(), C2), [0, 1]);
        expectClose(await run(A.mean(), TJ), [1, 1, 1]);
        expectClose(await run(A.sum(), TJ), [2, 2, 2]);
      });

      it("PCGrad", async () => {
        // g1' = g1 − (−1/2) g2 = (0.5, 0.5); g2' = g2 + g1 = (0, 1); sum (0.5, 1.5).
        expectClose(await run(A.pcgrad(), C2), [0.5, 1.5]);
        // No conflict: plain sum.
        expectClose(await run(A.pcgrad(), O3), [3, 1, 0.5]);
        expectClose(await run(A.pcgrad(), TJ), [0.5848, 3.8012, 3.8012], 1e-4);
        // A zero row is never projected on, and is not changed.
        expectClose(
          await run(A.pcgrad(), [
            [1, 0],
            [0, 0],
            [-1, 1],
          ]),
          [0.5, 1.5],
        );
        // Order matters for 3 tasks: g1 = (1, 0), g2 = (1, 1), g3 = (−1, −.2). g1' = g1 + (1/1.04) g3 and
        // g2' = g2 + (1.2/1.04) g3 either way; g3 vs g1 then g2: (0, −.2) → (.1, −.1); vs g2 then g1:
        // (−.4, .4) → (0, .4).
        const J3 = [
          [1, 0],
          [1, 1],
          [-1, -0.2],
        ];
        const base = [1 - 1 / 1.04 + 1 - 1.2 / 1.04, -0.2 / 1.04 + 1 - 0.24 / 1.04];
        expectClose(await run(A.pcgrad({ order: [0, 1, 2] }), J3), [base[0] + 0.1, base[1] - 0.1]);
        expectClose(await run(A.pcgrad({ order: [1, 0, 2] }), J3), [base[0], base[1] + 0.4]);
      });

      it("MGDA (exact min-norm)", async () => {
        // Segment: w1 = (G22 − G12)/(G11 + G22 − 2 G12) = 3/5: d = (0.2, 0.4), d·g1 = d·g2 = 0.2.
        expectClose(await run(A.mgda(), C2), [0.2, 0.4]);
        // Orthogonal: w ∝ 1/||g_i||² = (1/46, 9/46, 36/46), d = (3, 9, 18)/46.
        expectClose(await run(A.mgda(), O3), [3 / 46, 9 / 46, 18 / 46]);
        expectClose(await run(A.mgda(), TJ), [0, 1, 1], 1e-5);
        // A zero row is the min-norm point: d = 0.
        expectClose(
          await run(A.mgda(), [
            [1, 0],
            [0, 0],
          ]),
          [0, 0],
        );
        // "l2": normalised gradients u1 = (1,0), u2 = (−1,1)/√2 → weights applied to raw gradients.
        const w = mgdaWeights(gram(C2), "l2");
        // Min-norm of u1, u2: Gu = [[1, −1/√2], [−1/√2, 1]] → w = (1/2, 1/2).
        expectClose(w, [0.5, 0.5], 1e-12);
        // "loss": losses (1, 2) → ĝ2 = g2 / 2: Ĝ = [[1, −1/2], [−1/2, 1/2]] → w1 = (1/2 + 1/2)/(1 + 1/2 + 1) = 0.4.
        expectClose(mgdaWeights(gram(C2), "loss", { losses: [1, 2] }), [0.4, 0.6], 1e-12);
        // "loss+": ĝ_i = g_i / (L_i ||g_i||) with L = (1, 2): Ĝ = [[1, −1/(2√2)], [−1/(2√2), 1/4]].
        const g12 = -1 / (2 * S2);
        const w1 = (0.25 - g12) / (1 + 0.25 - 2 * g12);
        expectClose(mgdaWeights(gram(C2), "loss+", { losses: [1, 2] }), [w1, 1 - w1], 1e-12);
      });

      it("CAGrad", async () => {
        // g0 = (0, .5), ρ = .25; F(t) = .5 − .5t + .25√(5t² − 6t + 2) is minimised at t = 1 (boundary):
        // w* = e1, ||g_w|| = 1, d = g0 + .25 g1 = (.25, .5); weights (.75, .5).
        expectClose(await run(A.cagrad(), C2), [0.25, 0.5]);
        expectClose(cagradWeights(gram(C2), 0.5), [0.75, 0.5], 1e-10);
        expectClose(await run(A.cagrad({ rescale: "1+c^2" }), C2), [0.25 / 1.25, 0.5 / 1.25]);
        expectClose(await run(A.cagrad({ rescale: "1+c" }), C2), [0.25 / 1.5, 0.5 / 1.5]);
        expectClose(await run(A.cagrad({ c: 0 }), C2), [0, 0.5]);
        expectClose(await run(A.cagrad(), TJ), [0.1835, 1.2041, 1.2041], 1e-4);
      });

      it("IMTL-G", async () => {
        // α ∝ G⁻¹ (1, √2) = (2 + √2, 1 + √2) → α = (2 − √2, √2 − 1); d = (3 − 2√2, √2 − 1).
        expectClose(await run(A.imtlg(), C2), [3 - 2 * S2, S2 - 1]);
        // Orthogonal: α ∝ (3/9, 1, .5/.25) → (.1, .3, .6); d = (.3, .3, .3).
        expectClose(await run(A.imtlg(), O3), [0.3, 0.3, 0.3]);
        expectClose(await run(A.imtlg(), TJ), [0.0767, 1, 1], 1e-4);
        expectClose(imtlgWeights(gram(TJ)), [0.5923, 0.4077], 1e-4);
        // Rank-deficient (g3 = 2 g1) stays defined, with equal projections.
        const R = [
          [1, 0],
          [-1, 1],
          [2, 0],
        ];
        // (The scale differs from the (g1, g2) case: Σα = 1 is split between g1 and g3 by the pseudo-inverse.)
        const d = await run(A.imtlg(), R);
        const p = R.map((g) => dot(d, g) / Math.hypot(...g));
        expect(Math.abs(p[0] - p[1])).toBeLessThan(1e-5);
        expect(Math.abs(p[0] - p[2])).toBeLessThan(1e-5);
        // A zero row gets weight 0.
        expectClose(
          imtlgWeights(
            gram([
              [1, 0],
              [0, 0],
            ]),
          ),
          [1, 0],
          1e-12,
        );
      });

      it("UPGrad and DualProj", async () => {
        // π(g1) = g1 − (g1·g2/||g2||²) g2 = (.5, .5); π(g2) = g2 + g1 = (0, 1); mean (.25, .75).
        expectClose(await run(A.upgrad(), C2), [0.25, 0.75]);
        // The mean (0, .5) is already in the dual cone.
        expectClose(await run(A.dualproj(), C2), [0, 0.5]);
        // Non-conflicting: both are the mean.
        expectClose(await run(A.upgrad(), O3), [1, 1 / 3, 1 / 6]);
        expectClose(await run(A.dualproj(), O3), [1, 1 / 3, 1 / 6]);
        // torchjd's values carry its 1e-4 Gramian regularisation; ours is the exact projection.
        expectClose(await run(A.upgrad(), TJ), [0.2929, 1.9004, 1.9004], 2e-3);
        expectClose(await run(A.dualproj(), TJ), [0.5563, 1.1109, 1.1109], 2e-3);
      });

      it("ConFIG", async () => {
        // u1 = (1, 0), u2 = (−1, 1)/√2: g_u = (1, 1 + √2); Σ g_i·ĝ_u = (1+√2)/||g_u||, ||g_u||² = 4 + 2√2:
        // d = (1 + √2)/(4 + 2√2) · (1, 1 + √2) = (1/(2√2)) (1, 1 + √2).
        expectClose(await run(A.config(), C2), [1 / (2 * S2), (1 + S2) / (2 * S2)]);
        // Orthogonal: ĝ_u = (1,1,1)/√3, length 4.5/√3: d = 1.5 (1, 1, 1).
        expectClose(await run(A.config(), O3), [1.5, 1.5, 1.5]);
        // A zero row is ignored (u = 0).
        expectClose(
          await run(A.config(), [
            [2, 0],
            [0, 0],
          ]),
          [2, 0],
        );
      });

      it("Aligned-MTL", async () => {
        // Orthogonal: λ_min = .25, B = .5 diag(1/3, 1, 2), w = B (1/3) = (1/18, 1/6, 1/3): d = (1/6)(1,1,1).
        expectClose(await run(A.alignedMtl(), O3), [1 / 6, 1 / 6, 1 / 6]);
        expectClose(await run(A.alignedMtl(), TJ), [0.2133, 0.9673, 0.9673], 1e-4);
        // The aligned gradients (weights e_i) have Gramian λ_min I.
        const G = gram(C2);
        const lmin = (3 - Math.sqrt(5)) / 2;
        const b1 = alignedMtlWeights(G, "min", [1, 0]);
        const b2 = alignedMtlWeights(G, "min", [0, 1]);
        const r1 = combine(C2, b1);
        const r2 = combine(C2, b2);
        expectClose([dot(r1, r1), dot(r1, r2), dot(r2, r2)], [lmin, 0, lmin], 1e-12);
        // Rank-deficient: a repeated row keeps one direction.
        expectClose(
          await run(A.alignedMtl(), [
            [1, 0],
            [1, 0],
          ]),
          [1, 0],
        );
      });

      it("Nash-MTL", async () => {
        // Gα = 1/α with G = [[1, −1], [−1, 2]]: α1² = 2 + √2, α2 = α1 − 1/α1.
        const a1 = Math.sqrt(2 + S2);
        const a2 = a1 - 1 / a1;
        expectClose(nashMtlWeights(gram(C2)), [a1, a2], 1e-12);
        expectClose(await run(A.nashMtl(), C2), [a1 - a2, a2], 1e-5);
        // Orthogonal: α_i = 1/||g_i||, d = (1, 1, 1).
        expectClose(await run(A.nashMtl(), O3), [1, 1, 1]);
        // torchjd (the authors' code) clips the update to norm 1: same direction.
        const d = await run(A.nashMtl(), TJ);
        const n = Math.hypot(...d);
        expectClose(
          d.map((v) => v / n),
          [0.0542, 0.7061, 0.7061],
          2e-4,
        );
        expect(dot(d, d)).toBeCloseTo(2, 4); // ||d||² = k
        // Zero row → weight 0; exactly opposite gradients → no solution → 0.
        expectClose(
          nashMtlWeights(
            gram([
              [1, 0],
              [0, 0],
            ]),
          ),
          [1, 0],
          1e-12,
        );
        expectClose(
          nashMtlWeights(
            gram([
              [1, 0],
              [-1, 0],
            ]),
          ),
          [0, 0],
        );
      });

      it("FairGrad", async () => {
        // α = 1 is Nash-MTL.
        expectClose(fairgradWeights(gram(C2), 1), nashMtlWeights(gram(C2)), 1e-12);
        // Orthogonal, α = 2: G_ii w_i = w_i^{−1/2} ⇒ w_i = G_ii^{−2/3}.
        expectClose(fairgradWeights(gram(O3), 2), [9 ** (-2 / 3), 1, 0.25 ** (-2 / 3)], 1e-12);
        // Residual of (Gw)_i = w_i^{−1/α} on a conflicting pair, α = 0.5.
        const G = gram(C2);
        const w = fairgradWeights(G, 0.5);
        G.forEach((row, i) => expect(Math.abs(dot(row, w) - w[i] ** -2)).toBeLessThan(1e-10));
      });

      it("GradVac", async () => {
        // Step 1 (targets 0) on a conflicting pair is PCGrad.
        const gv = A.gradvac({ order: [0, 1] });
        expectClose(await run(gv, C2), [0.5, 1.5]);
        // EMA: φ̂ ← 0.99·0 + 0.01·cos(g1, g2) = −0.01/√2.
        const target = (gv.state!().target as number[][])[0][1];
        expect(target).toBeCloseTo(-0.01 / S2, 12);
        // Step 2: the corrected g1' has cosine exactly φ̂ with g2.
        const G = gram(C2);
        const gv2 = A.gradvac({ order: [0, 1], beta: 0.5 });
        gv2.weights(G);
        const hat = (gv2.state!().target as number[][])[0][1]; // 0.5·(−1/√2)
        expect(hat).toBeCloseTo(-0.5 / S2, 12);
        const w = gv2.weights(G);
        expect(w.length).toBe(2);
        // Reconstruct g1' from the PCGrad-free part: compute with order [0,1] on a 2-task problem,
        // g1' = g1 + c g2 with c chosen so that cos(g1', g2) = hat.
        const c = (() => {
          const phi = -1 / S2;
          const n1 = 1;
          const n2 = S2;
          return (n1 * (hat * Math.sqrt(1 - phi * phi) - phi * Math.sqrt(1 - hat * hat))) / (n2 * Math.sqrt(1 - hat * hat));
        })();
        const g1p = [1 - c, c];
        const cos = dot(g1p, C2[1]) / (Math.hypot(...g1p) * S2);
        expect(cos).toBeCloseTo(hat, 10);
      });

      it("GradDrop", async () => {
        // Column 0: P = ½(1 + 2/10) = 0.6; columns 1, 2: P = 1 (always keep both).
        const rng = new mtl.Rng(0);
        const u0 = rng.uniform();
        const d = await run(A.graddrop({ seed: 0 }), TJ);
        expectClose(d, [u0 < 0.6 ? 6 : -4, 2, 2]);
        // Full leak keeps everything.
        expectClose(await run(A.graddrop({ leak: 1 }), TJ), [2, 2, 2]);
      });

      it("MoCo (first step, worked by hand)", async () => {
        // t = 1: Y = ½J; λ = Π_Δ(½1 − 0.1·(YYᵀ)½1) = Π_Δ(.5, .4875) = (.50625, .49375); d = Yᵀλ.
        const m = A.moco();
        expectClose(await run(m, C2), [0.5 * (0.50625 - 0.49375), 0.5 * 0.49375], 1e-6);
        expectClose(m.lastWeights!, [0.50625, 0.49375], 1e-12);
        m.dispose();
      });

      it("DB-MTL (first step, worked by hand)", async () => {
        // t = 1, β₁ = .9: buffer = .1 g_i / L_i = (.1, 0), (−.05, .05); α = (1, √2); d = (.1 − .05√2, .05√2).
        const db = A.dbmtl();
        expectClose(await run(db, C2, { losses: [1, 2] }), [0.1 - 0.05 * S2, 0.05 * S2], 1e-6);
        db.dispose();
      });
    });
  },
  { webgpu: true },
);
