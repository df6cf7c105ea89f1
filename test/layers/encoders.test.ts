import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { hardSharing } from "../../lib/architectures/hardSharing";
import { fromArrays } from "../../lib/data/dataset";
import { cnnEncoder } from "../../lib/layers/cnnEncoder";
import { maskedMaxOverTime, maskedMeanOverTime } from "../../lib/layers/pooling";
import { positionwiseHead } from "../../lib/layers/positionwise";
import { textEncoder } from "../../lib/layers/textEncoder";
import { Rng } from "../../lib/random";
import { classification } from "../../lib/tasks/classification";
import { sequenceTagging } from "../../lib/tasks/sequenceTagging";
import { Trainer } from "../../lib/train/trainer";
import { eachBackend, setBackend } from "../helpers/backends";

/** Gradients of a scalar function of a freshly built block's variables, on one backend. */
async function blockGradients(
  backend: "wasm" | "cpu",
  build: () => { apply: (x: tf.Tensor2D) => tf.Tensor2D; variables: tf.Variable[]; dispose(): void },
  x: number[][],
): Promise<number[][]> {
  await setBackend(backend);
  const block = build();
  const out = tf.tidy(() => {
    const input = tf.tensor2d(x);
    const { grads } = tf.variableGrads(() => {
      const y = block.apply(input);
      const w = tf.linspace(-1, 1, y.shape[1]!);
      return tf.sum(tf.mul(tf.square(y), w)) as tf.Scalar;
    }, block.variables);
    return block.variables.map((v) => Array.from(grads[v.name].dataSync()));
  });
  block.dispose();
  return out;
}

function expectClose(a: number[][], b: number[][], tol = 1e-4): void {
  a.forEach((arr, i) => {
    const scale = Math.max(1e-3, ...b[i].map(Math.abs));
    arr.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThanOrEqual(tol * scale));
  });
}

describe("encoders: every variable's gradient on wasm equals cpu's", () => {
  it("cnnEncoder (conv, pool, dense)", async () => {
    const rng = new Rng(1);
    const x = Array.from({ length: 3 }, () => Array.from({ length: 12 * 10 * 2 }, () => rng.uniform()));
    const build = () => cnnEncoder({ height: 12, width: 10, channels: 2, filters: [4, 6], dense: [5], seed: 3 });
    const [w, c] = [await blockGradients("wasm", build, x), await blockGradients("cpu", build, x)];
    expect(w.length).toBe(6);
    expectClose(w, c);
    expect(c.every((g) => g.some((v) => v !== 0))).toBe(true);
  });

  it.each([false, true])("textEncoder (embedding, conv1d, masked max) causal=%s", async (causal) => {
    const x = [
      [5, 3, 3, 9, 0, 0],
      [1, 2, 0, 0, 0, 0],
      [7, 7, 7, 7, 7, 7],
    ];
    const build = () =>
      textEncoder({ sequenceLength: 6, vocabularySize: 10, embeddingSize: 4, channels: [5, 3], output: "both", causal, seed: 2 });
    const [w, c] = [await blockGradients("wasm", build, x), await blockGradients("cpu", build, x)];
    expectClose(w, c);
    // Tokens 4, 6 and 8 never occur: their embedding rows get no gradient.
    for (const t of [4, 6, 8]) expect(w[0].slice(t * 4, t * 4 + 4)).toEqual([0, 0, 0, 0]);
  });
});

describe("text encoder semantics", () => {
  it("padding does not change a sequence's vectors, and causal outputs never see later tokens", async () => {
    await setBackend("cpu");
    const enc = textEncoder({
      sequenceLength: 5,
      vocabularySize: 12,
      embeddingSize: 3,
      channels: [4],
      output: "tokens",
      causal: true,
      seed: 1,
    });
    const [a, b] = tf.tidy(() => {
      const y = enc.apply(
        tf.tensor2d([
          [3, 4, 5, 6, 0],
          [3, 4, 5, 11, 2],
        ]),
      );
      return [Array.from(y.slice([0, 0], [1, 20]).dataSync()), Array.from(y.slice([1, 0], [1, 20]).dataSync())];
    });
    // Same first three tokens: the first three token vectors agree; the padded 5th is zero.
    expect(b.slice(0, 12)).toEqual(a.slice(0, 12));
    expect(a.slice(16, 20)).toEqual([0, 0, 0, 0]);
    enc.dispose();
  });

  it("masked pooling ignores padding", () => {
    const h = tf.tensor3d([
      [
        [1, -5],
        [9, -7],
        [100, 100],
      ],
    ]);
    const m = tf.tensor2d([[1, 1, 0]]);
    expect(Array.from(maskedMaxOverTime(h, m).dataSync())).toEqual([9, -5]);
    expect(Array.from(maskedMeanOverTime(h, m).dataSync())).toEqual([5, -6]);
    expect(Array.from(maskedMaxOverTime(h, tf.tensor2d([[0, 0, 0]])).dataSync(), (v) => Math.abs(v))).toEqual([0, 0]);
  });
});

