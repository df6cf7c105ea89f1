/**
 * Per-task label masks in the data layer: building them from arrays (NaN/null labels, explicit
 * masks) and from tables (missing: { labels: "mask" }), refusing masks that do not fit, carrying
 * them through subsets, splits and standardisation, and counting only labelled rows in evaluation.
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { validateForTasks } from "../../lib/data/dataset";

const tasks = () => [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];

function arrays(n = 12) {
  const rng = new mtl.Rng(3);
  const x = Array.from({ length: n }, () => [rng.normal(), rng.normal()]);
  const c = x.map((row) => (row[0] > 0.3 ? 2 : row[0] > -0.3 ? 1 : 0));
  const r = x.map((row) => row[0] - row[1]);
  return { x, c, r };
}

describe("label masks from arrays", () => {
  it('turns NaN, null and undefined labels into a mask with missingLabels: "mask"; the placeholder is 0', () => {
    const { x, c, r } = arrays(6);
    const cs: Array<number | null> = [...c];
    cs[1] = null;
    const rs: Array<number | undefined> = [...r];
    rs[2] = NaN;
    rs[4] = undefined;
    const data = mtl.fromArrays({ x, targets: { c: cs as number[], r: rs as number[] }, tasks: tasks(), missingLabels: "mask" });
    expect(Array.from(data.masks!.c)).toEqual([1, 0, 1, 1, 1, 1]);
    expect(Array.from(data.masks!.r)).toEqual([1, 1, 0, 1, 0, 1]);
    expect(data.targets.c.values[1]).toBe(0);
    expect(data.targets.r.values[2]).toBe(0);
    expect(data.targets.r.values[3]).toBeCloseTo(r[3], 6);
    expect(mtl.data.labelledCounts(data)).toEqual({ c: 5, r: 4 });
  });

  it("refuses a missing label without the option, naming the task and row and the way out", () => {
    const { x, c, r } = arrays(4);
    const rs: Array<number | null> = [...r];
    rs[3] = null;
    expect(() => mtl.fromArrays({ x, targets: { c, r: rs as number[] }, tasks: tasks() })).toThrow(
      /target of task 'r' at row 3 is null.*missingLabels: "mask"/,
    );
    const nan = Float32Array.from(r);
    nan[0] = NaN;
    expect(() => mtl.fromArrays({ x, targets: { c, r: Array.from(nan) }, tasks: tasks() })).toThrow(/task 'r' at row 0 is NaN/);
  });

  it("takes explicit masks (booleans or 0/1) and ignores the targets where they are 0", () => {
    const { x, c, r } = arrays(5);
    const rs = [...r];
    rs[1] = -999;
    const data = mtl.fromArrays({ x, targets: { c, r: rs }, masks: { r: [true, false, true, true, true] }, tasks: tasks() });
    expect(data.masks!.c).toBeUndefined();
    expect(Array.from(data.masks!.r)).toEqual([1, 0, 1, 1, 1]);
    expect(data.targets.r.values[1]).toBe(0);
  });

  it("refuses a mask of the wrong length, a mask entry that is not 0/1, and a mask for no task, naming the task", () => {
    const { x, c, r } = arrays(5);
    expect(() => mtl.fromArrays({ x, targets: { c, r }, masks: { r: [1, 1, 0] }, tasks: tasks() })).toThrow(
      /fromArrays: the mask of task 'r' has 3 entries but 'x' has 5 rows/,
    );
    expect(() => mtl.fromArrays({ x, targets: { c, r }, masks: { r: [1, 1, 0, 2, 1] }, tasks: tasks() })).toThrow(
      /mask of task 'r' has 2 at row 3/,
    );
    expect(() => mtl.fromArrays({ x, targets: { c, r }, masks: { sex: [1, 1, 1, 1, 1] }, tasks: tasks() })).toThrow(
      /mask for 'sex', which has no targets/,
    );
    // A dataset built by hand with a wrong-length mask is refused when it meets the tasks.
    const data = mtl.fromArrays({ x, targets: { c, r }, tasks: tasks() });
    expect(() => validateForTasks({ ...data, masks: { r: new Uint8Array(4) } }, tasks())).toThrow(
      /the label mask of task 'r' has 4 entries but the dataset has 5 rows/,
    );
  });

  it("masks a multi-output row whose values are all missing, and refuses a row with some missing", () => {
    const x = [[0], [1], [2]];
    const two = [mtl.tasks.regression("box", { outputs: 2 })];
    const data = mtl.fromArrays({
      x,
      targets: {
        box: [
          [1, 2],
          [null, null],
          [3, 4],
        ] as unknown as number[][],
      },
      tasks: two,
      missingLabels: "mask",
    });
    expect(Array.from(data.masks!.box)).toEqual([1, 0, 1]);
    expect(Array.from(data.targets.box.values)).toEqual([1, 2, 0, 0, 3, 4]);
    expect(() =>
      mtl.fromArrays({
        x,
        targets: {
          box: [
            [1, 2],
            [NaN, 5],
            [3, 4],
          ],
        },
        tasks: two,
        missingLabels: "mask",
      }),
    ).toThrow(/row 1 of task 'box' has 1 of its 2 values missing/);
  });
});

describe("label masks from tables", () => {
  const records = [
    { a: 1, b: "x", sp: "p", sex: "M", mass: 3.1 },
    { a: 2, b: "y", sp: "q", sex: null, mass: 3.5 },
    { a: null, b: "x", sp: "p", sex: "F", mass: 4.0 },
    { a: 4, b: "y", sp: "q", sex: "F", mass: null },
    { a: 5, b: "x", sp: "p", sex: "", mass: 4.4 },
  ];
  const tableTasks = () => [
    mtl.tasks.classification("species", { column: "sp", classes: ["p", "q"] }),
    mtl.tasks.binary("sex", { labels: ["F", "M"] }),
    mtl.tasks.regression("mass"),
  ];

  it('masks the labels of the tasks given "mask" and drops what the features and other labels say', () => {
    const data = mtl.fromDataFrame(records, {
      features: ["a", "b"],
      tasks: tableTasks(),
      missing: { features: "drop", labels: { sex: "mask", mass: "drop" } },
    });
    // Row 2 (feature a missing) and row 3 (mass missing, "drop") go; rows 1 and 4 stay without sex.
    expect(Array.from(data.sourceRows)).toEqual([0, 1, 4]);
    expect(Array.from(data.masks!.sex)).toEqual([1, 0, 0]);
    expect(data.masks!.species).toBeUndefined();
    expect(Array.from(data.targets.sex.values)).toEqual([1, 0, 0]);
    expect(mtl.data.labelledCounts(data)).toEqual({ species: 3, sex: 1, mass: 3 });
  });

  it('masks every task\'s labels with labels: "mask" and imputes features', () => {
    const data = mtl.fromDataFrame(records, { features: ["a", "b"], tasks: tableTasks(), missing: { features: "impute", labels: "mask" } });
    expect(data.rows).toBe(5);
    expect(Array.from(data.masks!.sex)).toEqual([1, 0, 1, 1, 0]);
    expect(Array.from(data.masks!.mass)).toEqual([1, 1, 1, 0, 1]);
    expect(data.imputed!.a.count).toBe(1);
  });

  it("keeps the string forms as they were and refuses unknown policies and tasks", () => {
    expect(mtl.fromDataFrame(records, { features: ["a", "b"], tasks: tableTasks(), missing: "drop" }).rows).toBe(1);
    expect(mtl.fromDataFrame(records, { features: ["a", "b"], tasks: tableTasks(), missing: "impute" }).rows).toBe(2);
    expect(() => mtl.fromDataFrame(records, { features: ["a", "b"], tasks: tableTasks() })).toThrow(
      /missing values in 'sex' \(2 rows\), 'a' \(1 rows\), 'mass' \(1 rows\).*missing: \{ labels: "mask" \}/,
    );
    // Labels default to "refuse" in the object form: the features' policy does not reach them.
    expect(() => mtl.fromDataFrame(records, { features: ["a", "b"], tasks: tableTasks(), missing: { features: "drop" } })).toThrow(
      /missing values in 'sex' \(2 rows\), 'mass' \(1 rows\)/,
    );
    expect(() => mtl.fromDataFrame(records, { features: ["a"], tasks: tableTasks(), missing: { labels: { weight: "mask" } } })).toThrow(
      /names task 'weight', which is not one of the tasks/,
    );
    expect(() => mtl.fromDataFrame(records, { features: ["a"], tasks: tableTasks(), missing: { labels: "impute" as never } })).toThrow(
      /option 'missing.labels' must be "refuse", "drop", "mask"/,
    );
    expect(() => mtl.fromDataFrame(records, { features: ["a"], tasks: tableTasks(), missing: "mask" as never })).toThrow(
      /option 'missing' must be "refuse", "drop", "impute" or \{ features, labels \}/,
    );
    expect(() => mtl.fromDataFrame(records, { features: ["a"], tasks: tableTasks(), missing: { features: "mask" as never } })).toThrow(
      /option 'missing.features' must be/,
    );
  });
});

describe("masks through subsets, splits and standardisation", () => {
  it("carry the rows' masks", () => {
    const { x, c, r } = arrays(20);
    const mask = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const data = mtl.fromArrays({ x, targets: { c, r }, masks: { r: mask }, tasks: tasks() });
    const part = mtl.subset(data, [0, 1, 3, 4]);
    expect(Array.from(part.masks!.r)).toEqual([0, 1, 0, 1]);
    const splits = mtl.split(data, { train: 0.5, validation: 0.25, seed: 2 });
    const total = [splits.train, splits.validation, splits.test].reduce((n, s) => n + mtl.data.labelledCount(s, "r"), 0);
    expect(total).toBe(mask.filter(Boolean).length);
    expect(mtl.fitStandardizer(splits.train).apply(splits.test).masks).toBe(splits.test.masks);
    // Per-task datasets: the samplers' sizes are the rows that carry each task's own label.
    expect(mtl.data.datasetSizes({ c: data, r: data })).toEqual({ c: 20, r: 13 });
  });
});

describe("evaluation under masks", () => {
  it("scores each task on its labelled rows only, reports the count, and NaN for a task with none", async () => {
    const { x, c, r } = arrays(40);
    const ts = tasks();
    const mask = Array.from({ length: 40 }, (_, i) => (i % 4 === 1 ? 0 : 1));
    const rs = r.map((v, i) => (mask[i] ? v : 1e6)); // would dominate the MSE if it were counted
    const data = mtl.fromArrays({ x, targets: { c, r: rs }, masks: { r: mask }, tasks: ts });
    const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks: ts, seed: 1 });
    const labelledRows = mask.flatMap((m, i) => (m ? [i] : []));
    for (const batchSize of [7, 1024]) {
      const full = mtl.evaluation.evaluate(model, data, ts, { batchSize });
      const onLabelled = mtl.evaluation.evaluate(model, mtl.subset(data, labelledRows), ts);
      expect(full.tasks.r.labelled).toBe(30);
      expect(full.tasks.c.labelled).toBe(40);
      expect(full.tasks.r.loss).toBeCloseTo(onLabelled.tasks.r.loss, 5);
      expect(full.tasks.r.metrics.mse).toBeCloseTo(onLabelled.tasks.r.metrics.mse, 6);
      expect(full.tasks.r.metrics.r2).toBeCloseTo(onLabelled.tasks.r.metrics.r2, 6);
      expect(full.tasks.c.metrics.accuracy).toBe(mtl.evaluation.evaluate(model, data, ts).tasks.c.metrics.accuracy);
    }
    const trainer = new mtl.Trainer({ model, tasks: ts, progress: false });
    expect(trainer.evaluate(data).r.labelled).toBe(30);
    expect((await trainer.evaluateAsync(data)).r.labelled).toBe(30);
    // evaluatePredictions counts the same rows.
    const predicted = trainer.predict(data);
    const scored = mtl.evaluation.evaluatePredictions(ts, predicted, data);
    expect(scored.tasks.r.labelled).toBe(30);
    expect(scored.tasks.r.metrics.mse).toBeCloseTo(mtl.evaluation.evaluate(model, data, ts).tasks.r.metrics.mse, 5);
    // A test set on which a task has no label at all: loss and metrics NaN, labelled 0 (not an error).
    const none = mtl.fromArrays({ x, targets: { c, r }, masks: { r: mask.map(() => 0) }, tasks: ts });
    const e = mtl.evaluation.evaluate(model, none, ts);
    expect(e.tasks.r.labelled).toBe(0);
    expect(e.tasks.r.loss).toBeNaN();
    expect(e.tasks.r.metrics.mse).toBeNaN();
    const before = tf.memory().numTensors;
    mtl.evaluation.evaluate(model, data, ts, { batchSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
