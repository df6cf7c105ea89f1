/** Bad input is refused before training, with a message naming the method and the option. */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { setBackend } from "../helpers/backends";
import { bound, context } from "./helpers";

const W = mtl.weighting;

describe("weighting bad input", () => {
  beforeAll(() => setBackend("cpu"));

  it("refuses unknown or misspelled options, naming the method and the option", () => {
    expect(() => W.dwa({ temprature: 2 } as never)).toThrow(/weighting\.dwa: unknown option 'temprature'. Known options: temperature/);
    expect(() => W.gradNorm({ aplha: 1 } as never)).toThrow(/weighting\.gradNorm: unknown option 'aplha'/);
    expect(() => W.uncertainty({ form: "regression" } as never)).toThrow(/weighting\.uncertainty: unknown option 'form'/);
    expect(() => W.equal({ x: 1 } as never)).toThrow(/weighting\.equal: unknown option 'x'/);
    for (const make of [W.rlw, W.gls, W.dtp, W.famo, W.imtlL, W.stch])
      expect(() => make({ bogus: 1 } as never)).toThrow(/unknown option 'bogus'/);
  });

  it("refuses a weight vector of the wrong length or with bad values", () => {
    expect(() => bound(W.static([1, 2, 3]), 2)).toThrow(/weighting\.static: option 'weights' has 3 values for 2 tasks \(t0, t1\)/);
    expect(() => W.static([1, -1])).toThrow(
      /weighting\.static: option 'weights': the weight at index 1 must be a finite number ≥ 0, got -1/,
    );
    expect(() => bound(W.static({ nope: 2 }), 2)).toThrow(/option 'weights' names task 'nope'/);
    expect(() => bound(W.uncertainty({ forms: ["regression"] }), 2)).toThrow(
      /weighting\.uncertainty: option 'forms' has 1 values for 2 tasks/,
    );
    expect(() => bound(W.dtp({ gamma: [1, 2, 3] }), 2)).toThrow(/weighting\.dtp: option 'gamma' has 3 values for 2 tasks/);
    expect(() => bound(W.famo({ minLosses: [0] }), 2)).toThrow(/weighting\.famo: option 'minLosses' has 1 values/);
    expect(() => bound(W.stch({ nadir: [1, 2, 3] }), 2)).toThrow(/weighting\.stch: option 'nadir' has 3 values/);
  });

  it("refuses α < 0, T ≤ 0, μ ≤ 0 and other out-of-range hyperparameters", () => {
    expect(() => W.gradNorm({ alpha: -0.5 })).toThrow(/weighting\.gradNorm: option 'alpha' must be ≥ 0, got -0.5/);
    expect(() => W.gradNorm({ target: "encoder" as never })).toThrow(/option 'target' must be "lastSharedLayer" or "representation"/);
    expect(() => W.dwa({ temperature: 0 })).toThrow(/weighting\.dwa: option 'temperature' must be > 0, got 0/);
    expect(() => W.dwa({ temperature: -1 })).toThrow(/option 'temperature' must be > 0/);
    expect(() => W.dwa({ temperature: NaN })).toThrow(/option 'temperature' must be a finite number/);
    expect(() => W.stch({ mu: 0 })).toThrow(/weighting\.stch: option 'mu' must be > 0/);
    expect(() => W.stch({ warmupEpochs: 1.5 })).toThrow(/option 'warmupEpochs' must be an integer/);
    expect(() => W.dtp({ alpha: 0 })).toThrow(/weighting\.dtp: option 'alpha' must be > 0/);
    expect(() => W.dtp({ gamma: -1 })).toThrow(/weighting\.dtp: option 'gamma' must be ≥ 0/);
    expect(() => W.famo({ gamma: -1 })).toThrow(/weighting\.famo: option 'gamma' must be ≥ 0/);
    expect(() => W.famo({ learningRate: 0 })).toThrow(/option 'learningRate' must be > 0/);
    expect(() => W.rlw({ distribution: "cauchy" as never })).toThrow(/weighting\.rlw: option 'distribution'/);
    expect(() => W.uncertainty({ forms: "poisson" as never })).toThrow(/weighting\.uncertainty: option 'forms'/);
  });

  it("refuses a DTP KPI outside [0, 1], and a KPI metric that is not 'higher is better'", async () => {
    const m = bound(W.dtp({ kpi: "manual" }), 2);
    expect(() => m.observe([0.5, 1.2])).toThrow(/weighting\.dtp: the KPI of task 't1' is 1.2; a KPI must lie in \[0, 1\] \(option 'kpi'\)/);
    expect(() => m.observe([-0.1, 0.5])).toThrow(/task 't0' is -0.1/);
    expect(() => m.observe([0.5])).toThrow(/observe needs 2 KPIs/);
    // Regression's primary metric (mse) is lower-is-better: refused at bind, before training.
    expect(() => bound(W.dtp(), 2)).toThrow(
      /weighting\.dtp: the KPI of task 't0' must be a metric in \[0, 1\] where higher is better; 'mse' is not/,
    );
    expect(() => bound(W.dtp({ metrics: "accuracy" }), 2)).toThrow(/task 't0' has no metric 'accuracy'/);
    // R² is higher-is-better but can leave [0, 1]: refused when it does.
    const r2 = bound(W.dtp({ metrics: "r2" }), 2);
    await expect((async () => r2.weigh(context([1, 1], { metrics: [{ r2: 0.5 }, { r2: -0.3 }] })))()).rejects.toThrow(
      /metric 'r2' of task 't1' is -0.3; a KPI must lie in \[0, 1\]/,
    );
  });

  it("refuses losses ≤ 0 where a method takes their log, naming the task", () => {
    expect(() => bound(W.gls(), 2).weigh(context([1, 0]))).toThrow(/weighting\.gls: the loss of task 't1' is 0/);
    expect(() => bound(W.stch(), 2).weigh(context([-1, 1]))).toThrow(/weighting\.stch: the loss of task 't0' is -1/);
  });

  it("refuses state from another method or of the wrong shape", async () => {
    const d = bound(W.dwa(), 2);
    expect(() => d.loadState({ method: "famo", logits: [0, 0] })).toThrow(/weighting\.dwa: loadState got state of "famo"/);
    expect(() => bound(W.famo(), 2).loadState({ method: "famo", logits: [0, 0, 0] })).toThrow(/state field 'logits' must be 2 numbers/);
    await expect((async () => W.gradNorm().weigh(context([1, 1])))()).rejects.toThrow(
      /weighting\.gradNorm: the method is not bound to tasks yet/,
    );
  });

  it("the trainer refuses 'weights' with 'weighting', and a weighting that is not one", async () => {
    const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
    const model = mtl.hardSharing({ inputSize: 2, trunk: [2], tasks });
    expect(() => new mtl.Trainer({ model, tasks, weights: [1, 2], weighting: W.dwa() })).toThrow(
      /Trainer: options 'weights' and 'weighting' cannot be used together/,
    );
    expect(() => new mtl.Trainer({ model, tasks, weighting: "dwa" as never })).toThrow(
      /Trainer: option 'weighting' must be a method from mtl.weighting/,
    );
    expect(() => new mtl.Trainer({ model, tasks, weighting: W.static([1]) })).toThrow(
      /weighting\.static: option 'weights' has 1 values for 2 tasks \(a, b\)/,
    );
    expect(new mtl.Trainer({ model, tasks, weights: [1, 2], progress: false }).weighting!.name).toBe("static");
    expect(new mtl.Trainer({ model, tasks, progress: false }).weighting!.name).toBe("equal");
    // A model with no shared kernel: GradNorm on the last shared layer says to use the representation.
    const fnModel = mtl.hardSharing({
      inputSize: 2,
      trunk: { apply: (x: tf.Tensor2D) => tf.relu(x), variables: [], outputSize: 2 },
      tasks,
    });
    const t = new mtl.Trainer({ model: fnModel, tasks, weighting: W.gradNorm(), progress: false });
    const x = tf.tensor2d([[1, 2]]);
    const y = [tf.tensor2d([[1]]), tf.tensor2d([[2]])];
    await expect(t.trainStep(x, y)).rejects.toThrow(
      /weighting\.gradNorm: the model's shared variables \(none\) have no kernel; use option target: "representation"/,
    );
    tf.dispose([x, ...y]);
    model.dispose();
  });
});
