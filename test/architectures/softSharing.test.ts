import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend, setBackend } from "../helpers/backends";
import { copyInto, maxDiffOf, twoRegressions } from "./helpers";

// Hand-built parameters: three towers of one 2 → 2 layer (kernel, bias), and a center.
const KERNELS = [
  [
    [1, 2],
    [3, 4],
  ],
  [
    [0, 0],
    [1, 1],
  ],
  [
    [2, 1],
    [0, -1],
  ],
];
const BIASES = [
  [0, 1],
  [1, 1],
  [-1, 0],
];
const CENTER = {
  kernel: [
    [1, 1],
    [1, 1],
  ],
  bias: [0, 0.5],
};

function handBuilt(center: "learned" | "mean") {
  const tasks = ["t0", "t1", "t2"].map((n) => mtl.tasks.regression(n));
  const model = mtl.softSharing({ inputSize: 2, towers: [2], tasks, center, seed: 1 });
  model.towers.forEach((t, i) => {
    t.layers[0].kernel.assign(tf.tensor2d(KERNELS[i]));
    t.layers[0].bias!.assign(tf.tensor1d(BIASES[i]));
  });
  if (center === "learned") {
    model.centers.get("0.kernel")!.assign(tf.tensor2d(CENTER.kernel));
    model.centers.get("0.bias")!.assign(tf.tensor1d(CENTER.bias));
  }
  return model;
}

/** θ_i flattened (kernel then bias) and the center, in float64. */
const theta = (i: number) => [...KERNELS[i].flat(), ...BIASES[i]];
const learnedCenter = [...CENTER.kernel.flat(), ...CENTER.bias];
const meanCenter = theta(0).map((_, j) => (theta(0)[j] + theta(1)[j] + theta(2)[j]) / 3);
const sq = (v: number[]) => v.reduce((s, x) => s + x * x, 0);
const abs1 = (v: number[]) => v.reduce((s, x) => s + Math.abs(x), 0);
const sub = (a: number[], b: number[]) => a.map((x, j) => x - b[j]);

async function penaltyAndGrads(model: mtl.SoftSharingModel, reg: mtl.regularizers.Regularizer) {
  const vars = model.namedVariables();
  const { value, grads } = tf.variableGrads(
    () => reg.penalty(model),
    vars.map(([, v]) => v),
  );
  const out = { value: (await value.data())[0], grads: {} as Record<string, number[]> };
  for (const [name, v] of vars) out.grads[name] = grads[v.name] ? Array.from(await grads[v.name].data()) : [];
  value.dispose();
  tf.dispose(Object.values(grads));
  return out;
}

/** The gradient of tower i's tied layer 0 (kernel then bias) from a result. */
const towerGrad = (g: Record<string, number[]>, i: number) => [...g[`tower.t${i}.0.kernel`], ...g[`tower.t${i}.0.bias`]];

