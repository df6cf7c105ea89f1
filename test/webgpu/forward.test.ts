/**
 * Forward passes and gradients of every architecture and encoder, on each backend under test
 * (webgpu included where an adapter is here), read with await and compared with the same model on
 * cpu: the layer code has no synchronous read, so it runs on every backend.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { Rng } from "../../lib/random";
import { eachBackend, setBackend } from "../helpers/backends";

const tasks = () => [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];

const MODELS: Array<{ name: string; inputSize: number; tokens?: number; build(): mtl.MultiTaskModel }> = [
  { name: "hardSharing", inputSize: 12, build: () => mtl.hardSharing({ inputSize: 12, trunk: [16, 8], tasks: tasks(), seed: 1 }) },
  { name: "softSharing", inputSize: 12, build: () => mtl.softSharing({ inputSize: 12, towers: [8], tasks: tasks(), seed: 2 }) },
  { name: "crossStitch", inputSize: 12, build: () => mtl.crossStitch({ inputSize: 12, towers: [8, 6], tasks: tasks(), seed: 3 }) },
  {
    name: "mmoe",
    inputSize: 12,
    build: () => mtl.mmoe({ inputSize: 12, tasks: tasks(), experts: 3, expertLayers: [8], towers: [4], seed: 4 }),
  },
  {
    name: "cgc",
    inputSize: 12,
    build: () => mtl.cgc({ inputSize: 12, tasks: tasks(), sharedExperts: 1, taskExperts: 1, expertLayers: [8], seed: 5 }),
  },
  {
    name: "ple",
    inputSize: 12,
    build: () => mtl.ple({ inputSize: 12, tasks: tasks(), levels: 2, sharedExperts: 1, taskExperts: 1, expertLayers: [8], seed: 6 }),
  },
  {
    name: "hardSharing over cnnEncoder",
    inputSize: 36,
    build: () =>
      mtl.hardSharing({
        inputSize: 36,
        trunk: mtl.layers.cnnEncoder({ height: 6, width: 6, filters: [4], dense: [8], seed: 7 }),
        tasks: tasks(),
        seed: 7,
      }),
  },
  {
    name: "hardSharing over textEncoder",
    inputSize: 6,
    tokens: 10,
    build: () =>
      mtl.hardSharing({
        inputSize: 6,
        trunk: mtl.layers.textEncoder({ sequenceLength: 6, vocabularySize: 10, embeddingSize: 4, channels: [8], seed: 8 }),
        tasks: tasks(),
        seed: 8,
      }),
  },
];

function input(m: (typeof MODELS)[number]): tf.Tensor2D {
  const rng = new Rng(11);
  const values = Float32Array.from({ length: 5 * m.inputSize }, () => (m.tokens ? rng.int(m.tokens) : rng.normal()));
  return tf.tensor2d(values, [5, m.inputSize]);
}

/**
 * Outputs of the forward pass and the gradient of Σ outputs² w.r.t. every parameter (zero for one
 * the outputs do not use, e.g. soft sharing's learned centre), read with await.
 */
async function outputsAndGradients(m: (typeof MODELS)[number]): Promise<number[]> {
  const model = m.build();
  const x = input(m);
  const before = tf.memory().numTensors;
  const vars = model.namedVariables().map(([, v]) => v);
  const { value, grads } = tf.variableGrads(() => tf.addN(model.forward(x, false).map((o) => tf.sum(tf.square(o)))) as tf.Scalar, vars);
  const flat = tf.tidy(() =>
    tf.concat([
      ...model.forward(x, false).map((o) => o.reshape([-1])),
      ...vars.map((v) => (grads[v.name] ?? tf.zerosLike(v)).reshape([-1])),
    ]),
  );
  const out = Array.from(await flat.data());
  tf.dispose([value, flat, ...Object.values(grads)]);
  expect(tf.memory().numTensors).toBe(before);
  x.dispose();
  model.dispose();
  return out;
}

const reference = new Map<string, number[]>();
beforeAll(async () => {
  await setBackend("cpu");
  for (const m of MODELS) reference.set(m.name, await outputsAndGradients(m));
});

eachBackend(
  (backend) => {
    describe("forward and gradients agree with cpu", () => {
      it.each(MODELS.map((m) => ({ ...m, label: m.name })))(`$label on ${backend}`, async (m) => {
        expect(tf.getBackend()).toBe(backend);
        const got = await outputsAndGradients(m);
        const want = reference.get(m.name)!;
        expect(got).toHaveLength(want.length);
        const scale = Math.max(...want.map(Math.abs));
        const worst = Math.max(...got.map((v, i) => Math.abs(v - want[i])));
        expect(worst / scale).toBeLessThan(1e-4);
      });
    });
  },
  { webgpu: true },
);
