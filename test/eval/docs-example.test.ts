import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";

describe("docs/evaluation.md: the evaluation example", () => {
  it("runs as written", async () => {
    const rng = new mtl.Rng(0);
    const inputSize = 3;
    const x = Array.from({ length: 90 }, () => [rng.normal(), rng.normal(), rng.normal()]);
    const tasks = [mtl.tasks.regression("u"), mtl.tasks.classification("v", { classes: 2 })];
    const data = mtl.fromArrays({ x, targets: { u: x.map((r) => r[0] - r[1]), v: x.map((r) => (r[0] > 0 ? 1 : 0)) }, tasks });
    const { train, test } = mtl.split(data, { seed: 1, train: 0.7, validation: 0 });
    const E = mtl.evaluation;
    const build = (ts: mtl.Task[], seed: number) => mtl.hardSharing({ inputSize, trunk: [32], tasks: ts, seed });
    const opts = { build, tasks, train, test, seeds: [1, 2, 3], epochs: 2 };
    const multi = await E.trainSeeds(opts);
    const single = await E.trainSingleTaskBaselines(opts);
    const dm = E.deltaMOverSeeds(E.tablesOf(multi), single.tables, { tasks });
    expect(dm.summary.interval!.method).toBe("Student-t, 2 df");
    expect(E.negativeTransfer(E.tablesOf(multi), single.tables, { tasks }).rows.map((r) => r.task)).toEqual(["u", "v"]);
  });
});
