/**
 * API misuse is refused up front with an MtlError naming the culprit (issue 19, "Inputs"): one
 * row per case of the outside probe, each run on wasm and cpu (and, where the native addon is
 * built, with its kernels and fused step on, the path that used to train silently on a bad head).
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { eachBackend } from "../helpers/backends";

const nativeAvailable = loadNative().status.available;

function tasks3() {
  return [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];
}

function data(rows: number, width = 5, tasks = tasks3(), classes = 3) {
  const rng = new mtl.Rng(7);
  const x = Array.from({ length: rows }, () => Array.from({ length: width }, () => rng.normal()));
  return mtl.fromArrays({ x, targets: { c: x.map((_, i) => i % classes), r: x.map((row) => row[0]) }, tasks });
}

function hard(tasks = tasks3(), inputSize = 5) {
  return mtl.hardSharing({ inputSize, trunk: [8], tasks, seed: 1 });
}

function trainer(model: mtl.MultiTaskModel = hard(), tasks = tasks3(), options: Partial<mtl.TrainerOptions> = {}) {
  return new mtl.Trainer({ model, tasks, batchSize: 8, epochs: 1, progress: false, ...options });
}

/** Runs `body` expecting an MtlError whose message matches every pattern; returns the error. */
async function refused(body: () => unknown, ...patterns: RegExp[]): Promise<mtl.MtlError> {
  let error: unknown;
  try {
    await body();
  } catch (e) {
    error = e;
  }
  expect(error, "expected an MtlError, got none").toBeInstanceOf(mtl.MtlError);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
  return error as mtl.MtlError;
}

type Case = [name: string, body: () => unknown, ...patterns: RegExp[]];

