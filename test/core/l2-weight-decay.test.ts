/**
 * What `mtl.regularizers.l2(λ)` is, against PyTorch's `weight_decay` (docs/missing-labels.md,
 * section on regularisation; the README's regularizer paragraph): l2 adds λ‖θ‖² to the loss, so
 * 2λθ to the gradient before the optimizer. Hence, checked against the update rules written out
 * in float64:
 * - under SGD it is torch.optim.SGD(weight_decay = 2λ);
 * - under Adam it is torch.optim.Adam(weight_decay = 2λ) (PyTorch's Adam couples the decay into
 *   the gradient too), and not decoupled weight decay (torch.optim.AdamW, Loshchilov & Hutter
 *   2019), which no L2 penalty reproduces under Adam.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { setBackend } from "../helpers/backends";

const LAMBDA = 0.05;
const STEPS = 25;

function problem() {
  const rng = new mtl.Rng(8);
  const x = Array.from({ length: 24 }, () => [rng.normal(), rng.normal()]);
  const tasks = [mtl.tasks.regression("y")];
  const data = mtl.fromArrays({ x, targets: { y: x.map((r) => 2 * r[0] - r[1] + 0.3) }, tasks });
  return { tasks, data };
}

type Rule = { kind: "sgd"; lr: number; decay: number } | { kind: "adam" | "adamw"; lr: number; decay: number };

/** The parameters after STEPS full-batch steps of a PyTorch update rule, in float64, from the model's start. */
function reference(rule: Rule): number[][] {
  const { tasks, data } = problem();
  const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 3 });
  const vars = model.namedVariables().map(([, v]) => v);
  let params = vars.map((v) => Array.from(v.dataSync(), Number));
  const m = params.map((p) => p.map(() => 0));
  const s = params.map((p) => p.map(() => 0));
  const x = tf.tensor2d(data.features, [data.rows, 2]);
  const y = tasks[0].targetTensor(data.targets.y, data.rows);
  for (let t = 1; t <= STEPS; t++) {
    vars.forEach((v, i) => v.assign(tf.tensor(params[i], v.shape)));
    const grads = tf.tidy(() => {
      const { grads: g } = tf.variableGrads(() => tasks[0].loss(model.forward(x, true)[0], y), vars);
      return vars.map((v) => Array.from(g[v.name].dataSync(), Number));
    });
    params = params.map((p, i) =>
      p.map((theta, j) => {
        let g = grads[i][j];
        if (rule.kind === "sgd") return theta - rule.lr * (g + rule.decay * theta);
        if (rule.kind === "adam") g += rule.decay * theta;
        const decayed = rule.kind === "adamw" ? theta * (1 - rule.lr * rule.decay) : theta;
        m[i][j] = 0.9 * m[i][j] + 0.1 * g;
        s[i][j] = 0.999 * s[i][j] + 0.001 * g * g;
        const mHat = m[i][j] / (1 - 0.9 ** t);
        const sHat = s[i][j] / (1 - 0.999 ** t);
        return decayed - (rule.lr * mHat) / (Math.sqrt(sHat) + 1e-8);
      }),
    );
  }
  tf.dispose([x, y]);
  model.dispose();
  return params;
}

/** mtlkit's parameters after the same steps with l2(λ) and the given optimizer. */
async function withL2(optimizer: tf.Optimizer): Promise<number[][]> {
  const { tasks, data } = problem();
  const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 3 });
  const trainer = new mtl.Trainer({ model, tasks, optimizer, regularizers: [mtl.regularizers.l2(LAMBDA)], progress: false });
  const x = tf.tensor2d(data.features, [data.rows, 2]);
  const y = tasks[0].targetTensor(data.targets.y, data.rows);
  for (let t = 0; t < STEPS; t++) await trainer.trainStep(x, [y]);
  const out = model.namedVariables().map(([, v]) => Array.from(v.dataSync(), Number));
  tf.dispose([x, y]);
  model.dispose();
  return out;
}

const maxGap = (a: number[][], b: number[][]) => Math.max(...a.flatMap((p, i) => p.map((v, j) => Math.abs(v - b[i][j]))));

describe("l2(λ) and PyTorch's weight_decay", () => {
  beforeAll(async () => {
    await setBackend("cpu");
  });

  it("under SGD, l2(λ) is weight_decay = 2λ (and not λ)", async () => {
    const ours = await withL2(mtl.optimizers.sgd(0.05));
    expect(maxGap(ours, reference({ kind: "sgd", lr: 0.05, decay: 2 * LAMBDA }))).toBeLessThan(1e-5);
    expect(maxGap(ours, reference({ kind: "sgd", lr: 0.05, decay: LAMBDA }))).toBeGreaterThan(1e-3);
  });

  it("under Adam, l2(λ) is torch.optim.Adam(weight_decay = 2λ), and differs from decoupled decay (AdamW)", async () => {
    const ours = await withL2(mtl.optimizers.adam({ learningRate: 0.02 }));
    expect(maxGap(ours, reference({ kind: "adam", lr: 0.02, decay: 2 * LAMBDA }))).toBeLessThan(1e-5);
    for (const decay of [LAMBDA, 2 * LAMBDA]) expect(maxGap(ours, reference({ kind: "adamw", lr: 0.02, decay }))).toBeGreaterThan(1e-3);
  });
});
