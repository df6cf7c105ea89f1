/** Each method's rule on small cases worked out by hand (values in the comments). */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend, setBackend } from "../helpers/backends";
import { numbersOf } from "../helpers/reads";
import { bound, context } from "./helpers";
import { dtpWeight } from "../../lib/weighting/dtp";
import { dwaWeights } from "../../lib/weighting/dwa";
import { famoLogitGradient, famoWeights } from "../../lib/weighting/famo";
import { glsWeights } from "../../lib/weighting/gls";
import { gradNormTerms } from "../../lib/weighting/gradNorm";
import { stchWeights } from "../../lib/weighting/stch";

const W = mtl.weighting;

async function close(weights: number[] | Promise<number[]>, expected: number[], digits = 6): Promise<void> {
  const actual = await weights;
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => expect(a).toBeCloseTo(expected[i], digits));
}

describe("weighting rules (plain numbers)", () => {
  beforeAll(() => setBackend("cpu"));

  it("equal and static", async () => {
    await close(bound(W.equal(), 3).weigh(context([5, 6, 7])), [1, 1, 1]);
    await close(bound(W.static([0.5, 2])).weigh(context([1, 1])), [0.5, 2]);
    await close(bound(W.static({ t1: 3 })).weigh(context([1, 1])), [1, 3]);
  });

  it("DWA: ones for two epochs, then k·softmax(r/T) from the last two epoch means", async () => {
    // L(t−2) = [1, 2], L(t−1) = [0.5, 2], T = 2: r = [0.5, 1], softmax([0.25, 0.5]) = [0.4378235, 0.5621765].
    await close(dwaWeights([1, 2], [0.5, 2], 2), [0.875647, 1.124353]);
    const m = bound(W.dwa());
    await close(m.weigh(context([9, 9])), [1, 1]);
    m.endEpoch!([1, 2]);
    await close(m.weigh(context([9, 9])), [1, 1]);
    m.endEpoch!([0.5, 2]);
    await close(m.weigh(context([9, 9])), [0.875647, 1.124353]);
    m.endEpoch!([0.5, 1]); // r = [1, 0.5]: the weights swap
    await close(m.weigh(context([9, 9])), [1.124353, 0.875647]);
    // T → ∞ gives equal weights; the weights always sum to k.
    await close(dwaWeights([1, 2, 3], [3, 1, 0.1], 1e9), [1, 1, 1]);
    expect(dwaWeights([1, 2, 3], [3, 1, 0.1], 0.5).reduce((a, b) => a + b)).toBeCloseTo(3, 10);
  });

  it("GradNorm: G_i = w_i‖∇L_i‖, targets Ḡ·r_i^α, ∂L_grad/∂w_i = sign(G_i − target_i)‖∇L_i‖", async () => {
    // w = [1, 1], ‖∇L‖ = [2, 6], L = [0.5, 0.9], L(0) = [1, 1], α = 1:
    // G = [2, 6], Ḡ = 4, L̃ = [0.5, 0.9], r = [0.5, 0.9]/0.7 = [0.714286, 1.285714], targets = [2.857143, 5.142857].
    const t = gradNormTerms([1, 1], [2, 6], [0.5, 0.9], [1, 1], 1);
    await close(t.norms, [2, 6]);
    expect(t.meanNorm).toBe(4);
    await close(t.rates, [0.714286, 1.285714]);
    await close(t.targets, [2.857143, 5.142857]);
    await close(t.gradient, [-2, 6]);
    expect(t.loss).toBeCloseTo(1.714286, 6);
    // α = 0: every target is Ḡ, whatever the rates.
    await close(gradNormTerms([0.5, 1.5], [2, 6], [0.5, 0.9], [1, 1], 0).targets, [5, 5]);
    // The method: weighs with w(t), then one Adam step (first step moves each w by −lr·sign(g)) and renormalises to sum k.
    const m = bound(W.gradNorm({ alpha: 1, learningRate: 0.025 }));
    await close(m.weigh(context([1, 1], { norms: [2, 6] })), [1, 1]); // first step: L(0) = L, r = 1, targets = Ḡ = 4
    await close(m.weigh(context([0.5, 0.9], { norms: [2, 6] })), [1.025, 0.975]); // G = [2, 6] vs 4: w0 up, w1 down
    await close(m.lastTerms()!.norms, [2.05, 5.85]);
  });

  it("RLW: softmax of seeded standard-normal draws, fresh every step", async () => {
    const a = bound(W.rlw({ seed: 7 }), 3);
    const b = bound(W.rlw({ seed: 7 }), 3);
    const rng = new mtl.Rng(7);
    const expected = [rng.normal(), rng.normal(), rng.normal()];
    const e = expected.map(Math.exp);
    const s = e.reduce((x, y) => x + y);
    const w1 = await a.weigh(context([1, 1, 1]));
    await close(
      w1,
      e.map((v) => v / s),
      12,
    );
    expect(await b.weigh(context([1, 1, 1]))).toEqual(w1);
    const w2 = await a.weigh(context([1, 1, 1]));
    expect(w2).not.toEqual(w1);
    // Over many draws each task's mean weight is 1/k (exchangeable draws).
    const sums = [0, 0, 0];
    for (let i = 0; i < 4000; i++) (await a.weigh(context([1, 1, 1]))).forEach((w, j) => (sums[j] += w / 4000));
    sums.forEach((m) => expect(m).toBeCloseTo(1 / 3, 1));
  });

  it("GLS: w_i = (Π L)^{1/k} / (k L_i), so Σ w_i L_i is the geometric mean", async () => {
    await close(glsWeights([1, 4]), [1, 0.25]); // G = 2
    const losses = [0.3, 2, 5];
    const w = await bound(W.gls(), 3).weigh(context(losses));
    const g = Math.cbrt(0.3 * 2 * 5);
    expect(w.reduce((s, wi, i) => s + wi * losses[i], 0)).toBeCloseTo(g, 10);
    // Scale invariance of the direction: multiplying one loss by c divides its weight by c.
    const w2 = glsWeights([0.3 * 10, 2, 5]);
    expect((w2[0] * 10) / w[0]).toBeCloseTo(Math.cbrt(10), 10);
  });

  it("DTP: w_i = −(1 − κ̄_i)^γ log κ̄_i with κ̄ an EMA of the KPI", async () => {
    expect(dtpWeight(0.5, 1)).toBeCloseTo(0.5 * Math.LN2, 10); // 0.346574
    expect(dtpWeight(0.9, 2)).toBeCloseTo(-0.01 * Math.log(0.9), 12); // 0.0010536
    expect(dtpWeight(1, 2)).toBe(0);
    expect(dtpWeight(0.9, 0)).toBeCloseTo(-Math.log(0.9), 12); // γ = 0: plain −log κ
    const m = bound(W.dtp({ alpha: 0.1, gamma: [1, 2], kpi: "manual" }));
    await close(m.weigh(context([1, 1])), [1, 1]); // no KPI yet
    m.observe([0.5, 0.9]);
    await close(m.weigh(context([1, 1])), [dtpWeight(0.5, 1), dtpWeight(0.9, 2)]);
    m.observe([0.9, 0.9]); // κ̄_0 = 0.1·0.9 + 0.9·0.5 = 0.54
    await close(m.kpis()!, [0.54, 0.9]);
    await close(m.weigh(context([1, 1])), [-0.46 * Math.log(0.54), dtpWeight(0.9, 2)]);
    // From the batch: the tasks' accuracy.
    const tasks = [mtl.tasks.classification("a", { classes: 3 }), mtl.tasks.binary("b")];
    const b = bound(W.dtp({ alpha: 1 }), tasks);
    await close(b.weigh(context([1, 1], { metrics: [{ accuracy: 0.25 }, { accuracy: 0.75 }] })), [
      -0.75 * Math.log(0.25),
      -0.25 * Math.log(0.75),
    ]);
  });

  it("FAMO: w ∝ z_i / L_i, and the logits follow z ⊙ (δ − ⟨z, δ⟩)", async () => {
    // ξ = [0, ln 3]: z = [0.25, 0.75]; L = [1, 3]: z/L = [0.25, 0.25] → w = [0.5, 0.5].
    await close(famoWeights([0, Math.log(3)], [1, 3], [0, 0]), [0.5, 0.5]);
    // δ = [ln 2, 0]: ⟨z, δ⟩ = 0.25 ln 2; gradient = [0.25·0.75 ln 2, −0.75·0.25 ln 2].
    await close(famoLogitGradient([0, Math.log(3)], [1, 3], [0.5, 3], [0, 0]), [0.1875 * Math.LN2, -0.1875 * Math.LN2], 7);
    // The method: the first ξ step is Adam's −lr·sign(g + γξ) = [−0.025, +0.025] (ξ = 0 so the decay adds nothing).
    const m = bound(W.famo());
    await close(m.weigh(context([1, 2])), [2 / 3, 1 / 3]);
    await m.afterStep!({ losses: [1, 2], lossesAfter: async () => [0.5, 2] }); // task 0 improved: its logit goes down
    await close(m.logits(), [-0.025, 0.025]);
  });

  it("STCH: w_i = 1/L_i in warm-up, then k·softmax(log(L/n)/μ)_i / L_i", async () => {
    // L = [1, 4], n = [1, 2], μ = 1: log(L/n) = [0, ln 2] → softmax = [1/3, 2/3] → w = 2·[1/3, 2/3 / 4].
    await close(stchWeights([1, 4], [1, 2], 1), [2 / 3, 1 / 3]);
    const m = bound(W.stch({ warmupEpochs: 1 }));
    await close(m.weigh(context([1, 4])), [1, 0.25]); // epoch 0: Σ log L
    m.endEpoch!([3, 3]);
    await close(m.weigh(context([1, 4])), [1, 0.25]); // epoch 1: still Σ log L; its mean becomes the nadir
    m.endEpoch!([1, 2]);
    expect(m.nadir()).toEqual([1, 2]);
    await close(m.weigh(context([1, 4])), [2 / 3, 1 / 3]);
    // μ → 0 puts the whole weight k/L_i on the worst normalised task (the Tchebycheff max).
    await close(stchWeights([1, 4], [1, 2], 1e-3), [0, 0.5]);
  });
});

