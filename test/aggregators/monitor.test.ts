/** mtl.aggregators.monitored: records each step's gradient norms and cosines, leaves the update unchanged. */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend, setBackend } from "../helpers/backends";
import { expectClose, run } from "./helpers";

const A = mtl.aggregators;

describe("gradient geometry", () => {
  beforeAll(() => setBackend("cpu"));

  it("norms and cosines from the Gramian, on rows with known angles", () => {
    // g1 = (3, 4), g2 = (−4, 3): orthogonal; g3 = (−3, −4) = −g1; g4 = 0.
    const g = A.geometryOf([
      [25, 0, -25, 0],
      [0, 25, 0, 0],
      [-25, 0, 25, 0],
      [0, 0, 0, 0],
    ]);
    expect(g.norms).toEqual([5, 5, 5, 0]);
    expect(g.cosines[0]).toEqual([1, 0, -1, 0]);
    expect(g.cosines[1][3]).toBe(0);
  });

  it("summarises pairs: mean cosine, conflict rate, median norm ratio", () => {
    const log = [
      {
        norms: [1, 2],
        cosines: [
          [1, -0.5],
          [-0.5, 1],
        ],
      },
      {
        norms: [1, 4],
        cosines: [
          [1, 0.2],
          [0.2, 1],
        ],
      },
      {
        norms: [3, 1],
        cosines: [
          [1, -0.3],
          [-0.3, 1],
        ],
      },
    ];
    const s = A.summarizeGeometry(log, ["a", "b"]);
    expect(s.steps).toBe(3);
    expect(s.pairs).toHaveLength(1);
    expect(s.pairs[0].names).toEqual(["a", "b"]);
    expect(s.pairs[0].meanCosine).toBeCloseTo(-0.2, 12);
    expect(s.pairs[0].conflictRate).toBeCloseTo(2 / 3, 12);
    expect(s.pairs[0].medianNormRatio).toBe(3);
    expect(() => A.summarizeGeometry([])).toThrow(/aggregators\.monitored: no steps were recorded yet/);
  });

  it("refuses what is not an aggregator", () => {
    expect(() => A.monitored(undefined as never)).toThrow(mtl.MtlError);
    expect(() => A.monitored({} as never)).toThrow(/aggregators\.monitored: expects an aggregator/);
  });

  it("gives the inner method's update, weights and name, and logs one entry per call", async () => {
    const rows = [
      [2, 0.3, -1],
      [-0.8, 0.5, 0.2],
    ];
    for (const make of [() => A.upgrad(), () => A.pcgrad({ order: [0, 1] }), () => A.nashMtl()]) {
      const plain = make();
      const wrapped = A.monitored(make());
      expectClose(await run(wrapped, rows), await run(plain, rows), 1e-6);
      expect(wrapped.name).toBe(plain.name);
      expect(wrapped.levels).toEqual(plain.levels);
      expect(wrapped.lastWeights).toEqual(plain.lastWeights);
      expect(wrapped.log).toHaveLength(1);
      const cos = (2 * -0.8 + 0.3 * 0.5 - 0.2) / (Math.hypot(2, 0.3, -1) * Math.hypot(-0.8, 0.5, 0.2));
      expect(wrapped.log[0].cosines[0][1]).toBeCloseTo(cos, 5);
      expect(wrapped.log[0].norms[0]).toBeCloseTo(Math.hypot(2, 0.3, -1), 5);
      wrapped.clear();
      expect(wrapped.log).toHaveLength(0);
    }
  });
});

eachBackend(() => {
  describe("monitored aggregator in the trainer", () => {
    function toyData(rows = 32) {
      const rng = new mtl.Rng(4);
      const x = Array.from({ length: rows }, () => [rng.normal(), rng.normal(), rng.normal()]);
      const a = x.map((r) => r[0] - r[2]);
      const b = x.map((r) => -r[0] + r[1]);
      const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
      return { tasks, data: mtl.fromArrays({ x, targets: { a, b }, tasks }) };
    }

    it("logs every step's ‖∂L_i/∂θ_s‖ and cosine, trains exactly as the inner method, keeps the tensor count flat", async () => {
      const { tasks, data } = toyData();
      // Expected geometry of the first step: the whole data set is one batch.
      const probe = mtl.hardSharing({ inputSize: 3, trunk: [6], tasks, seed: 9 });
      const x = tf.tensor2d(data.features, [32, 3]);
      const targets = tasks.map((t) => t.targetTensor(data.targets[t.name], 32));
      const rows = mtl.evaluation.sharedGradients(probe, tasks, x, targets);
      const norms = rows.map((r) => Math.sqrt(r.reduce((s, v) => s + v * v, 0)));
      const cosine = mtl.evaluation.cosineMatrix(rows)[0][1];
      tf.dispose([x, ...targets]);
      probe.dispose();

      const train = async (aggregator: mtl.aggregators.Aggregator) => {
        const model = mtl.hardSharing({ inputSize: 3, trunk: [6], tasks, seed: 9 });
        const trainer = new mtl.Trainer({
          model,
          tasks,
          aggregator,
          batchSize: 32,
          shuffle: false,
          progress: false,
          optimizer: mtl.optimizers.sgd(0.05),
        });
        await trainer.fit(data, { epochs: 2 });
        const before = tf.memory().numTensors;
        await trainer.fit(data, { epochs: 3 });
        expect(tf.memory().numTensors).toBe(before);
        const weights = model.namedVariables().flatMap(([, v]) => Array.from(v.dataSync()));
        model.dispose();
        return weights;
      };
      const monitor = A.monitored(A.mgda());
      const withLog = await train(monitor);
      const without = await train(A.mgda());
      expectClose(withLog, without, 1e-6);
      expect(monitor.log).toHaveLength(5);
      expect(monitor.log[0].norms[0]).toBeCloseTo(norms[0], 4);
      expect(monitor.log[0].norms[1]).toBeCloseTo(norms[1], 4);
      expect(monitor.log[0].cosines[0][1]).toBeCloseTo(cosine, 4);
      const s = monitor.summary();
      expect(s.steps).toBe(5);
      expect(s.pairs[0].names).toEqual(["a", "b"]);
    });

    it("carries the inner method's state through a checkpoint", async () => {
      const inner = A.gradvac({ beta: 0.5 });
      const wrapped = A.monitored(inner);
      await run(wrapped, [
        [1, 0.2],
        [-0.5, 1],
      ]);
      expect(wrapped.state!()).toEqual(inner.state!());
      const other = A.monitored(A.gradvac({ beta: 0.5 }));
      other.loadState!(wrapped.state!());
      expect(other.inner.state!()).toEqual(inner.state!());
    });
  });
});
