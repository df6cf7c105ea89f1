/**
 * Models with named inputs (issue 18 item 2): an encoder per input fused by concatenation, for
 * hard sharing, MMoE, CGC and PLE. What they compute, that "rep"-level balancing sees every path
 * from the encoders (the rep gradient equals the direct one), training with weightings,
 * aggregators and a task sampler, checkpoints, the fused native step declining, MtlErrors naming
 * the input before training, and no leaked tensors.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { fusedMlpStep } from "../../lib/train/steps/fusedMlp";
import { eachBackend, setBackend } from "../helpers/backends";

const ROWS = 96;
const VOCAB = 6;

/**
 * image [4×4×1]: a bright left or right half (task "side"); text [4] tokens: whether token 5
 * occurs (task "flag"); table [3]: a regression target y = t0 − t1 (task "y").
 */
function problem(rows = ROWS, seed = 1) {
  const rng = new mtl.Rng(seed);
  const image = new Float32Array(rows * 16);
  const text = new Int32Array(rows * 4);
  const table: number[][] = [];
  const side: number[] = [];
  const flag: number[] = [];
  const y: number[] = [];
  for (let r = 0; r < rows; r++) {
    const s = rng.int(2);
    side.push(s);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++) image[r * 16 + i * 4 + j] = j < 2 === (s === 0) ? 1 + 0.1 * rng.normal() : 0.1 * rng.normal();
    for (let t = 0; t < 4; t++) text[r * 4 + t] = 1 + rng.int(VOCAB - 1);
    flag.push(Array.from(text.subarray(r * 4, r * 4 + 4)).includes(5) ? 1 : 0);
    const row = [rng.normal(), rng.normal(), rng.normal()];
    table.push(row);
    y.push(row[0] - row[1]);
  }
  const tasks = [mtl.tasks.classification("side", { classes: 2 }), mtl.tasks.binary("flag"), mtl.tasks.regression("y")];
  const inputs: Record<string, mtl.data.InputArray> = {
    image: { values: image, shape: [4, 4, 1] },
    text: { values: text, shape: [4], kind: "tokens" },
    table,
  };
  const targets = { side, flag, y };
  const data = mtl.fromArrays({ inputs, targets, tasks });
  return { data, tasks, inputs, targets };
}

function encoders(seed = 0): Record<string, mtl.EncoderSpec> {
  return {
    image: mtl.layers.cnnEncoder({ height: 4, width: 4, filters: [4], dense: [6], seed }),
    text: mtl.layers.textEncoder({ sequenceLength: 4, vocabularySize: VOCAB, embeddingSize: 4, channels: [6], seed }),
    table: [5],
  };
}

type Built = mtl.NamedInputsModel<mtl.MultiTaskModel>;
const ARCHITECTURES: Array<{
  name: string;
  build: (data: mtl.MultiTaskData, tasks: mtl.Task[], seed?: number) => Built;
  carries: boolean;
}> = [
  {
    name: "hardSharing",
    carries: false,
    build: (d, tasks, seed = 1) => mtl.hardSharing({ inputs: d.inputs!, encoders: encoders(seed), trunk: [12], tasks, seed }),
  },
  {
    name: "mmoe",
    carries: true,
    build: (d, tasks, seed = 1) => mtl.mmoe({ inputs: d.inputs!, encoders: encoders(seed), experts: 2, expertLayers: [8], tasks, seed }),
  },
  {
    name: "cgc",
    carries: true,
    build: (d, tasks, seed = 1) =>
      mtl.cgc({ inputs: d.inputs!, encoders: encoders(seed), sharedExperts: 1, taskExperts: 1, expertLayers: [8], tasks, seed }),
  },
  {
    name: "ple",
    carries: false,
    build: (d, tasks, seed = 1) =>
      mtl.ple({ inputs: d.inputs!, encoders: encoders(seed), sharedExperts: 1, taskExperts: 1, expertLayers: [8], tasks, seed }),
  },
];