const buildCases: Case[] = [
  [
    "null in features names column and row",
    () =>
      mtl.fromArrays({
        x: [
          [1, 2],
          [3, null as never],
        ],
        targets: { r: [0, 1] },
      }),
    /feature 'x1' is null at row 1/,
  ],
  [
    "undefined in features names column and row",
    () => mtl.fromArrays({ x: [[1, undefined as never]], featureNames: ["a", "b"], targets: { r: [0] } }),
    /feature 'b' is undefined at row 0/,
  ],
  [
    "a string in features names column and row",
    () => mtl.fromArrays({ x: [["1", 2] as never], targets: { r: [0] } }),
    /feature 'x0' is "1" at row 0/,
  ],
  [
    "Trainer seed 'abc'",
    () => trainer(hard(), tasks3(), { seed: "abc" as never }),
    /Trainer/,
    /option 'seed' must be an integer, got "abc"/,
  ],
  ["Trainer seed NaN", () => trainer(hard(), tasks3(), { seed: NaN }), /option 'seed' must be an integer, got NaN/],
  ["Trainer seed 1.5 (would collide with 1)", () => trainer(hard(), tasks3(), { seed: 1.5 }), /option 'seed' must be an integer, got 1.5/],
  [
    "model seed 'abc'",
    () => mtl.hardSharing({ inputSize: 5, trunk: [4], tasks: tasks3(), seed: "abc" as never }),
    /seed' must be an integer, got "abc"/,
  ],
  ["split seed NaN", () => mtl.split(data(10), { seed: NaN }), /split/, /option 'seed'/],
  ["sampler seed 'x'", () => mtl.data.proportional({ a: 1, b: 2 }, { seed: "x" as never }), /proportional/, /option 'seed'/],
  ["Rng seed NaN", () => new mtl.Rng(NaN), /Rng/, /got NaN/],
  [
    "duplicate class names",
    () => mtl.tasks.classification("c", { classes: ["cat", "dog", "cat"] }),
    /classification\('c'\)/,
    /class "cat" twice \(positions 0 and 2\)/,
  ],
  ["duplicate multi-label names", () => mtl.tasks.multiLabel("m", { labels: ["a", "a"] }), /multiLabel\('m'\)/, /label "a" twice/],
  ["duplicate binary labels", () => mtl.tasks.binary("b", { labels: ["no", "no"] }), /binary\('b'\)/, /label "no" twice/],
  [
    "duplicate tag names",
    () => mtl.tasks.sequenceTagging("s", { classes: ["N", "V", "N"], length: 4 }),
    /sequenceTagging\('s'\)/,
    /tag "N" twice/,
  ],
  ["tasks not in the model's order", () => trainer(hard(), [...tasks3()].reverse()), /must be the model's tasks in its order \(c, r\)/],
  [
    "Trainer task with 5 classes on a 3-class head",
    () => trainer(hard(), [mtl.tasks.classification("c", { classes: 5 }), mtl.tasks.regression("r")]),
    /head for task 'c' outputs 3 units but classification\('c'\) needs 5 \(its class count\)/,
  ],
  [
    "regression width 2 on a 1-wide head",
    () => trainer(hard(), [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r", { outputs: 2 })]),
    /head for task 'r' outputs 1 units but regression\('r'\) needs 2/,
  ],
];

describe("misused inputs are refused with an MtlError naming the culprit", () => {
  afterAll(() => disableNativeKernels());

  eachBackend((backend) => {
    for (const native of nativeAvailable ? [false, true] : [false]) {
      describe(native ? "native kernels on" : "tfjs kernels", () => {
        const setPath = () => (native ? enableNativeKernels() : disableNativeKernels());

        it.each(buildCases)("%s", async (_name, body, ...patterns) => {
          setPath();
          await refused(body, ...patterns);
        });

        it("input width ≠ model inputSize: fit, evaluate, predict and mtl.evaluation.evaluate name both numbers", async () => {
          setPath();
          const t = trainer();
          const wide = data(8, 4);
          const msg = /has 4 features but the model takes 5 \(its inputSize\)/;
          await refused(() => t.fit(wide), /Trainer.fit/, /the training data/, msg);
          await refused(() => t.evaluate(wide), msg);
          await refused(() => t.predict(wide), msg);
          await refused(() => mtl.evaluation.evaluate(t.model, wide, t.tasks), msg);
          await refused(
            () => t.trainStep(tf.zeros([2, 4]) as tf.Tensor2D, [tf.tensor1d([0, 1], "int32"), tf.zeros([2, 1])]),
            /\[rows, 5\]/,
            /got \[2, 4\]/,
          );
          expect(t.step).toBe(0);
          t.model.dispose();
        });

        it("a 0-row validation set is refused before any training step", async () => {
          setPath();
          const t = trainer();
          const empty = mtl.split(data(10), { train: 0.9, validation: 0, seed: 1 }).validation;
          expect(empty.rows).toBe(0);
          await refused(
            () => t.fit(data(40), { validation: empty, epochs: 2 }),
            /the validation set \(option 'validation'\) is empty \(0 rows\)/,
          );
          expect(t.step).toBe(0);
          expect(t.history.steps).toHaveLength(0);
          t.model.dispose();
        });

        it("a disposed model: training, evaluating, predicting and stepping say 'the model was disposed'", async () => {
          setPath();
          const t = trainer();
          const d = data(16);
          t.model.dispose();
          const msg = /the model was disposed/;
          await refused(() => t.fit(d), msg);
          await refused(() => t.evaluate(d), msg);
          await refused(() => t.predict(d), msg);
          await refused(() => mtl.evaluation.evaluate(t.model, d, t.tasks), msg);
          await refused(() => t.trainStep(tf.zeros([2, 5]) as tf.Tensor2D, [tf.tensor1d([0, 1], "int32"), tf.zeros([2, 1])]), msg);
          await refused(() => trainer(t.model), msg);
        });

        it("a second concurrent fit is refused; the first runs its 12 steps in order", async () => {
          setPath();
          const t = trainer(hard(), tasks3(), { epochs: 4, seed: 3 });
          const d = data(24);
          const first = t.fit(d);
          await refused(() => t.fit(d), /Trainer.fit/, /already running a fit/);
          const history = await first;
          expect(history.steps.map((s) => s.step)).toEqual(Array.from({ length: 12 }, (_, i) => i));
          expect(t.step).toBe(12);
          // The guard is released: a later fit runs.
          await t.fit(d, { epochs: 1 });
          expect(t.step).toBe(15);
          t.model.dispose();
        });

        it(`every architecture refuses a head narrower than its task (${backend})`, async () => {
          setPath();
          const built = tasks3();
          const wider = [mtl.tasks.classification("c", { classes: 5 }), mtl.tasks.regression("r")];
          const models = [
            hard(built),
            mtl.softSharing({ inputSize: 5, tasks: built, towers: [4], seed: 1 }),
            mtl.crossStitch({ inputSize: 5, tasks: built, towers: [4], seed: 2 }),
            mtl.mmoe({ inputSize: 5, tasks: built, experts: 2, expertLayers: [4], seed: 3 }),
            mtl.ple({ inputSize: 5, tasks: built, levels: 2, sharedExperts: 1, taskExperts: 1, expertLayers: [4], seed: 5 }),
          ];
          const wideData = data(10, 5, wider, 5);
          for (const model of models) {
            const msg = /head for task 'c' outputs 3 units but classification\('c'\) needs 5/;
            await refused(() => trainer(model, wider), msg);
            await refused(() => mtl.evaluation.evaluate(model, wideData, wider), msg);
            await refused(() => new mtl.Trainer({ model, tasks: wider, sampler: mtl.data.roundRobin({ c: 10, r: 10 }) }), msg);
            model.dispose();
          }
        });

        it("one dataset per task with a sampler: input width, seed, 0-row validation, disposed model and concurrent fit", async () => {
          setPath();
          const tasks = tasks3();
          const model = hard(tasks);
          const d = data(16, 5, tasks);
          const datasets = { c: d, r: d };
          const options = { model, tasks, sampler: mtl.data.roundRobin({ c: 16, r: 16 }), batchSize: 4, progress: false };
          await refused(
            () => new mtl.Trainer(options).fit({ c: data(8, 4), r: d }),
            /the dataset of task 'c' has 4 features but the model takes 5/,
          );
          await refused(() => new mtl.Trainer({ ...options, seed: "abc" as never }), /Trainer/, /option 'seed'/);
          const m = new mtl.Trainer(options);
          const empty = mtl.split(d, { train: 0.9, validation: 0 }).validation;
          await refused(() => m.fit(datasets, { steps: 2, validation: { c: empty } }), /the validation dataset of task 'c' is empty/);
          expect(m.step).toBe(0);
          const first = m.fit(datasets, { steps: 6 });
          await refused(() => m.fit(datasets, { steps: 1 }), /already running a fit/);
          await first;
          expect(m.step).toBe(6);
          // Adam keys its moments by position: every variable keeps its own pair although each step
          // trains one head (iterations + m and v per variable).
          expect(await m.optimizer.getWeights()).toHaveLength(1 + 2 * model.namedVariables().length);
          model.dispose();
          await refused(() => m.fit(datasets, { steps: 1 }), /the model was disposed/);
          await refused(() => m.evaluate({ c: d }), /the model was disposed/);
        });

        it("validation leaves no tensor behind", () => {
          setPath();
          const model = hard();
          const before = tf.memory().numTensors;
          for (let i = 0; i < 3; i++) {
            trainer(model).optimizer.dispose();
            mtl.evaluation.evaluate(model, data(4), tasks3());
          }
          expect(tf.memory().numTensors).toBe(before);
          model.dispose();
        });
      });
    }
  });
});