describe("sequenceTagging task", () => {
  it("the loss is cross-entropy averaged over real tokens only (worked by hand)", () => {
    const task = sequenceTagging("pos", { classes: 2, length: 3 });
    // Logits per token: [0, 0] → log 2 each; padding's logits must not matter.
    const out = tf.tensor2d([[0, 0, 0, Math.log(3), 50, -50]]);
    const y = task.targetTensor({ values: Int32Array.of(0, 1, -1), width: 3 }, 1);
    const loss = task.loss(out, y).dataSync()[0];
    // token 0: −log ½; token 1 (target 1, logits [0, log 3]): −log(3/4).
    expect(loss).toBeCloseTo((Math.log(2) + Math.log(4 / 3)) / 2, 5);
    const m = task.metrics(Int32Array.of(0, 0, 1), Int32Array.of(0, 1, -1));
    expect(m.accuracy).toBe(0.5);
    expect(m.tokens).toBe(2);
    expect(() => task.validateTargets({ values: Int32Array.of(0, 2, -1), width: 3 })).toThrow(/tag 2 at row 0, token 1/);
    expect(() => sequenceTagging("pos", { classes: 3, length: 2, ignoreIndex: 1 })).toThrow(/ignoreIndex/);
  });
});

eachBackend(
  (backend) => {
    describe("hard sharing over mtlkit encoders trains", () => {
      it(`a CNN trunk learns two image tasks on ${backend}`, async () => {
        // Task a: is the bright blob in the left half; task b: in the top half.
        const rng = new Rng(7);
        const n = 128;
        const x = new Float32Array(n * 64);
        const a = new Int32Array(n);
        const b = new Int32Array(n);
        for (let r = 0; r < n; r++) {
          const i = rng.int(7);
          const j = rng.int(7);
          for (const [di, dj] of [
            [0, 0],
            [0, 1],
            [1, 0],
            [1, 1],
          ])
            x[r * 64 + (i + di) * 8 + j + dj] = 1;
          a[r] = j < 3 ? 1 : 0;
          b[r] = i < 3 ? 1 : 0;
        }
        const tasks = [classification("a", { classes: 2 }), classification("b", { classes: 2 })];
        const data = fromArrays({ x, featureCount: 64, targets: { a, b }, tasks });
        const model = hardSharing({
          inputSize: 64,
          trunk: cnnEncoder({ height: 8, width: 8, filters: [8], dense: [16], seed: 1 }),
          tasks,
          seed: 1,
        });
        const trainer = new Trainer({ model, tasks, epochs: 15, batchSize: 32, progress: false, seed: 1 });
        const history = await trainer.fit(data);
        const first = history.epochs[0].trainLoss;
        const last = history.epochs[history.epochs.length - 1].trainLoss;
        expect(last.a).toBeLessThan(0.6 * first.a);
        expect(last.b).toBeLessThan(0.6 * first.b);
        const before = tf.memory().numTensors;
        await trainer.fit(data, { epochs: 1 });
        expect(tf.memory().numTensors).toBe(before);
        model.dispose();
      });

      it(`a text trunk with a pooled head and a per-token tagging head on ${backend}`, async () => {
        // Tag = whether the token id is even; class = whether the sequence contains token 1.
        const rng = new Rng(3);
        const n = 96,
          T = 6,
          V = 10;
        const x: number[][] = [];
        const tags = new Int32Array(n * T);
        const has1 = new Int32Array(n);
        for (let r = 0; r < n; r++) {
          const len = 3 + rng.int(4);
          const row = Array.from({ length: T }, (_, t) => (t < len ? 1 + rng.int(V - 1) : 0));
          x.push(row);
          row.forEach((tok, t) => (tags[r * T + t] = tok === 0 ? -1 : tok % 2));
          has1[r] = row.includes(1) ? 1 : 0;
        }
        const tasks = [classification("has1", { classes: 2 }), sequenceTagging("parity", { classes: 2, length: T })];
        const data = fromArrays({
          x,
          targets: { has1, parity: Array.from({ length: n }, (_, r) => Array.from(tags.subarray(r * T, r * T + T))) },
          tasks,
        });
        const enc = textEncoder({ sequenceLength: T, vocabularySize: V, embeddingSize: 8, channels: [16], output: "both", seed: 2 });
        const model = hardSharing({
          inputSize: T,
          trunk: enc,
          tasks,
          heads: {
            has1: positionwiseHead({ width: 16, units: 2, name: "genre" }),
            parity: positionwiseHead({ width: 16, units: 2, positions: T, offset: 16, name: "tags" }),
          },
          seed: 2,
        });
        const trainer = new Trainer({ model, tasks, epochs: 25, batchSize: 32, progress: false, seed: 2, optimizer: tf.train.adam(0.01) });
        await trainer.fit(data);
        const ev = await trainer.evaluateAsync(data);
        expect(ev.parity.metrics.accuracy).toBeGreaterThan(0.95);
        expect(ev.has1.metrics.accuracy).toBeGreaterThan(0.85);
        model.dispose();
      });
    });
  },
  { webgpu: true },
);