eachBackend(
  () => {
    describe("weights are the derivatives of the papers' objectives", () => {
      it("STCH and GLS weights equal autodiff of their objectives", async () => {
        const L = [0.7, 2.5, 1.3];
        const n = [1, 2, 0.5];
        const mu = 0.4;
        const gStch = await numbersOf(() =>
          tf.grad((l: tf.Tensor) => tf.mul(3 * mu, tf.logSumExp(tf.div(tf.log(tf.div(l, tf.tensor1d(n))), mu))))(tf.tensor1d(L)),
        );
        await close(stchWeights(L, n, mu), gStch, 4);
        const gGls = await numbersOf(() => tf.grad((l: tf.Tensor) => tf.exp(tf.mean(tf.log(l))))(tf.tensor1d(L)));
        await close(glsWeights(L), gGls, 5);
        const gFamo = await numbersOf(() => {
          const z = [0.2, 0.5, 0.3];
          const c = 1 / z.reduce((s, zi, i) => s + zi / L[i], 0);
          return tf.grad((l: tf.Tensor) => tf.mul(c, tf.sum(tf.mul(tf.tensor1d(z), tf.log(l)))))(tf.tensor1d(L));
        });
        await close(famoWeights([0.2, 0.5, 0.3].map(Math.log), L, [0, 0, 0]), gFamo as number[], 5);
      });

      it("uncertainty: w = c·e^{−s}, ∂/∂s = −c·e^{−s}·L + ½ (c = ½ regression, 1 classification)", async () => {
        const tasks = [mtl.tasks.regression("r"), mtl.tasks.classification("c", { classes: 3 })];
        const m = bound(W.uncertainty(), tasks);
        await close(m.weigh(context([2, 3])), [0.5, 1]);
        const grads = await numbersOf(() => {
          const { grads: g } = tf.variableGrads(() => m.parameterLoss!(tf.tensor1d([2, 3])), m.variables());
          return g[m.variables()[0].name];
        });
        await close(grads as number[], [-0.5 * 2 + 0.5, -3 + 0.5], 5); // [−0.5, −2.5]
        const m2 = bound(W.uncertainty({ forms: "regression", initialLogVariance: Math.log(2) }), tasks);
        await close(m2.weigh(context([2, 3])), [0.25, 0.25]);
        const g2 = await numbersOf(
          () => tf.variableGrads(() => m2.parameterLoss!(tf.tensor1d([2, 3])), m2.variables()).grads[m2.variables()[0].name],
        );
        await close(g2, [0, -0.25], 5); // −½·½·2 + ½ = 0; −½·½·3 + ½ = −0.25
        m.dispose!();
        m2.dispose!();
      });

      it("IMTL-L: w = e^{s}, ∂/∂s = e^{s}·L − 1", async () => {
        const m = bound(W.imtlL({ initialScale: Math.log(0.5) }));
        await close(m.weigh(context([2, 0.5])), [0.5, 0.5]);
        const g = await numbersOf(
          () => tf.variableGrads(() => m.parameterLoss!(tf.tensor1d([2, 0.5])), m.variables()).grads[m.variables()[0].name],
        );
        await close(g, [0, -0.75], 5);
        m.dispose!();
      });
    });
  },
  { webgpu: true },
);