eachBackend(
  () => {
    describe("soft-sharing penalty", () => {
      it("center form, L2, learned θ_s: λ Σ_i ||θ_i − θ_s||², gradients 2λ(θ_i − θ_s) and −2λ Σ_i (θ_i − θ_s)", async () => {
        const model = handBuilt("learned");
        const lambda = 0.3;
        const r = await penaltyAndGrads(model, mtl.regularizers.softSharing(lambda));
        const expected = lambda * [0, 1, 2].reduce((s, i) => s + sq(sub(theta(i), learnedCenter)), 0);
        expect(r.value).toBeCloseTo(expected, 4);
        for (let i = 0; i < 3; i++) {
          towerGrad(r.grads, i).forEach((g, j) => expect(g).toBeCloseTo(2 * lambda * (theta(i)[j] - learnedCenter[j]), 5));
        }
        const centerGrad = [...r.grads["center.0.kernel"], ...r.grads["center.0.bias"]];
        centerGrad.forEach((g, j) =>
          expect(g).toBeCloseTo(-2 * lambda * [0, 1, 2].reduce((s, i) => s + theta(i)[j] - learnedCenter[j], 0), 5),
        );
        // The heads do not enter the penalty.
        expect(r.grads["head.t0.0.kernel"]).toEqual([]);
        model.dispose();
      });

      it("center form with the mean: equals the pairwise form / k, gradient 2λ(θ_i − θ̄)", async () => {
        const model = handBuilt("mean");
        const lambda = 0.5;
        const center = await penaltyAndGrads(model, mtl.regularizers.softSharing(lambda));
        const expected = lambda * [0, 1, 2].reduce((s, i) => s + sq(sub(theta(i), meanCenter)), 0);
        expect(center.value).toBeCloseTo(expected, 4);
        for (let i = 0; i < 3; i++)
          towerGrad(center.grads, i).forEach((g, j) => expect(g).toBeCloseTo(2 * lambda * (theta(i)[j] - meanCenter[j]), 5));
        const pairwise = await penaltyAndGrads(model, mtl.regularizers.softSharing(lambda, { form: "pairwise" }));
        const pairs = sq(sub(theta(0), theta(1))) + sq(sub(theta(0), theta(2))) + sq(sub(theta(1), theta(2)));
        expect(pairwise.value).toBeCloseTo(lambda * pairs, 4);
        expect(pairwise.value).toBeCloseTo(3 * center.value, 4);
        // ∂/∂θ_i λ Σ_{a<b} ||θ_a − θ_b||² = 2λ Σ_{j≠i} (θ_i − θ_j)
        for (let i = 0; i < 3; i++) {
          towerGrad(pairwise.grads, i).forEach((g, j) =>
            expect(g).toBeCloseTo(2 * lambda * [0, 1, 2].filter((o) => o !== i).reduce((s, o) => s + theta(i)[j] - theta(o)[j], 0), 4),
          );
        }
        model.dispose();
      });

      it("L1 variants: λ Σ_i ||θ_i − θ_s||₁ with gradient λ·sign, and the pairwise L1", async () => {
        const model = handBuilt("learned");
        const r = await penaltyAndGrads(model, mtl.regularizers.softSharing(2, { distance: "l1" }));
        expect(r.value).toBeCloseTo(2 * [0, 1, 2].reduce((s, i) => s + abs1(sub(theta(i), learnedCenter)), 0), 4);
        for (let i = 0; i < 3; i++) {
          towerGrad(r.grads, i).forEach((g, j) => {
            const d = theta(i)[j] - learnedCenter[j];
            if (d !== 0) expect(g).toBeCloseTo(2 * Math.sign(d), 5);
          });
        }
        model.dispose();
        const meanModel = handBuilt("mean");
        const p = await penaltyAndGrads(meanModel, mtl.regularizers.softSharing(1, { form: "pairwise", distance: "l1" }));
        expect(p.value).toBeCloseTo(abs1(sub(theta(0), theta(1))) + abs1(sub(theta(0), theta(2))) + abs1(sub(theta(1), theta(2))), 4);
        meanModel.dispose();
      });

      it("per-layer λ and biases: false choose what is penalised", async () => {
        const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
        const model = mtl.softSharing({ inputSize: 3, towers: [4, 2], tasks, center: "mean", seed: 3 });
        const penaltyOf = async (r: mtl.regularizers.Regularizer) => {
          const p = r.penalty(model);
          const v = (await p.data())[0];
          p.dispose();
          return v;
        };
        const by = (l: number, biases = true) => penaltyOf(mtl.regularizers.softSharing({ [l]: 1 }, { biases }));
        const all = await penaltyOf(mtl.regularizers.softSharing(1));
        expect((await by(0)) + (await by(1))).toBeCloseTo(all, 4);
        const perLayer = await penaltyOf(mtl.regularizers.softSharing({ 0: 0.1, 1: 10 }));
        expect(perLayer).toBeCloseTo(0.1 * (await by(0)) + 10 * (await by(1)), 3);
        // Biases start at zero (Glorot), so leaving them out changes nothing here; make them differ.
        model.towers[0].layers[0].bias!.assign(tf.ones([4]));
        expect(await by(0)).toBeGreaterThan((await by(0, false)) + 1.9); // two towers: 2 · 4 · (1/2)² = 2
        expect(mtl.regularizers.softSharing(1).name).toBe("softSharing(center,l2)");
        model.dispose();
      });

      it("keeps the tensor count flat", async () => {
        const model = handBuilt("learned");
        const reg = mtl.regularizers.softSharing(1, { distance: "l1" });
        reg.penalty(model).dispose();
        const before = tf.memory().numTensors;
        for (let i = 0; i < 5; i++) reg.penalty(model).dispose();
        expect(tf.memory().numTensors).toBe(before);
        model.dispose();
      });
    });

    describe("soft sharing trained", () => {
      it("λ = 0 trains each tower exactly as a separately trained single-task network from the same start", async () => {
        const { tasks, data } = twoRegressions(64, 4);
        const soft = mtl.softSharing({ inputSize: 4, towers: [8, 6], tasks, seed: 5, center: "mean" });
        const singles = tasks.map((t) => mtl.hardSharing({ inputSize: 4, trunk: [8, 6], tasks: [t], seed: 9 }));
        singles.forEach((m, i) =>
          copyInto(
            [...soft.towers[i].namedVariables(), ...soft.heads[i].namedVariables()].map(([, v]) => v),
            m.namedVariables().map(([, v]) => v),
          ),
        );
        const opts = { epochs: 3, batchSize: 16, seed: 7, progress: false };
        await new mtl.Trainer({
          model: soft,
          tasks,
          regularizers: [mtl.regularizers.softSharing(0)],
          optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
          ...opts,
        }).fit(data);
        for (let i = 0; i < 2; i++) {
          const single = singles[i];
          await new mtl.Trainer({ model: single, tasks: [tasks[i]], optimizer: mtl.optimizers.adam({ learningRate: 0.01 }), ...opts }).fit(
            data,
          );
          const softVars = [...soft.towers[i].namedVariables(), ...soft.heads[i].namedVariables()].map(([, v]) => v);
          expect(
            await maxDiffOf(
              softVars,
              single.namedVariables().map(([, v]) => v),
            ),
          ).toBeLessThan(1e-5);
          single.dispose();
        }
        soft.dispose();
      });

      // Plain SGD: Adam's steps have a fixed size, so with Adam the towers keep jittering around each other.
      it("a large λ makes the towers equal; the distance falls as λ grows", async () => {
        const { tasks, data } = twoRegressions(64, 6);
        const distance = async (lambda: number, center: "learned" | "mean") => {
          const model = mtl.softSharing({ inputSize: 4, towers: [8], tasks, seed: 2, center });
          const start = (await model.towerDistancesAsync())[0][1];
          await new mtl.Trainer({
            model,
            tasks,
            epochs: 15,
            batchSize: 16,
            progress: false,
            regularizers: [mtl.regularizers.softSharing(lambda)],
            optimizer: mtl.optimizers.sgd(0.02),
          }).fit(data);
          const d = (await model.towerDistancesAsync())[0][1];
          model.dispose();
          return { start, d };
        };
        const free = await distance(0, "mean");
        const mid = await distance(0.01, "mean");
        const one = await distance(1, "mean");
        const tight = await distance(10, "mean");
        const tightLearned = await distance(10, "learned");
        expect(free.d).toBeGreaterThan(0.5 * free.start);
        expect(mid.d).toBeLessThan(free.d);
        expect(one.d).toBeLessThan(mid.d);
        expect(tight.d).toBeLessThan(one.d / 5); // the gap left scales like 1/λ
        expect(tight.d).toBeLessThan(0.03 * tight.start);
        expect(tightLearned.d).toBeLessThan(0.03 * tightLearned.start);
      });
    });
  },
  { webgpu: true },
);

