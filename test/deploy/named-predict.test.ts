/**
 * `mtl.deploy.predict` on a model with named inputs: rows given by input name give the same result as
 * the inputs' columns side by side, in any key order, in memory and after save/load; wrong names,
 * missing inputs, widths and row counts are refused naming the input.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";

const root = mkdtempSync(join(tmpdir(), "mtlkit-named-predict-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const N = 5;
const tasks = () => [mtl.tasks.classification("side", { classes: 2 }), mtl.tasks.regression("y")];
const inputs: mtl.data.NamedInput[] = [
  { name: "image", shape: [2, 2, 1], kind: "numeric" },
  { name: "table", shape: [3], kind: "numeric" },
];
function model() {
  return mtl.hardSharing({ inputs, encoders: { image: [3], table: [2] }, trunk: [4], tasks: tasks(), seed: 3 });
}
const rng = new mtl.Rng(4);
const image = Array.from({ length: N }, () => Array.from({ length: 4 }, () => rng.normal()));
const table = Array.from({ length: N }, () => Array.from({ length: 3 }, () => rng.normal()));
const sideBySide = image.map((row, r) => [...row, ...table[r]]);

describe("deploy.predict with named inputs", () => {
  it("rows by input name equal the columns side by side, in any key order, in memory and loaded", async () => {
    const m = model();
    const columns = await mtl.deploy.predict(m, sideBySide);
    const named = await mtl.deploy.predict(m, { table, image });
    expect(named).toEqual(columns);
    const flat = await mtl.deploy.predict(m, { image: Float32Array.from(image.flat()), table });
    expect(flat).toEqual(columns);
    expect(columns.side.predictions).toHaveLength(N);
    const dir = join(root, "m");
    await m.save(dir);
    const loaded = await mtl.loadModel(dir);
    expect(await mtl.deploy.predict(loaded, { image, table })).toEqual(columns);
    const before = mtl.tf.memory().numTensors;
    await mtl.deploy.predict(loaded, { image, table });
    expect(mtl.tf.memory().numTensors).toBe(before);
    m.dispose();
    loaded.dispose();
  });

  it("refuses unknown and missing inputs, wrong widths and unequal row counts, naming the input", async () => {
    const m = model();
    await expect(mtl.deploy.predict(m, { image, table, audio: table })).rejects.toThrow(
      /input 'audio'.*'audio' is not an input of the model; it takes image, table/,
    );
    await expect(mtl.deploy.predict(m, { image })).rejects.toThrow(/input 'table'.*no rows were given for it/);
    await expect(mtl.deploy.predict(m, { image, table: image })).rejects.toThrow(
      /input 'table'.*row 0 has 4 values; the model takes 3 values/,
    );
    await expect(mtl.deploy.predict(m, { image, table: table.slice(1) })).rejects.toThrow(
      /input 'table'.*4 rows were given for 'table' but 5 for 'image'/,
    );
    await expect(mtl.deploy.predict(m, { image: Float32Array.from([1, 2, 3]), table })).rejects.toThrow(
      /input 'image'.*whole rows of 4 values/,
    );
    await expect(mtl.deploy.predict(m, { image: [[1, NaN, 0, 0]], table: [[0, 0, 0]] })).rejects.toThrow(
      /input 'image'.*row 0, value 1 is NaN/,
    );
    const plain = mtl.hardSharing({ inputSize: 3, trunk: [2], tasks: tasks(), seed: 1 });
    await expect(mtl.deploy.predict(plain, { table })).rejects.toThrow(
      /given by input name \(table\) but the model takes one input of 3 features/,
    );
    m.dispose();
    plain.dispose();
  });
});
