/** The CAGrad / Nash-MTL two-objective toy: losses, analytic Jacobian, numerical Pareto front, Adam trajectories. */
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { setBackend } from "../helpers/backends";

const A = mtl.aggregators;

describe("cagradToy", () => {
  beforeAll(() => setBackend("cpu"));

  it("has the papers' losses at hand-computed points", () => {
    const toy = mtl.data.cagradToy();
    // x₂ = 0: c₁ = c₂ = 0, both losses vanish.
    expect(toy.losses(0, 0)).toEqual([0, 0]);
    // Deep in the lower half, c₂ = tanh(4.18) and the quadratics: at (7, −8.36), q₁ = 0.1·0.36²/10 − 20.
    const [l1, l2] = toy.losses(7, -8.36);
    const c2 = Math.tanh(4.18);
    expect(l1).toBeCloseTo(c2 * ((0.1 * 0.36 ** 2) / 10 - 20), 10);
    expect(l2).toBeCloseTo(c2 * ((14 ** 2 + 0.1 * 0.36 ** 2) / 10 - 20), 10);
    // The scale multiplies the first loss only.
    const scaled = mtl.data.cagradToy({ scale: 0.1 }).losses(1.3, 2.2);
    const plain = toy.losses(1.3, 2.2);
    expect(scaled[0]).toBeCloseTo(0.1 * plain[0], 12);
    expect(scaled[1]).toBe(plain[1]);
  });

  it("its Jacobian matches central differences", () => {
    const toy = mtl.data.cagradToy({ scale: 0.1 });
    const h = 1e-6;
    for (const [x1, x2] of [
      [-8.5, 7.5],
      [9, 9],
      [-7.5, -0.5],
      [9, -1],
      [2, 0.7],
      [-3, -8.3],
      [0.4, 0.05],
    ]) {
      const J = toy.jacobian(x1, x2);
      for (let i = 0; i < 2; i++) {
        const d1 = (toy.losses(x1 + h, x2)[i] - toy.losses(x1 - h, x2)[i]) / (2 * h);
        const d2 = (toy.losses(x1, x2 + h)[i] - toy.losses(x1, x2 - h)[i]) / (2 * h);
        expect(J[i][0]).toBeCloseTo(d1, 5);
        expect(J[i][1]).toBeCloseTo(d2, 5);
      }
    }
    // At x₂ = 0 the clamps pass their gradient (PyTorch's clamp): the origin is not a flat point.
    const J0 = toy.jacobian(0, 0);
    expect(Math.abs(J0[0][1]) + Math.abs(J0[1][1])).toBeGreaterThan(1);
  });

  it("finds the Pareto front the papers draw (x₂ ≈ −8.36, x₁ from −7 to 7), the same set for any scale", () => {
    const front = mtl.data.cagradToy().paretoFront({ resolution: 401 });
    expect(front.length).toBeGreaterThan(50);
    for (let i = 1; i < front.length; i++) {
      expect(front[i].losses[0]).toBeGreaterThanOrEqual(front[i - 1].losses[0]);
      expect(front[i].losses[1]).toBeLessThan(front[i - 1].losses[1]);
    }
    const x1 = front.map((p) => p.x[0]);
    expect(Math.min(...x1)).toBeLessThan(-6.5);
    expect(Math.max(...x1)).toBeGreaterThan(6.5);
    for (const p of front) {
      expect(p.x[1]).toBeGreaterThan(-8.8);
      expect(p.x[1]).toBeLessThan(-7.9);
    }
    const scaled = mtl.data.cagradToy({ scale: 0.1 }).paretoFront({ resolution: 401 });
    expect(scaled.map((p) => p.x)).toEqual(front.map((p) => p.x));
  });

  it("runs Adam on the aggregator's update: a Gramian method in float64, any other through its tensor path, alike", () => {
    const toy = mtl.data.cagradToy({ scale: 0.1 });
    const start: [number, number] = [-7.5, -0.5];
    const gram = toy.trajectory(A.mean(), start, { steps: 3, learningRate: 0.1, every: 1 });
    // Adam by hand on d = (g₁ + g₂)/2.
    let x = [...start];
    const m = [0, 0];
    const v = [0, 0];
    for (let t = 1; t <= 3; t++) {
      const J = toy.jacobian(x[0], x[1]);
      const d = [(J[0][0] + J[1][0]) / 2, (J[0][1] + J[1][1]) / 2];
      x = x.map((xi, i) => {
        m[i] = 0.9 * m[i] + 0.1 * d[i];
        v[i] = 0.999 * v[i] + 0.001 * d[i] ** 2;
        return xi - (0.1 * (m[i] / (1 - 0.9 ** t))) / (Math.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8);
      });
    }
    expect(gram.final[0]).toBeCloseTo(x[0], 10);
    expect(gram.final[1]).toBeCloseTo(x[1], 10);
    expect(gram.points).toHaveLength(4);
    expect(gram.finalLosses).toEqual(toy.losses(...gram.final));
    const inner = A.mean();
    const tensorOnly: mtl.aggregators.Aggregator = {
      name: "mean (tensor)",
      levels: inner.levels,
      get lastWeights() {
        return inner.lastWeights;
      },
      aggregate: (J, c) => inner.aggregate(J, c),
    };
    const viaTensor = toy.trajectory(tensorOnly, start, { steps: 3, learningRate: 0.1 });
    expect(viaTensor.final[0]).toBeCloseTo(x[0], 5);
    expect(viaTensor.final[1]).toBeCloseTo(x[1], 5);
  });

  it("MGDA reaches the front from a start below the valley", () => {
    const toy = mtl.data.cagradToy({ scale: 0.1 });
    const run = toy.trajectory(A.mgda(), [-8.5, -5], { steps: 6000, learningRate: 3e-3 });
    expect(run.final[1]).toBeGreaterThan(-8.8);
    expect(run.final[1]).toBeLessThan(-7.9);
  });

  it("refuses bad options, naming them", () => {
    expect(() => mtl.data.cagradToy({ scale: 0 })).toThrow(/cagradToy: option 'scale' must be a positive number/);
    const toy = mtl.data.cagradToy();
    expect(() => toy.paretoFront({ resolution: 1 })).toThrow(/cagradToy\.paretoFront: option 'resolution'/);
    expect(() => toy.trajectory(A.mean(), [0, 0], { steps: 0 })).toThrow(/cagradToy\.trajectory: option 'steps'/);
    expect(() => toy.trajectory(A.mean(), [0, NaN] as never)).toThrow(/cagradToy\.trajectory: the start must be two finite numbers/);
  });
});
