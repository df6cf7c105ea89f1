/**
 * Datasets with several named inputs (issue 18 item 2): how they are packed side by side, what
 * splitting, subsets, selection and standardisation do with them, fromDataFrame's grouped
 * features, and the MtlErrors that name the input at fault.
 */
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { validateForTasks } from "../../lib/data/dataset";

const N = 6;
/** image [2×2×2] (channel 0: r, channel 1: 10·r), text [3] tokens, table [2]. */
function arrays() {
  const image = new Float32Array(N * 8);
  for (let r = 0; r < N; r++)
    for (let p = 0; p < 4; p++) {
      image[r * 8 + p * 2] = r + p;
      image[r * 8 + p * 2 + 1] = 10 * (r + p);
    }
  const text = Int32Array.from({ length: N * 3 }, (_, i) => i % 5);
  const table = Array.from({ length: N }, (_, r) => [r, -2 * r + 1]);
  return { image, text, table };
}

function dataset(tasks?: mtl.Task[]) {
  const { image, text, table } = arrays();
  return mtl.fromArrays({
    inputs: {
      image: { values: image, shape: [2, 2, 2] },
      text: { values: text, shape: [3], kind: "tokens" },
      table,
    },
    targets: { y: Array.from({ length: N }, (_, r) => r % 2) },
    tasks,
  });
}

describe("named inputs in a dataset", () => {
  it("packs the inputs side by side, row by row, in the order given, with their specs", () => {
    const d = dataset();
    expect(d.inputs).toEqual([
      { name: "image", shape: [2, 2, 2], kind: "numeric" },
      { name: "text", shape: [3], kind: "tokens" },
      { name: "table", shape: [2], kind: "numeric" },
    ]);
    expect(d.featureCount).toBe(8 + 3 + 2);
    expect(d.featureNames.slice(8, 11)).toEqual(["text.0", "text.1", "text.2"]);
    const { image, text, table } = arrays();
    for (let r = 0; r < N; r++) {
      const row = Array.from(d.features.subarray(r * 13, r * 13 + 13));
      expect(row).toEqual([...image.subarray(r * 8, r * 8 + 8), ...text.subarray(r * 3, r * 3 + 3), ...table[r]]);
    }
  });

  it("leaves single-input datasets as they were (no 'inputs')", () => {
    const d = mtl.fromArrays({
      x: [
        [1, 2],
        [3, 4],
      ],
      targets: { y: [0, 1] },
    });
    expect(d.inputs).toBeUndefined();
    expect(mtl.split(d, { seed: 1, train: 0.5, validation: 0 }).train.inputs).toBeUndefined();
  });

  it("subset and split keep the inputs and move whole rows", () => {
    const d = dataset();
    const s = mtl.subset(d, [4, 1]);
    expect(s.inputs).toEqual(d.inputs);
    expect(Array.from(s.features.subarray(0, 13))).toEqual(Array.from(d.features.subarray(4 * 13, 5 * 13)));
    expect(Array.from(s.features.subarray(13, 26))).toEqual(Array.from(d.features.subarray(13, 26)));
    const parts = mtl.split(d, { seed: 3, train: 0.5, validation: 0.25 });
    for (const p of [parts.train, parts.validation, parts.test]) expect(p.inputs).toEqual(d.inputs);
    expect(parts.train.rows + parts.validation.rows + parts.test.rows).toBe(N);
  });

  it("selectInputs keeps some inputs, in the order asked for, and refuses a name it lacks", () => {
    const d = dataset();
    const s = mtl.data.selectInputs(d, ["table", "image"]);
    expect(s.inputs!.map((i) => i.name)).toEqual(["table", "image"]);
    expect(s.featureCount).toBe(10);
    expect(Array.from(s.features.subarray(10, 20))).toEqual([...arrays().table[1], ...arrays().image.subarray(8, 16)]);
    expect(s.targets).toBe(d.targets);
    expect(() => mtl.data.selectInputs(d, ["image", "audio"])).toThrow(
      /has no input 'audio'; it has image \[2×2×2\], text \[3\] tokens, table \[2\]/,
    );
    expect(() => mtl.data.selectInputs(mtl.fromArrays({ x: [[1]], targets: {} }), ["x"])).toThrow(/no named inputs/);
  });

  it("standardises each numeric input over its last axis (per channel, per column) and leaves tokens alone", () => {
    const d = dataset();
    const st = mtl.fitStandardizer(d);
    const out = st.apply(d);
    const columns = (from: number, step: number, count: number) => {
      const v: number[] = [];
      for (let r = 0; r < N; r++) for (let k = 0; k < count; k++) v.push(out.features[r * 13 + from + k * step]);
      return v;
    };
    const moments = (v: number[]) => {
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return [m, Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)];
    };
    // Image channels: 4 pixels × 6 rows each, standardised together (one mean per channel).
    for (const channel of [0, 1]) {
      const [m, s] = moments(columns(channel, 2, 4));
      expect(m).toBeCloseTo(0, 5);
      expect(s).toBeCloseTo(1, 5);
    }
    expect(st.mean[0]).toBe(st.mean[2]); // the same channel statistics at every pixel
    expect(st.mean[1]).toBeCloseTo(10 * st.mean[0], 4);
    // Token ids unchanged.
    expect(columns(8, 1, 3)).toEqual(Array.from({ length: N }, (_, r) => [0, 1, 2].map((k) => (r * 3 + k) % 5)).flat());
    // Table columns one by one.
    for (const c of [11, 12]) {
      const [m, s] = moments(columns(c, 1, 1));
      expect(m).toBeCloseTo(0, 5);
      expect(s).toBeCloseTo(1, 5);
    }
    expect(out.inputs).toEqual(d.inputs);
    // Fitted on the image and table only: refuses data with other inputs.
    expect(() => st.apply(mtl.data.selectInputs(d, ["table", "text", "image"]))).toThrow(
      /standardize.*differ from those the standardizer was fitted on/,
    );
  });

  it("per-feature standardisation of an unnamed input is as before", () => {
    const d = mtl.fromArrays({
      x: [
        [1, 10],
        [3, 10],
        [5, 10],
      ],
      targets: {},
    });
    const st = mtl.fitStandardizer(d);
    expect(Array.from(st.mean)).toEqual([3, 10]);
    expect(st.std[0]).toBeCloseTo(Math.sqrt(8 / 3), 6);
    expect(st.std[1]).toBe(1);
  });

  it("refuses bad named inputs, naming the input", () => {
    const { image, text, table } = arrays();
    const targets = { y: Array.from({ length: N }, () => 0) };
    const build =
      (inputs: Record<string, mtl.data.InputArray>, t: Record<string, number[]> = targets) =>
      () =>
        mtl.fromArrays({ inputs, targets: t });
    expect(build({ image: { values: image, shape: [2, 2, 2] }, table: table.slice(0, 5) })).toThrow(
      /input 'table' has 5 rows but input 'image' has 6/,
    );
    expect(build({ image: { values: image, shape: [3, 3, 1] } })).toThrow(
      /input 'image' has 48 values, not a multiple of its row shape 3×3×1/,
    );
    expect(build({ image: { values: image, shape: [2, 0] } })).toThrow(/input 'image' has shape \[2,0\]/);
    expect(build({ text: { values: Float32Array.from(text, (v) => v + 0.5), shape: [3], kind: "tokens" } })).toThrow(
      /input 'text' holds token ids but has 0.5 at row 0, position 0/,
    );
    expect(build({ text: { values: text, shape: [3], kind: "words" as never } })).toThrow(/input 'text' has kind "words"/);
    const nan = image.slice();
    nan[8 + 3] = NaN;
    expect(build({ image: { values: nan, shape: [2, 2, 2] } })).toThrow(/input 'image' is NaN at row 1, value 3/);
    expect(build({ table: [[1, 2], [3]] })).toThrow(/row 1 of input 'table' has 1 values; row 0 has 2/);
    expect(build({ table: [[1, null as never]] })).toThrow(/input 'table' is null at row 0, value 1/);
    expect(build({ table }, { y: [0, 1] })).toThrow(/task 'y' has 2 targets but the inputs have 6 rows/);
    expect(() => mtl.fromArrays({ x: table, inputs: { table }, targets })).toThrow(/either as 'x' .* or as 'inputs'/);
    expect(() => mtl.fromArrays({ inputs: {}, targets })).toThrow(/option 'inputs' must map input names to arrays/);
    expect(() => mtl.fromArrays({ inputs: { table }, featureCount: 2, targets })).toThrow(/go with 'x'/);
  });

  it("validates targets against the tasks when given", () => {
    expect(() => dataset([mtl.tasks.regression("z")])).toThrow(/no targets for this task/);
    expect(dataset([mtl.tasks.binary("y")]).rows).toBe(N);
  });

  it("checkDataset refuses inputs that do not tile the features", () => {
    const d = dataset();
    const broken = { ...d, inputs: [{ name: "image", shape: [2, 2, 2], kind: "numeric" as const }] };
    const tasks = [mtl.tasks.binary("y")];
    expect(() => validateForTasks(broken, tasks)).toThrow(/inputs \(image \[2×2×2\]\) take 8 columns but it has 13 features/);
  });
});

