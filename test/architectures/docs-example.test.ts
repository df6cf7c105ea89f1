/** docs/architectures.md's soft-sharing example, run as written (with data made here). */
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";

describe("docs/architectures.md: the soft sharing example", () => {
  it("trains with the penalty logged under its own name, and reports tower distances", async () => {
    const g = mtl.data.mmoeSynthetic({ p: 0.5, rows: 200, inputSize: 20, m: 3, seed: 1 });
    const tasks = g.tasks;
    const model = mtl.softSharing({ inputSize: 20, towers: [16], tasks, center: "learned" });
    const trainer = new mtl.Trainer({ model, tasks, epochs: 2, progress: false, regularizers: [mtl.regularizers.softSharing(1e-2)] });
    const history = await trainer.fit(g.data);
    expect(history.steps.every((s) => s.regularizers["softSharing(center,l2)"] >= 0)).toBe(true);
    expect(history.toDataFrame().columns.some((c: string) => c.includes("softSharing(center,l2)"))).toBe(true);
    const d = model.towerDistances();
    expect(d[0][1]).toBeGreaterThan(0);
    expect(d[0][1]).toBe(d[1][0]);
    model.dispose();

    const meanModel = mtl.softSharing({ inputSize: 20, towers: [16, 8], tasks, center: "mean" });
    const pairwise = mtl.regularizers.softSharing({ 0: 1e-2 }, { form: "pairwise", distance: "l1" });
    const h2 = await new mtl.Trainer({ model: meanModel, tasks, epochs: 1, progress: false, regularizers: [pairwise] }).fit(g.data);
    expect(h2.steps[0].regularizers["softSharing(pairwise,l1)"]).toBeGreaterThan(0);
    meanModel.dispose();
  });
});