describe("soft sharing with GradNorm", () => {
  beforeAll(() => setBackend("cpu"));

  it("GradNorm refuses the default last-shared-layer target (one task's tower) and trains with target 'representation'", async () => {
    const { tasks, data } = twoRegressions(32);
    const model = mtl.softSharing({ inputSize: 4, towers: [3], tasks, seed: 1 });
    const run = (target?: "representation") =>
      new mtl.Trainer({
        model,
        tasks,
        epochs: 1,
        batchSize: 16,
        progress: false,
        weighting: mtl.weighting.gradNorm(target ? { target } : {}),
        regularizers: [mtl.regularizers.softSharing(0.1)],
      }).fit(data);
    await expect(run()).rejects.toThrow(
      /weighting\.gradNorm: the last shared layer \('tower\.b\.0\.kernel'\) is not used by task 'a' .*target: "representation"/,
    );
    const history = await run("representation");
    expect(history.steps.length).toBe(2);
    model.dispose();
  });
});

describe("soft sharing: bad input", () => {
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];

  it("refuses tying towers of different shapes, naming layer and task", async () => {
    expect(() => mtl.softSharing({ inputSize: 3, tasks, towers: { a: [4, 2], b: [5, 2] } })).toThrow(
      /layer 0 is \[3,5\] in the tower of task 'b'/,
    );
    expect(() => mtl.softSharing({ inputSize: 3, tasks, towers: { a: [4, 2], b: [4] } })).toThrow(/same depth/);
    expect(() => mtl.softSharing({ inputSize: 3, tasks, towers: { a: [4, 2], b: [4, 3] }, tie: [0, 1] })).toThrow(/layer 1 is \[4,3\]/);
    // Untied layers may differ.
    const m = mtl.softSharing({ inputSize: 3, tasks, towers: { a: [4, 2], b: [4, 3] }, tie: [0] });
    expect(m.tiedGroups().map((g) => g.name)).toEqual(["0.kernel", "0.bias"]);
    expect(m.taskVariables(1).map(([n]) => n)).toEqual(["tower.b.1.kernel", "tower.b.1.bias", "head.b.0.kernel", "head.b.0.bias"]);
    m.dispose();
    expect(() => mtl.softSharing({ inputSize: 3, tasks, towers: { a: [4] } })).toThrow(/no entry for task 'b'/);
    expect(() => mtl.softSharing({ inputSize: 3, tasks, towers: { a: [4], b: [4], c: [4] } })).toThrow(/names task 'c'/);
    expect(() => mtl.softSharing({ inputSize: 3, tasks, towers: [4], tie: [2] })).toThrow(/names layer 2/);
    expect(() => mtl.softSharing({ inputSize: 3, tasks, towers: [4], center: "median" as never })).toThrow(/'center'/);
  });

  it("refuses λ < 0, unknown options, λ for an untied layer, the pairwise form with a learned center, a model without towers", async () => {
    expect(() => mtl.regularizers.softSharing(-1)).toThrow(/λ must be a finite number ≥ 0, got -1/);
    expect(() => mtl.regularizers.softSharing({ 0: -0.5 })).toThrow(/λ of layer 0/);
    expect(() => mtl.regularizers.softSharing(NaN)).toThrow(/λ/);
    expect(() => mtl.regularizers.softSharing(1, { norm: "l2" } as never)).toThrow(/unknown option 'norm'/);
    expect(() => mtl.regularizers.softSharing(1, { distance: "l3" as never })).toThrow(/'distance'/);
    const model = mtl.softSharing({ inputSize: 3, tasks, towers: [4, 2], tie: [0] });
    const data = mtl.fromArrays({ x: [[1, 2, 3]], targets: { a: [1], b: [2] }, tasks });
    expect(() => new mtl.Trainer({ model, tasks, regularizers: [mtl.regularizers.softSharing({ 1: 1 })] })).toThrow(
      /layer 1, which the model does not tie \(tied layers: 0\)/,
    );
    expect(() => new mtl.Trainer({ model, tasks, regularizers: [mtl.regularizers.softSharing(1, { form: "pairwise" })] })).toThrow(
      /learned center/,
    );
    const hard = mtl.hardSharing({ inputSize: 3, trunk: [4], tasks });
    expect(() => new mtl.Trainer({ model: hard, tasks, regularizers: [mtl.regularizers.softSharing(1)] })).toThrow(
      /'hardSharing' model has no tied task towers/,
    );
    expect(data.rows).toBe(1);
    model.dispose();
    hard.dispose();
  });
});
