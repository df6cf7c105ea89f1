/**
 * MMoE mixes its experts straight from z = [f_1(x), …, f_n(x)] by a batched product
 * (mixSideBySide), no longer by splitting z and stacking the experts. Same maths: outputs and the
 * gradients of every variable equal the old split-and-stack form to float32 rounding, seeded, for
 * gates over all experts and over some, on wasm and cpu; and no tensor is left behind.
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { MmoeModel } from "../../lib/architectures/mmoe";
import { mixExperts, splitColumns } from "../../lib/architectures/parts";
import { eachBackend } from "../helpers/backends";

/** MMoE's forward pass as it was: z split into experts, each gate's experts stacked and summed. */
function splitAndStack(model: MmoeModel, x: tf.Tensor2D): tf.Tensor2D[] {
  const z = model.encode(x, true);
  const f = splitColumns(
    z,
    model.experts.map(() => model.expertWidth),
  );
  return model.towers.map((tower, k) =>
    tower.apply(
      mixExperts(
        model.gates[k].apply(x),
        model.gateExperts[k].map((e) => f[e]),
      ),
      true,
    ),
  );
}

async function lossesAndGrads(model: MmoeModel, forward: () => tf.Tensor2D[]) {
  const variables = [...model.sharedVariables(), ...model.taskNames.flatMap((_, k) => model.taskVariables(k))].map(([, v]) => v);
  const [outputs, grads] = tf.tidy(() => {
    const out = forward();
    const { grads: g } = tf.variableGrads(
      () => tf.addN(forward().map((o, k) => tf.mul(tf.sum(tf.square(o)), k + 1))) as tf.Scalar,
      variables,
    );
    return [out, variables.map((v) => g[v.name])];
  });
  const read = async (ts: tf.Tensor[]) => (await Promise.all(ts.map((t) => t.data()))).map((v) => Array.from(v));
  const result = { outputs: await read(outputs), grads: await read(grads) };
  tf.dispose([...outputs, ...grads]);
  return result;
}

function maxRelativeError(a: number[], b: number[]): number {
  return a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i]) / Math.max(1, Math.abs(b[i]))), 0);
}

eachBackend(
  () => {
    describe("MMoE's mixture", () => {
      const configs: Array<[string, Partial<mtl.MmoeOptions>]> = [
        ["gates over all experts", {}],
        ["gates over some experts", { gates: { a: { experts: [2, 0] }, c: { experts: [1] } } }],
        ["one expert", { experts: 1 }],
      ];
      for (const [what, extra] of configs) {
        it(`equals the split-and-stack form, outputs and gradients (${what})`, async () => {
          const tasks = [mtl.tasks.regression("a"), mtl.tasks.classification("b", { classes: 3 }), mtl.tasks.regression("c")];
          const model = mtl.mmoe({ inputSize: 6, tasks, experts: 3, expertLayers: [5, 4], towers: [3], seed: 4, ...extra });
          const x = tf.randomNormal([9, 6], 0, 1, "float32", 5) as tf.Tensor2D;
          const before = tf.memory().numTensors;
          const now = await lossesAndGrads(model, () => model.forward(x, true));
          const old = await lossesAndGrads(model, () => splitAndStack(model, x));
          expect(tf.memory().numTensors).toBe(before);
          now.outputs.forEach((o, k) => expect(maxRelativeError(o, old.outputs[k])).toBeLessThan(1e-6));
          now.grads.forEach((g, i) => expect(maxRelativeError(g, old.grads[i])).toBeLessThan(1e-5));
          x.dispose();
          model.dispose();
        });
      }
    });
  },
  { webgpu: true },
);