const xOf = (d: mtl.MultiTaskData) => tf.tensor2d(d.features, [d.rows, d.featureCount]);
const targetsOf = (d: mtl.MultiTaskData, tasks: mtl.Task[]) => tasks.map((t) => t.targetTensor(d.targets[t.name], d.rows));
const values = (ts: tf.Tensor[]) => ts.map((t) => Array.from(t.dataSync()));

eachBackend(() => {
  describe.each(ARCHITECTURES)("$name with named inputs", (arch) => {
    it("encodes each input with its encoder and feeds their concatenation u to the architecture", () => {
      const { data, tasks } = problem(10);
      const model = arch.build(data, tasks);
      expect(model.inputs).toEqual(data.inputs);
      expect(model.inputSize).toBe(16 + 4 + 3);
      expect(model.fusedSize).toBe(6 + 6 + 5);
      expect(model.inner.inputSize).toBe(model.fusedSize);
      expect(model.carriesFused).toBe(arch.carries);
      tf.tidy(() => {
        const x = xOf(data);
        const u = model.fuse(x, false);
        const byHand = tf.concat(
          [
            model.encoders[0].apply(tf.slice(x, [0, 0], [-1, 16]) as tf.Tensor2D, false),
            model.encoders[1].apply(tf.slice(x, [0, 16], [-1, 4]) as tf.Tensor2D, false),
            model.encoders[2].apply(tf.slice(x, [0, 20], [-1, 3]) as tf.Tensor2D, false),
          ],
          1,
        );
        expect(Array.from(u.dataSync())).toEqual(Array.from(byHand.dataSync()));
        // The outputs are the architecture's on u; z is its own z, or [u, its z] when its task paths read their input.
        expect(values(model.forward(x, false))).toEqual(values(model.inner.forward(u, false)));
        const z = model.encode(x, false);
        const innerZ = model.inner.encode(u, false);
        expect(Array.from(z.dataSync())).toEqual(Array.from((arch.carries ? tf.concat([u, innerZ], 1) : innerZ).dataSync()));
        // Named inputs by name, in any order, images as [n, H, W, C].
        const named = model.forwardNamed({
          table: tf.slice(x, [0, 20], [-1, 3]),
          image: tf.reshape(tf.slice(x, [0, 0], [-1, 16]), [-1, 4, 4, 1]),
          text: tf.slice(x, [0, 16], [-1, 4]),
        });
        expect(values(named)).toEqual(values(model.forward(x, false)));
      });
      // Encoders are shared parameters, named by input; task parameters are the architecture's.
      const shared = model.sharedVariables().map(([n]) => n);
      expect(shared.filter((n) => n.startsWith("encoder.image.cnn.")).length).toBe(4);
      expect(shared.filter((n) => n.startsWith("encoder.text.text.")).length).toBe(3);
      expect(shared.filter((n) => n.startsWith("encoder.table.mlp.")).length).toBe(2);
      expect(new Set(model.namedVariables().map(([n]) => n)).size).toBe(model.namedVariables().length);
      expect(model.taskVariables(1)).toEqual(model.inner.taskVariables(1));
      expect(model.architecture).toBe(arch.name);
      const bundle = (model as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for("Jupyter.display")]();
      expect(String(bundle["text/plain"])).toContain(`${arch.name} model: inputs image [4×4×1], text [4] tokens, table [3] → 3 tasks`);
      model.dispose();
    });

    it("'rep'-level gradients reach the encoders along every path: through z equals direct", () => {
      const { data, tasks } = problem(12);
      const model = arch.build(data, tasks);
      const shared = model.sharedVariables().map(([, v]) => v);
      tf.tidy(() => {
        const x = xOf(data);
        const targets = targetsOf(data, tasks);
        const total = (outs: tf.Tensor2D[]) => tf.addN(tasks.map((t, i) => t.loss(outs[i], targets[i]))) as tf.Scalar;
        const direct = tf.variableGrads(() => total(model.forward(x, true)), shared).grads;
        const z = model.encode(x, true);
        const dz = tf.grad((zz: tf.Tensor) => total(model.decode(zz as tf.Tensor2D, x, true)))(z);
        const viaZ = tf.variableGrads(() => tf.sum(tf.mul(model.encode(x, true), dz)) as tf.Scalar, shared).grads;
        let gateOrEncoderGradient = 0;
        for (const v of shared) {
          const a = direct[v.name].dataSync();
          const b = viaZ[v.name].dataSync();
          a.forEach((g, i) => expect(Math.abs(g - b[i])).toBeLessThan(1e-5 + 1e-4 * Math.abs(g)));
          gateOrEncoderGradient += Array.from(a).reduce((s, g) => s + Math.abs(g), 0);
        }
        expect(gateOrEncoderGradient).toBeGreaterThan(0);
      });
      model.dispose();
    });

    it("trains with a weighting, a 'param' and a 'rep' aggregator, without leaking tensors", async () => {
      const { data, tasks } = problem(64);
      for (const options of [
        { weighting: mtl.weighting.uncertainty() },
        { aggregator: mtl.aggregators.pcgrad({ seed: 1 }), level: "param" as const },
        { aggregator: mtl.aggregators.upgrad(), level: "rep" as const },
      ]) {
        const model = arch.build(data, tasks);
        const trainer = new mtl.Trainer({
          model,
          tasks,
          batchSize: 32,
          seed: 2,
          optimizer: tf.train.adam(0.03),
          progress: false,
          ...options,
        });
        const first = trainer.evaluate(data);
        await trainer.fit(data, { steps: 1 });
        const before = tf.memory().numTensors;
        await trainer.fit(data, { steps: 29 });
        const last = trainer.evaluate(data);
        trainer.predict(data);
        expect(tf.memory().numTensors).toBe(before);
        expect(last.y.loss).toBeLessThan(0.5 * first.y.loss);
        expect(last.side.loss).toBeLessThan(0.5 * first.side.loss);
        expect(Number.isFinite(last.flag.loss)).toBe(true);
        model.dispose();
      }
    });
  });

  describe("named inputs in saved models", () => {
    it.each(["hardSharing", "mmoe"])("%s: model.save and mtl.loadModel rebuild it with its inputs and encoders", async (name) => {
      const dir = mkdtempSync(join(tmpdir(), "mtlkit-named-save-"));
      try {
        const { data, tasks } = problem(8);
        const model = ARCHITECTURES.find((a) => a.name === name)!.build(data, tasks, 5);
        expect(model.inputSpec()).toEqual({
          image: { shape: [4, 4, 1], dtype: "float32" },
          text: { shape: [4], dtype: "int32" },
          table: { shape: [3], dtype: "float32" },
        });
        await model.save(join(dir, "model"));
        const before = tf.memory().numTensors;
        const loaded = (await mtl.loadModel(join(dir, "model"))) as unknown as mtl.NamedInputsModel;
        expect(loaded).toBeInstanceOf(mtl.NamedInputsModel);
        expect(loaded.inputs).toEqual(data.inputs);
        expect(loaded.namedVariables().map(([n]) => n)).toEqual(model.namedVariables().map(([n]) => n));
        tf.tidy(() => {
          const x = xOf(data);
          expect(values(loaded.forward(x, false))).toEqual(values(model.forward(x, false)));
        });
        loaded.dispose();
        expect(tf.memory().numTensors).toBe(before);
        // The web page takes one input and says so.
        await expect(mtl.deploy.exportWeb(join(dir, "model"), join(dir, "web"))).rejects.toThrow(
          /takes one input 'x'; this model takes image, text, table/,
        );
        model.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("named inputs across the trainer", () => {
    it("trains one dataset per task with a sampler (each dataset with the same inputs)", async () => {
      const { data, tasks } = problem(120);
      const parts = {
        side: mtl.subset(
          data,
          Array.from({ length: 60 }, (_, i) => i),
        ),
        flag: mtl.subset(
          data,
          Array.from({ length: 40 }, (_, i) => 60 + i),
        ),
        y: mtl.subset(
          data,
          Array.from({ length: 20 }, (_, i) => 100 + i),
        ),
      };
      const model = ARCHITECTURES[1].build(data, tasks);
      const trainer = new mtl.Trainer({
        model,
        tasks,
        sampler: mtl.data.roundRobin(mtl.data.datasetSizes(parts)),
        batchSize: 10,
        seed: 1,
        progress: false,
      });
      await trainer.fit(parts, { steps: 3 });
      expect(trainer.history.steps.map((s) => s.task)).toEqual(["side", "flag", "y"]);
      const before = tf.memory().numTensors;
      await trainer.fit(parts, { steps: 30 });
      trainer.evaluate(parts);
      expect(tf.memory().numTensors).toBe(before);
      // A task's dataset with other inputs is refused before any step.
      const steps = trainer.history.steps.length;
      await expect(trainer.fit({ ...parts, flag: mtl.data.selectInputs(parts.flag, ["image", "table"]) })).rejects.toThrow(
        /the model needs input 'text'.*which the dataset of task 'flag' lacks/,
      );
      expect(trainer.history.steps.length).toBe(steps);
      model.dispose();
    });

    it("checkpoints save and resume a named-input model; a model with other inputs is refused by name", async () => {
      const dir = mkdtempSync(join(tmpdir(), "mtlkit-named-"));
      try {
        const { data, tasks } = problem(48);
        const model = ARCHITECTURES[0].build(data, tasks, 3);
        const trainer = new mtl.Trainer({ model, tasks, batchSize: 16, seed: 4, progress: false });
        await trainer.fit(data, { steps: 4 });
        const before = tf.memory().numTensors;
        await trainer.save(dir);
        expect(tf.memory().numTensors).toBe(before);
        const saved = values(model.namedVariables().map(([, v]) => v));
        await trainer.fit(data, { steps: 3 });
        const continued = values(model.namedVariables().map(([, v]) => v));

        const again = ARCHITECTURES[0].build(data, tasks, 9);
        const resumed = new mtl.Trainer({ model: again, tasks, batchSize: 16, seed: 4, progress: false });
        const manifest = await resumed.load(dir);
        expect(manifest.signature.inputs).toEqual(data.inputs);
        expect(values(again.namedVariables().map(([, v]) => v))).toEqual(saved);
        await resumed.fit(data, { steps: 3 });
        values(again.namedVariables().map(([, v]) => v)).forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(continued[i][j], 5)));

        // Same variable shapes, other image shape (2×8 instead of 4×4): only the inputs differ.
        const other = mtl.hardSharing({
          inputs: [{ name: "image", shape: [2, 8, 1], kind: "numeric" }, ...data.inputs!.slice(1)],
          encoders: { ...encoders(3), image: mtl.layers.cnnEncoder({ height: 2, width: 8, filters: [4], dense: [6] }) },
          trunk: [12],
          tasks,
        });
        expect(other.namedVariables().map(([n, v]) => `${n}${v.shape}`)).toEqual(model.namedVariables().map(([n, v]) => `${n}${v.shape}`));
        await expect(new mtl.Trainer({ model: other, tasks, progress: false }).load(dir)).rejects.toThrow(
          /inputs: checkpoint image \[4×4×1\].*model image \[2×8×1\]/,
        );
        for (const m of [model, again, other]) m.dispose();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

describe("bad named inputs are MtlErrors naming the input, before training", () => {
  const { data, tasks, inputs: raw, targets: rawTargets } = problem(20);

  it("refuses data whose inputs differ from the model's", async () => {
    const model = ARCHITECTURES[0].build(data, tasks);
    const trainer = new mtl.Trainer({ model, tasks, progress: false });
    const extra = mtl.fromArrays({ inputs: { ...raw, audio: { values: new Float32Array(20 * 2), shape: [2] } }, targets: rawTargets });
    const cases: Array<[mtl.MultiTaskData, RegExp]> = [
      [
        extra,
        /input 'audio' of the training data is not an input the model knows \(it takes image \[4×4×1\], text \[4\] tokens, table \[3\]\)/,
      ],
      [
        mtl.data.selectInputs(data, ["image", "table"]),
        /the model needs input 'text' \(text \[4\] tokens\), which the training data lacks/,
      ],
      [
        mtl.data.selectInputs(data, ["text", "image", "table"]),
        /holds its inputs in the order text, image, table but the model in the order image, text, table; reorder them with mtl.data.selectInputs/,
      ],
      [
        { ...data, inputs: [{ name: "image", shape: [2, 8, 1], kind: "numeric" }, ...data.inputs!.slice(1)] },
        /input 'image' is image \[2×8×1\] in the training data but image \[4×4×1\] in the model/,
      ],
      [
        { ...data, inputs: [data.inputs![0], { name: "text", shape: [4], kind: "numeric" }, data.inputs![2]] },
        /input 'text' is text \[4\] in the training data but text \[4\] tokens in the model/,
      ],
      [
        { ...data, inputs: undefined },
        /the model takes named inputs \(image \[4×4×1\], text \[4\] tokens, table \[3\]\) but the training data has one unnamed feature matrix/,
      ],
    ];
    for (const [bad, message] of cases) {
      await expect(trainer.fit(bad, { steps: 1 })).rejects.toThrow(message);
      await expect(trainer.fit(bad, { steps: 1 })).rejects.toBeInstanceOf(mtl.MtlError);
    }
    expect(trainer.history.steps).toHaveLength(0);
    expect(() => trainer.evaluate(mtl.data.selectInputs(data, ["image", "table"]))).toThrow(/needs input 'text'/);
    expect(() => trainer.predict(mtl.data.selectInputs(data, ["image", "table"]))).toThrow(/needs input 'text'/);
    // A model with one unnamed input refuses named data, even of the right width.
    const plain = mtl.hardSharing({ inputSize: 23, trunk: [4], tasks });
    await expect(new mtl.Trainer({ model: plain, tasks, progress: false }).fit(data, { steps: 1 })).rejects.toThrow(
      /the training data has named inputs .* but the model takes one unnamed input of 23 features/,
    );
    plain.dispose();
    model.dispose();
  });

  it("refuses encoders that do not fit their input", () => {
    const inputs = data.inputs!;
    const build =
      (enc: Record<string, mtl.EncoderSpec>, extra: Record<string, unknown> = {}) =>
      () =>
        mtl.hardSharing({ inputs, encoders: enc, trunk: [4], tasks, ...extra } as never);
    const ok = encoders();
    expect(build({ ...ok, audio: [3] })).toThrow(/option 'encoders' names input 'audio', which is not one of the inputs/);
    expect(build({ image: ok.image, table: ok.table })).toThrow(/input 'text' \(text \[4\] tokens\) has no encoder/);
    expect(build({ ...ok, text: [8] })).toThrow(
      /input 'text' holds token ids, which an MLP would read as magnitudes; encode it with mtl.layers.textEncoder\(\{ sequenceLength: 4/,
    );
    expect(build({ ...ok, table: mtl.layers.textEncoder({ sequenceLength: 3, vocabularySize: 4 }) })).toThrow(
      /input 'table' is numeric but its encoder is a text encoder/,
    );
    expect(build({ ...ok, image: mtl.layers.cnnEncoder({ height: 2, width: 8, filters: [4] }) })).toThrow(
      /the encoder of input 'image' is a CNN for 2×8×1 images but the input's rows are 4×4×1/,
    );
    expect(build({ ...ok, image: mtl.layers.cnnEncoder({ height: 5, width: 5 }) })).toThrow(
      /the encoder of input 'image' takes 25 values per row but the input has 16/,
    );
    const shared = mtl.layers.cnnEncoder({ height: 4, width: 4 });
    expect(() =>
      mtl.hardSharing({
        inputs: [inputs[0], { ...inputs[0], name: "image2" }],
        encoders: { image: shared, image2: shared },
        trunk: [4],
        tasks,
      }),
    ).toThrow(/the same encoder object is given for two inputs/);
    expect(build(ok, { inputSize: 23 })).toThrow(/give either 'inputSize' \(one input\) or 'inputs' and 'encoders'/);
    expect(() => mtl.mmoe({ inputs, experts: 2, expertLayers: [4], tasks } as never)).toThrow(
      /named inputs need both 'inputs' .* and 'encoders'/,
    );
    expect(() =>
      mtl.ple({
        inputs: [{ name: "a", shape: [0], kind: "numeric" }],
        encoders: { a: [] },
        sharedExperts: 1,
        taskExperts: 1,
        expertLayers: [4],
        tasks,
      }),
    ).toThrow(/input 'a' has shape \[0\]/);
    // Soft sharing and cross-stitch say which architectures take named inputs.
    expect(() => mtl.softSharing({ inputs, encoders: ok, towers: [4], tasks } as never)).toThrow(
      /softSharing: named inputs .* not supported here: soft sharing gives every task its own tower.*mtl.hardSharing, mtl.mmoe, mtl.cgc and mtl.ple/,
    );
    expect(() => mtl.crossStitch({ inputs, encoders: ok, towers: [4], tasks } as never)).toThrow(
      /crossStitch: named inputs .* not supported here/,
    );
  });

  it("forwardNamed refuses an unknown, missing or mis-shaped input and mismatched rows", () => {
    const model = ARCHITECTURES[1].build(data, tasks);
    const image = tf.zeros([3, 4, 4, 1]);
    const text = tf.ones([3, 4]);
    const table = tf.zeros([3, 3]);
    const before = tf.memory().numTensors;
    expect(() => model.forwardNamed({ image, text, table, audio: table })).toThrow(/input 'audio' is not an input the model knows/);
    expect(() => model.forwardNamed({ image, table })).toThrow(/input 'text' \(text \[4\] tokens\) is missing/);
    expect(() => model.forwardNamed({ image: tf.zeros([3, 4, 4]), text, table })).toThrow(
      /input 'image' has shape \[3,4,4\]; the model takes \[rows, 4, 4, 1\] \(or \[rows, 16\]\)/,
    );
    expect(() => model.forwardNamed({ image, text: tf.ones([2, 4]), table })).toThrow(/input 'text' has 2 rows but input 'image' has 3/);
    const out = model.forwardNamed({ image, text, table });
    expect(out.map((o) => o.shape)).toEqual([
      [3, 2],
      [3, 1],
      [3, 1],
    ]);
    tf.dispose(out);
    expect(tf.memory().numTensors).toBe(before + 2); // the two refused tensors made inside the calls above
    model.dispose();
  });
});

describe("the fused native MLP step declines named inputs", () => {
  const { status } = loadNative();
  it("is available where the build is required", () => {
    if (process.env.MTLKIT_REQUIRE_NATIVE === "1") expect(status.available, status.reason).toBe(true);
  });

  describe.runIf(status.available)("with the native addon", () => {
    // The fused step runs on wasm (the backend whose heap the addon reads).
    beforeAll(() => setBackend("wasm"));
    afterAll(() => disableNativeKernels());
    it("engages for the architecture inside, not for the named-input model around it", () => {
      enableNativeKernels();
      const tasks = [mtl.tasks.classification("c", { classes: 2 }), mtl.tasks.regression("r")];
      // Identity encoder: the model inside is exactly a fusable hard-sharing MLP on the same x.
      const model = mtl.hardSharing({
        inputs: [{ name: "table", shape: [5], kind: "numeric" }],
        encoders: { table: [] },
        trunk: [4],
        tasks,
        seed: 2,
      });
      const x = tf.randomNormal([6, 5], 0, 1, "float32", 3) as tf.Tensor2D;
      const targets = [tf.tensor1d([0, 1, 0, 1, 1, 0], "int32"), tf.zeros([6, 1])];
      const batch = { xs: [x], targets, part: [0, 0] };
      const step = (m: mtl.MultiTaskModel) => {
        const trainer = new mtl.Trainer({ model: m, tasks, progress: false });
        return fusedMlpStep(
          {
            model: m,
            tasks,
            optimizer: trainer.optimizer,
            regularizers: [],
            variables: m.namedVariables().map(([, v]) => v),
            batch,
            step: 0,
            epoch: 0,
            onNonFinite: "stop",
          },
          trainer.weighting!,
        );
      };
      expect(step(model.inner)?.applied).toBe(true);
      expect(step(model)).toBeUndefined();
      tf.dispose([x, ...targets]);
      model.dispose();
    });
  });
});
