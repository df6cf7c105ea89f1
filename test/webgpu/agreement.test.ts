/**
 * WebGPU against cpu: 20 training steps of the hard-sharing MLP, the CNN encoder, MMoE and a PCGrad
 * step from the same initial weights on the same batches; the per-task losses agree to 1e-4
 * relative at every step, and the tensor count is flat across steps.
 *
 * The steps are written here with tfjs (tf.variableGrads, an optimizer) and the library's models,
 * losses and PCGrad weights, reading only with await: the code path WebGPU supports in Node. The
 * same problems through `mtl.Trainer` follow; they need the Trainer's asynchronous step.
 *
 * Runs on webgpu wherever Dawn offers an adapter (Mesa's lavapipe in CI: .ci/run installs it), and
 * fails, never skips, when MTLKIT_REQUIRE_WEBGPU=1 and there is none.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { Rng } from "../../lib/random";
import { backendsToTest, setBackend } from "../helpers/backends";

const STEPS = 20;
const TOLERANCE = 1e-4;

interface Problem {
  name: string;
  build(): { model: mtl.MultiTaskModel; tasks: mtl.Task[] };
  inputSize: number;
  /** Per-task gradients of the shared parameters combined by PCGrad (else: the sum of the losses). */
  pcgrad?: boolean;
}

const twoTasks = () => [mtl.tasks.classification("digit", { classes: 4 }), mtl.tasks.regression("value")];

const PROBLEMS: Problem[] = [
  {
    name: "hard-sharing MLP",
    inputSize: 16,
    build: () => {
      const tasks = twoTasks();
      return { model: mtl.hardSharing({ inputSize: 16, trunk: [32, 32], tasks, seed: 1 }), tasks };
    },
  },
  {
    name: "CNN encoder",
    inputSize: 64,
    build: () => {
      const tasks = twoTasks();
      const trunk = mtl.layers.cnnEncoder({ height: 8, width: 8, channels: 1, filters: [4, 8], dense: [16], seed: 2 });
      return { model: mtl.hardSharing({ inputSize: 64, trunk, tasks, seed: 2 }), tasks };
    },
  },
  {
    name: "MMoE",
    inputSize: 16,
    build: () => {
      const tasks = twoTasks();
      return { model: mtl.mmoe({ inputSize: 16, tasks, experts: 3, expertLayers: [16], towers: [8], seed: 3 }), tasks };
    },
  },
  {
    name: "PCGrad (param level) on the hard-sharing MLP",
    inputSize: 16,
    pcgrad: true,
    build: () => {
      // Three tasks, so that some gradients conflict and PCGrad projects.
      const tasks = [...twoTasks(), mtl.tasks.regression("other")];
      return { model: mtl.hardSharing({ inputSize: 16, trunk: [32], tasks, seed: 4 }), tasks };
    },
  },
];

/** Fixed batches (plain arrays, so that each backend makes its own tensors from them). */
function batches(problem: Problem, tasks: mtl.Task[], count: number, rows = 16) {
  const rng = new Rng(7);
  return Array.from({ length: count }, () => ({
    x: Float32Array.from({ length: rows * problem.inputSize }, () => rng.uniform()),
    targets: tasks.map((t) =>
      t.kind === "classification"
        ? Int32Array.from({ length: rows }, () => rng.int(t.outputUnits))
        : Float32Array.from({ length: rows }, () => rng.normal()),
    ),
    rows,
  }));
}

/** The per-task losses of `STEPS` steps on the current backend, read with await; tensors leaked per step. */
async function train(problem: Problem): Promise<{ losses: number[][]; leaked: number }> {
  const { model, tasks } = problem.build();
  const optimizer = tf.train.sgd(0.05);
  const shared = model.sharedVariables().map(([, v]) => v);
  const own = tasks.map((_, i) => model.taskVariables(i).map(([, v]) => v));
  const aggregator = mtl.aggregators.pcgrad({ seed: 5 });
  const losses: number[][] = [];
  let before = 0;
  for (const [step, b] of batches(problem, tasks, STEPS).entries()) {
    if (step === 1) before = tf.memory().numTensors; // after the first step's one-off allocations
    const x = tf.tensor2d(b.x, [b.rows, problem.inputSize]);
    const targets = tasks.map((t, i) => t.targetTensor({ values: b.targets[i], width: 1 }, b.rows));
    const taskLoss = (i: number) => tasks[i].loss(model.forward(x, true)[i], targets[i]);
    if (!problem.pcgrad) {
      const { value, grads } = tf.variableGrads(
        () => tf.addN(tasks.map((_, i) => taskLoss(i))) as tf.Scalar,
        model.namedVariables().map(([, v]) => v),
      );
      optimizer.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
      const perTask = tf.tidy(() => tf.stack(tasks.map((_, i) => taskLoss(i))));
      losses.push(Array.from(await perTask.data()));
      perTask.dispose();
    } else {
      // Per-task gradients: row i of the Jacobian is ∂L_i/∂θ_s; PCGrad's weights come from the
      // Gramian read with await; the task-specific parameters follow their own loss.
      const perTask = tasks.map((_, i) => tf.variableGrads(() => taskLoss(i), [...shared, ...own[i]]));
      const jacobian = tf.tidy(() =>
        tf.stack(perTask.map((g) => tf.concat(shared.map((v) => g.grads[v.name].reshape([-1]))))),
      ) as tf.Tensor2D;
      const gramian = tf.tidy(() => tf.matMul(jacobian, jacobian, false, true));
      const weights = aggregator.weights((await gramian.array()) as number[][]);
      const update = tf.tidy(() => tf.matMul(tf.tensor2d([weights]), jacobian).reshape([-1]));
      const grads: Record<string, tf.Tensor> = {};
      let offset = 0;
      for (const v of shared) {
        const at = offset;
        grads[v.name] = tf.tidy(() => update.slice([at], [v.size]).reshape(v.shape));
        offset += v.size;
      }
      own.forEach((vars, i) => vars.forEach((v) => (grads[v.name] = perTask[i].grads[v.name])));
      optimizer.applyGradients(grads);
      losses.push(await Promise.all(perTask.map(async (g) => (await g.value.data())[0])));
      tf.dispose([jacobian, gramian, update, ...Object.values(grads), ...perTask.flatMap((g) => [g.value, ...Object.values(g.grads)])]);
    }
    tf.dispose([x, ...targets]);
  }
  const leaked = (tf.memory().numTensors - before) / (STEPS - 1);
  optimizer.dispose();
  model.dispose();
  return { losses, leaked };
}

