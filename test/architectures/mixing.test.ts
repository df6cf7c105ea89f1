import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { stitchActivations } from "../../lib/architectures/crossStitch";
import { eachBackend } from "../helpers/backends";
import { copyInto, maxDiffOf, twoRegressions } from "./helpers";

eachBackend(
  () => {
    describe("cross-stitch", () => {
      it("mixes activations as h̃_i = Σ_j α_ij h_j", async () => {
        const hA = tf.tensor2d([
          [1, 2],
          [3, 4],
        ]);
        const hB = tf.tensor2d([
          [10, 20],
          [30, 40],
        ]);
        const [a, b] = stitchActivations(
          tf.tensor2d([
            [0.9, 0.1],
            [0.2, 0.8],
          ]),
          [hA, hB],
        );
        expect(Array.from(await a.data())).toEqual([1.9, 3.8, 5.7, 7.6].map((v) => expect.closeTo(v, 4)));
        expect(Array.from(await b.data())).toEqual([8.2, 16.4, 24.6, 32.8].map((v) => expect.closeTo(v, 4)));
        tf.dispose([hA, hB, a, b]);
      });

      it("starts α at a on the diagonal and (1 − a)/(k − 1) off it; α = identity gives independent towers", async () => {
        const tasks = ["a", "b", "c"].map((n) => mtl.tasks.regression(n));
        const near = mtl.crossStitch({ inputSize: 4, tasks, towers: [6, 5], seed: 1 });
        const alphas = await near.alphasAsync();
        expect(alphas).toHaveLength(2);
        expect(alphas[0].map((r) => r.map((v) => +v.toFixed(5)))).toEqual([
          [0.9, 0.05, 0.05],
          [0.05, 0.9, 0.05],
          [0.05, 0.05, 0.9],
        ]);
        near.dispose();
        const eye = [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ];
        const model = mtl.crossStitch({ inputSize: 4, tasks, towers: [6, 5], heads: [3], alphaInit: eye, seed: 2 });
        const x = tf.randomNormal([7, 4], 0, 1, "float32", 3) as tf.Tensor2D;
        const out = model.forward(x, false);
        for (const [i, t] of tasks.entries()) {
          const single = mtl.hardSharing({ inputSize: 4, trunk: [6, 5], heads: [3], tasks: [t], seed: 9 });
          copyInto(
            [...model.layers.map((row) => row[i]).flatMap((d) => d.variables()), ...model.heads[i].namedVariables().map(([, v]) => v)],
            single.namedVariables().map(([, v]) => v),
          );
          const [y] = single.forward(x, false);
          expect(await maxDiffOf([out[i]], [y])).toBeLessThan(1e-5);
          y.dispose();
          single.dispose();
        }
        tf.dispose([x, ...out]);
        model.dispose();
      });

      it("learns α, readable after training; θ_s is the stitched towers and α", async () => {
        const { tasks, data } = twoRegressions(64, 2);
        const model = mtl.crossStitch({ inputSize: 4, tasks, towers: [8, 8, 4], stitch: [0, 1], seed: 3 });
        const before = await model.alphasAsync();
        await new mtl.Trainer({
          model,
          tasks,
          epochs: 4,
          batchSize: 16,
          progress: false,
          optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
        }).fit(data);
        const after = await model.alphasAsync();
        const [ta, tb] = [tf.tensor(after), tf.tensor(before)];
        expect(await maxDiffOf([ta], [tb])).toBeGreaterThan(0.01);
        tf.dispose([ta, tb]);
        const shared = model.sharedVariables().map(([n]) => n);
        expect(shared).toContain("stitch.1.alpha");
        expect(shared).toContain("tower.b.1.kernel");
        expect(shared).not.toContain("tower.b.2.kernel"); // after the last unit: task b's own
        expect(model.taskVariables(1).map(([n]) => n)).toEqual(["tower.b.2.kernel", "tower.b.2.bias", "head.b.0.kernel", "head.b.0.bias"]);
        model.dispose();
      });
    });

    describe("MMoE", () => {
      it("with one expert equals hard sharing (forward and training)", async () => {
        const { tasks, data } = twoRegressions(48, 3);
        const moe = mtl.mmoe({ inputSize: 4, tasks, experts: 1, expertLayers: [8, 6], towers: [4], seed: 4 });
        const hard = mtl.hardSharing({ inputSize: 4, trunk: [8, 6], heads: [4], tasks, seed: 11 });
        copyInto(
          moe.experts[0].namedVariables().map(([, v]) => v),
          hard.sharedVariables().map(([, v]) => v),
        );
        tasks.forEach((_, i) =>
          copyInto(
            moe.towers[i].namedVariables().map(([, v]) => v),
            hard.taskVariables(i).map(([, v]) => v),
          ),
        );
        const x = tf.randomNormal([5, 4], 0, 1, "float32", 1) as tf.Tensor2D;
        const a = moe.forward(x, false);
        const b = hard.forward(x, false);
        expect(await maxDiffOf(a, b)).toBeLessThan(1e-6);
        const opts = { epochs: 3, batchSize: 16, seed: 5, progress: false };
        await new mtl.Trainer({ model: moe, tasks, optimizer: mtl.optimizers.adam({ learningRate: 0.01 }), ...opts }).fit(data);
        await new mtl.Trainer({ model: hard, tasks, optimizer: mtl.optimizers.adam({ learningRate: 0.01 }), ...opts }).fit(data);
        const a2 = moe.forward(x, false);
        const b2 = hard.forward(x, false);
        expect(await maxDiffOf(a2, b2)).toBeLessThan(1e-5);
        expect(await maxDiffOf(a2, a)).toBeGreaterThan(1e-3); // it did train
        tf.dispose([x, ...a, ...b, ...a2, ...b2]);
        moe.dispose();
        hard.dispose();
      });

      it("gates are softmax weights over the experts they may mix", async () => {
        const tasks = ["a", "b"].map((n) => mtl.tasks.regression(n));
        const model = mtl.mmoe({ inputSize: 3, tasks, experts: 3, expertLayers: [4], gates: { b: { experts: [0, 2] } }, seed: 2 });
        const x = tf.randomNormal([6, 3], 0, 1, "float32", 2) as tf.Tensor2D;
        const [ga, gb] = await model.gateWeightsAsync(x);
        for (const row of [...ga, ...gb]) expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
        expect(gb.every((row) => row[1] === 0 && row[0] > 0 && row[2] > 0)).toBe(true);
        // decode by hand for task a: Σ_e g_e f_e through the tower.
        const z = model.encode(x, false);
        const f = tf.split(z, 3, 1);
        const mixed = tf.addN(f.map((fe, e) => tf.mul(tf.tensor2d(ga.map((r) => [r[e]])), fe))) as tf.Tensor2D;
        const expected = model.towers[0].apply(mixed, false);
        const [ya] = model.decode(z, x, false);
        expect(await maxDiffOf([ya], [expected])).toBeLessThan(1e-5);
        tf.dispose([x, z, ...f, mixed, expected, ya]);
        model.dispose();
      });

      it("gates have a bias by default, so a task can prefer its experts for every input; the paper's bias-free gate cannot", async () => {
        const tasks = ["a", "b"].map((n) => mtl.tasks.regression(n));
        const x = tf.randomNormal([8, 3], 0, 1, "float32", 5) as tf.Tensor2D;
        const xs = tf.concat([x, tf.neg(x)]) as tf.Tensor2D; // centred inputs: x and −x
        // Default: a bias of +4 on expert 1 for task a routes every input mostly to expert 1.
        const withBias = mtl.mmoe({ inputSize: 3, tasks, experts: 2, expertLayers: [4], seed: 2 });
        expect(withBias.gates[0].namedVariables().map(([n]) => n)).toEqual(["gate.a.kernel", "gate.a.bias"]);
        const dense = withBias.gates[0].dense;
        tf.tidy(() => {
          dense.bias!.assign(tf.tensor1d([0, 4]));
          dense.kernel.assign(tf.mul(dense.kernel, 0.1));
        });
        expect((await withBias.gateWeightsAsync(xs))[0].every((row) => row[1] > 0.9)).toBe(true);
        // gateBias: false (the paper's softmax(W x)): the gate's weight on an expert at x and at −x sum to
        // one for two experts (softmax of opposite logits), so no expert is preferred over centred inputs.
        const paper = mtl.mmoe({ inputSize: 3, tasks, experts: 2, expertLayers: [4], gateBias: false, seed: 2 });
        expect(paper.gates[0].namedVariables().map(([n]) => n)).toEqual(["gate.a.kernel"]);
        const g = (await paper.gateWeightsAsync(xs))[0];
        for (let i = 0; i < 8; i++) expect(g[i][1] + g[i + 8][1]).toBeCloseTo(1, 5);
        tf.dispose([x, xs]);
        withBias.dispose();
        paper.dispose();
      });
    });

    describe("CGC and PLE", () => {
      it("CGC's task output mixes its own and the shared experts with its gate, reading x", async () => {
        const tasks = ["a", "b"].map((n) => mtl.tasks.regression(n));
        const model = mtl.cgc({ inputSize: 3, tasks, sharedExperts: 2, taskExperts: { a: 1, b: 2 }, expertLayers: [4], seed: 3 });
        expect(model.architecture).toBe("cgc");
        const x = tf.randomNormal([5, 3], 0, 1, "float32", 4) as tf.Tensor2D;
        const z = model.encode(x, false);
        expect(z.shape).toEqual([5, 8]); // the two shared experts' outputs
        const level = model.levels[0];
        const own = level.task[1].map((e) => e.apply(x));
        const shared = level.shared.map((e) => e.apply(x));
        const g = level.taskGates[1].apply(x);
        expect(g.shape).toEqual([5, 4]);
        const gs = tf.split(g, 4, 1);
        const mixed = tf.addN([...own, ...shared].map((f, e) => tf.mul(gs[e], f))) as tf.Tensor2D;
        const expected = model.towers[1].apply(mixed, false);
        const [, yb] = model.forward(x, false);
        expect(await maxDiffOf([yb], [expected])).toBeLessThan(1e-5);
        const weights = await model.gateWeightsAsync(x);
        expect(weights).toHaveLength(1);
        expect(weights[0][0][0]).toHaveLength(3);
        tf.dispose([x, z, ...own, ...shared, g, ...gs, mixed, expected, yb]);
        model.dispose();
      });

      it("PLE's representation carries each task's last-but-one output and the last shared experts", async () => {
        const tasks = ["a", "b", "c"].map((n) => mtl.tasks.regression(n));
        const model = mtl.ple({ inputSize: 3, tasks, levels: 3, sharedExperts: 1, taskExperts: 2, expertLayers: [5, 4], seed: 5 });
        const x = tf.randomNormal([6, 3], 0, 1, "float32", 5) as tf.Tensor2D;
        const z = model.encode(x, false);
        expect(z.shape).toEqual([6, 4 * (3 + 1)]);
        const names = model.sharedVariables().map(([n]) => n);
        expect(names).toContain("level0.gate.a.kernel"); // feeds task a's level-1 experts, which feed the shared gate
        expect(names).not.toContain("level1.gate.a.kernel"); // only task a's last level reads it
        expect(model.taskVariables(0).map(([n]) => n)[0]).toBe("level1.gate.a.kernel");
        tf.dispose([x, z]);
        model.dispose();
      });
    });

    describe("shared and task parameters", () => {
      // θ_i: only task i's loss reaches it. θ_s: reached by at least two tasks (soft sharing: by the regulariser).
      const build = (tasks: mtl.Task[]): mtl.MultiTaskModel[] => [
        mtl.mmoe({ inputSize: 4, tasks, experts: 3, expertLayers: [5], towers: [3], seed: 1 }),
        mtl.cgc({ inputSize: 4, tasks, sharedExperts: 2, taskExperts: 1, expertLayers: [5], seed: 2 }),
        mtl.ple({ inputSize: 4, tasks, levels: 3, sharedExperts: 1, taskExperts: 1, expertLayers: [5], seed: 3 }),
        mtl.crossStitch({ inputSize: 4, tasks, towers: [5, 4, 3], stitch: [0, 1], seed: 4 }),
        mtl.softSharing({ inputSize: 4, tasks, towers: [5, 4], tie: [0], seed: 5 }),
      ];
      it("every variable is listed once; task variables get only their task's gradient; shared ones several tasks'", async () => {
        const { tasks, data } = twoRegressions(16, 8);
        const three = [...tasks, mtl.tasks.regression("c")];
        const x = tf.tensor2d(data.features, [16, 4]);
        const y = tf.randomNormal([16, 1], 0, 1, "float32", 1);
        for (const model of build(three)) {
          const all = model.namedVariables();
          expect(new Set(all.map(([n]) => n)).size).toBe(all.length);
          expect(new Set(all.map(([, v]) => v)).size).toBe(all.length);
          const reached: Array<Set<string>> = [];
          for (const [i, t] of three.entries()) {
            const { value, grads } = tf.variableGrads(
              () => t.loss(model.forward(x, true)[i], y),
              all.map(([, v]) => v),
            );
            const nonzero = new Set<string>();
            for (const [n, v] of all) {
              if (!grads[v.name]) continue;
              const any = tf.any(tf.notEqual(grads[v.name], 0));
              if ((await any.data())[0] === 1) nonzero.add(n);
              any.dispose();
            }
            tf.dispose([value, ...Object.values(grads)]);
            reached.push(nonzero);
          }
          three.forEach((_, i) =>
            model
              .taskVariables(i)
              .forEach(([n]) =>
                reached.forEach((set, j) => j !== i && expect(set.has(n), `${model.architecture}: ${n} reached by task ${j}`).toBe(false)),
              ),
          );
          if (model.architecture !== "softSharing") {
            for (const [n] of model.sharedVariables())
              expect(reached.filter((s) => s.has(n)).length, `${model.architecture}: ${n}`).toBeGreaterThanOrEqual(2);
          } else {
            expect(model.sharedVariables().map(([n]) => n)).toEqual([
              "center.0.kernel",
              "center.0.bias",
              "tower.a.0.kernel",
              "tower.a.0.bias",
              "tower.b.0.kernel",
              "tower.b.0.bias",
              "tower.c.0.kernel",
              "tower.c.0.bias",
            ]);
          }
          model.dispose();
        }
        tf.dispose([x, y]);
      });
    });
  },
  { webgpu: true },
);

