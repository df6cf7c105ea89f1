/**
 * Option `learningRate` of the weightings with learnable scales (uncertainty, IMTL-L): the scales get
 * their own Adam at that rate (the Nash-MTL / FAMO code's separate parameter group) instead of the
 * trainer's optimizer, so they move within a short run even when the model's learning rate is small.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend, setBackend } from "../helpers/backends";
import { bound, context } from "./helpers";

const W = mtl.weighting;

/** Two regression tasks whose losses differ ~10⁴× (targets scaled 1 and 100). */
function scaledData(rows = 64, seed = 3) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal()]);
  const small = x.map((r) => r[0] - r[1]);
  const large = x.map((r) => 100 * (r[1] + r[2]));
  const tasks = [mtl.tasks.regression("small"), mtl.tasks.regression("large")];
  return { tasks, data: mtl.fromArrays({ x, targets: { small, large }, tasks }) };
}

/** Adam with PyTorch's defaults, written out here independently of the library's. */
function adamReplay(s0: number[], grads: number[][], lr: number): number[] {
  let s = [...s0];
  const m = s.map(() => 0);
  const v = s.map(() => 0);
  grads.forEach((g, t) => {
    s = s.map((si, i) => {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      const mHat = m[i] / (1 - 0.9 ** (t + 1));
      const vHat = v[i] / (1 - 0.999 ** (t + 1));
      return si - (lr * mHat) / (Math.sqrt(vHat) + 1e-8);
    });
  });
  return s;
}

describe("learnable scales with their own learning rate", () => {
  beforeAll(() => setBackend("cpu"));

  it("refuses a learning rate that is not a positive number, naming the method and the option", () => {
    expect(() => W.uncertainty({ learningRate: 0 })).toThrow(/weighting\.uncertainty: option 'learningRate' must be > 0/);
    expect(() => W.imtlL({ learningRate: -1 })).toThrow(/weighting\.imtlL: option 'learningRate' must be > 0/);
    expect(() => W.imtlL({ learningRate: "fast" as never })).toThrow(/weighting\.imtlL: option 'learningRate' must be a finite number/);
  });

  it("has no trainer variables and no parameter loss; one afterStep is one Adam step on ∂L/∂s", async () => {
    const u = bound(W.uncertainty({ learningRate: 0.1 }));
    expect(u.variables()).toEqual([]);
    expect(u.parameterLoss).toBeUndefined();
    expect(u.options).toMatchObject({ learningRate: 0.1 });
    expect(await u.weigh(context([4, 0.25]))).toEqual([0.5, 0.5]);
    await u.afterStep!({ losses: [4, 0.25], lossesAfter: async () => [4, 0.25] });
    // ∂/∂s = −½e^{−s}L + ½ = [−1.5, 0.375]: Adam's first step moves each s by lr against the sign (up to Adam's ε).
    u.logVariances().forEach((v, i) => expect(v).toBeCloseTo([0.1, -0.1][i], 7));
    const m = bound(W.imtlL({ learningRate: 0.05 }));
    await m.afterStep!({ losses: [4, NaN], lossesAfter: async () => [4, NaN] });
    // ∂/∂s = e^{s}L − 1 = [3, ·]; a task that did not train (NaN loss) gets gradient 0.
    m.scales().forEach((v, i) => expect(v).toBeCloseTo([-0.05, 0][i], 7));
    u.dispose!();
    m.dispose!();
  });
});

eachBackend(() => {
  describe("learnable scales in the trainer", () => {
    for (const [name, make, formula] of [
      ["uncertainty", (lr?: number) => W.uncertainty({ learningRate: lr }), (s: number, l: number) => -0.5 * Math.exp(-s) * l + 0.5],
      ["imtlL", (lr?: number) => W.imtlL({ learningRate: lr }), (s: number, l: number) => Math.exp(s) * l - 1],
    ] as const) {
      it(`${name}: the scales follow their own Adam on the recorded losses, and move where the trainer's learning rate leaves them still`, async () => {
        const { tasks, data } = scaledData();
        const scalesOf = (m: mtl.weighting.Weighting) =>
          name === "uncertainty" ? (m as ReturnType<typeof W.uncertainty>).logVariances() : (m as ReturnType<typeof W.imtlL>).scales();
        const run = async (lr?: number) => {
          const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed: 2 });
          const method = make(lr);
          const trainer = new mtl.Trainer({
            model,
            tasks,
            weighting: method,
            batchSize: 16,
            progress: false,
            optimizer: mtl.optimizers.adam({ learningRate: 1e-4 }),
          });
          await trainer.fit(data, { epochs: 5 });
          const before = tf.memory().numTensors;
          await trainer.fit(data, { epochs: 1 });
          expect(tf.memory().numTensors).toBe(before);
          const result = { steps: trainer.history.steps, scales: scalesOf(method) };
          method.dispose!();
          model.dispose();
          return result;
        };
        const own = await run(0.025);
        // Replay: s starts at 0; each step's gradient is the method's ∂L_total/∂s at the losses it was weighed with.
        let s = [0, 0];
        const grads: number[][] = [];
        for (const step of own.steps) {
          // Weights are what the model saw: recover s from them and check the replay agrees step by step.
          const expectedS = adamReplay([0, 0], grads, 0.025);
          const seenS = step.weights.map((w) => (name === "uncertainty" ? -Math.log(2 * w) : Math.log(w)));
          seenS.forEach((v, i) => expect(v).toBeCloseTo(expectedS[i], 4));
          s = expectedS;
          grads.push(step.losses.map((l, i) => formula(s[i], l)));
        }
        const final = adamReplay([0, 0], grads, 0.025);
        own.scales.forEach((v, i) => expect(v).toBeCloseTo(final[i], 4));
        // 24 steps at 0.025 move the large task's scale by more than 0.3; the trainer's Adam at 1e-4 by at most 24e-4.
        expect(Math.abs(own.scales[1])).toBeGreaterThan(0.3);
        const shared = await run(undefined);
        shared.scales.forEach((v) => expect(Math.abs(v)).toBeLessThanOrEqual(24 * 1e-4 * 1.01));
      });
    }
  });
});