function worstRelativeError(a: number[][], b: number[][]): number {
  let worst = 0;
  a.forEach((row, s) => row.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - b[s][i]) / Math.max(Math.abs(b[s][i]), 1e-6)))));
  return worst;
}

const others = backendsToTest({ webgpu: true }).filter((b) => b !== "cpu");

describe.each(PROBLEMS)("$name: 20 steps agree with cpu", (problem) => {
  let reference: number[][];
  beforeAll(async () => {
    await setBackend("cpu");
    const r = await train(problem);
    expect(r.leaked).toBe(0);
    reference = r.losses;
  });

  it.each(others)("on %s: per-task losses within 1e-4 relative, tensor count flat", async (backend) => {
    await setBackend(backend);
    const r = await train(problem);
    expect(tf.getBackend()).toBe(backend);
    expect(r.losses).toHaveLength(STEPS);
    expect(worstRelativeError(r.losses, reference)).toBeLessThan(TOLERANCE);
    // The losses moved: the steps were applied (and identically).
    expect(r.losses.at(-1)!.reduce((s, v) => s + v, 0)).not.toBe(r.losses[0].reduce((s, v) => s + v, 0));
    expect(r.leaked).toBe(0);
  });
});

describe("through mtl.Trainer (needs the asynchronous Trainer)", () => {
  async function fitLosses(problem: Problem): Promise<{ losses: number[][]; leaked: number }> {
    const { model, tasks } = problem.build();
    const rows = 16 * STEPS;
    const all = batches(problem, tasks, 1, rows)[0];
    const x = Array.from({ length: rows }, (_, r) => Array.from(all.x.subarray(r * problem.inputSize, (r + 1) * problem.inputSize)));
    const data = mtl.fromArrays({ x, targets: Object.fromEntries(tasks.map((t, i) => [t.name, Array.from(all.targets[i])])), tasks });
    const trainer = new mtl.Trainer({
      model,
      tasks,
      epochs: 1,
      batchSize: 16,
      seed: 1,
      progress: false,
      optimizer: mtl.optimizers.sgd(0.05),
      ...(problem.pcgrad ? { aggregator: mtl.aggregators.pcgrad({ seed: 5 }), level: "param" as const } : {}),
    });
    await trainer.fit(data, { epochs: 1 });
    const before = tf.memory().numTensors;
    const history = await trainer.fit(data, { epochs: 1 });
    const leaked = tf.memory().numTensors - before;
    model.dispose();
    // The history keeps every fit's steps: the second fit's are the last STEPS.
    return { losses: history.steps.slice(-STEPS).map((s) => [...s.losses]), leaked };
  }

  it.each(PROBLEMS.flatMap((p) => others.map((b) => ({ problem: p, backend: b, name: p.name }))))(
    "$name on $backend agrees with cpu",
    async ({ problem, backend }) => {
      await setBackend("cpu");
      const reference = await fitLosses(problem);
      await setBackend(backend);
      const r = await fitLosses(problem);
      expect(r.losses).toHaveLength(STEPS); // the second fit: one epoch of 20 batches
      expect(worstRelativeError(r.losses, reference.losses)).toBeLessThan(TOLERANCE);
      expect(r.leaked).toBe(0);
      expect(reference.leaked).toBe(0);
    },
  );
});

describe("the backends under test", () => {
  it("include webgpu when an adapter is here, and always under MTLKIT_REQUIRE_WEBGPU=1", () => {
    expect(others).toContain("wasm");
    if (process.env.MTLKIT_REQUIRE_WEBGPU === "1") expect(others).toContain("webgpu");
  });
});