describe("architectures: bad input", () => {
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
  it("MMoE refuses an expert count < 1, a gate for a task that does not exist, bad gate lists", async () => {
    expect(() => mtl.mmoe({ inputSize: 3, tasks, experts: 0, expertLayers: [4] })).toThrow(
      /option 'experts' \(the number of experts\) must be an integer ≥ 1, got 0/,
    );
    expect(() => mtl.mmoe({ inputSize: 3, tasks, experts: 1.5, expertLayers: [4] })).toThrow(/'experts'/);
    expect(() => mtl.mmoe({ inputSize: 3, tasks, experts: 2, expertLayers: [4], gates: { c: { experts: [0] } } })).toThrow(
      /option 'gates' names task 'c', which is not one of the tasks \(a, b\)/,
    );
    expect(() => mtl.mmoe({ inputSize: 3, tasks, experts: 2, expertLayers: [4], gates: { a: { experts: [2] } } })).toThrow(
      /gate of task 'a' must list distinct expert indices in 0..1/,
    );
    expect(() =>
      mtl.mmoe({ inputSize: 3, tasks, experts: 2, expertLayers: [4], gates: { a: { experts: [0] }, b: { experts: [0] } } }),
    ).toThrow(/expert 1 is mixed by no task's gate/);
    expect(() => mtl.mmoe({ inputSize: 3, tasks, experts: 2, expertLayers: [] })).toThrow(/'expertLayers'/);
    expect(() => mtl.mmoe({ inputSize: 3, tasks, experts: 2, expertLayers: [4], gate: {} } as never)).toThrow(/unknown option 'gate'/);
  });
  it("CGC/PLE refuse expert counts < 1, task experts for unknown tasks, levels", async () => {
    expect(() => mtl.cgc({ inputSize: 3, tasks, sharedExperts: 0, taskExperts: 1, expertLayers: [4] })).toThrow(/'sharedExperts'.*got 0/);
    expect(() => mtl.cgc({ inputSize: 3, tasks, sharedExperts: 1, taskExperts: { a: 1, b: 0 }, expertLayers: [4] })).toThrow(
      /'taskExperts' for task 'b' must be an integer ≥ 1/,
    );
    expect(() => mtl.ple({ inputSize: 3, tasks, sharedExperts: 1, taskExperts: { a: 1, b: 1, z: 1 }, expertLayers: [4] })).toThrow(
      /names task 'z'/,
    );
    expect(() => mtl.cgc({ inputSize: 3, tasks, levels: 2, sharedExperts: 1, taskExperts: 1, expertLayers: [4] })).toThrow(/use mtl.ple/);
    expect(() => mtl.ple({ inputSize: 3, tasks, levels: 0, sharedExperts: 1, taskExperts: 1, expertLayers: [4] })).toThrow(/'levels'/);
  });
  it("cross-stitch refuses α of the wrong size and bad stitch layers", async () => {
    expect(() => mtl.crossStitch({ inputSize: 3, tasks, towers: [4], alphaInit: [[1, 0, 0]] })).toThrow(/must be 2 × 2/);
    expect(() => mtl.crossStitch({ inputSize: 3, tasks, towers: [4], stitch: [1] })).toThrow(/'stitch'/);
    expect(() => mtl.crossStitch({ inputSize: 3, tasks: [], towers: [4] })).toThrow(/at least one task/);
  });
});