describe("fromDataFrame with named inputs", () => {
  const rows = [
    { age: 30, income: 10, region: "north", color: "red", y: 1 },
    { age: 40, income: 20, region: "south", color: "blue", y: 0 },
    { age: 50, income: 30, region: "east", color: "red", y: 1 },
  ];
  const tasks = [mtl.tasks.binary("y")];

  it("groups the (encoded) columns into named numeric inputs", () => {
    const d = mtl.fromDataFrame(rows, { features: { person: ["age", "income"], place: ["region", "color"] }, tasks });
    expect(d.inputs).toEqual([
      { name: "person", shape: [2], kind: "numeric" },
      { name: "place", shape: [5], kind: "numeric" },
    ]);
    expect(d.featureNames).toEqual(["age", "income", "region=east", "region=north", "region=south", "color=blue", "color=red"]);
    expect(Array.from(d.features.subarray(7, 14))).toEqual([40, 20, 0, 0, 1, 1, 0]);
    expect(mtl.fromDataFrame(rows, { features: ["age"], tasks }).inputs).toBeUndefined();
  });

  it("refuses a column in two inputs and an empty input", () => {
    expect(() => mtl.fromDataFrame(rows, { features: { a: ["age"], b: ["age", "income"] }, tasks })).toThrow(
      /column 'age' is in input 'a' and in input 'b'/,
    );
    expect(() => mtl.fromDataFrame(rows, { features: { a: [] }, tasks })).toThrow(
      /input 'a' of option 'features' must list at least one column/,
    );
    expect(() => mtl.fromDataFrame(rows, { features: { a: ["y"] }, tasks })).toThrow(/column 'y' is both a feature and a target/);
  });
});
