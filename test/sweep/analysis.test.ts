/** From a sweep's records to Δm, negative-transfer verdicts, metric tables and the DataFrame: the same numbers as mtl.evaluation gives. */
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { define } from "../../lib/sweep/definition";
import { RunRecord } from "../../lib/sweep/records";
import { makeResult } from "../../lib/sweep/result";
import { runsModule } from "./helpers";

const S = mtl.sweep;
const E = mtl.evaluation;

/** A sweep over methods × 4 seeds whose runs "returned" tables built from the method and seed. */
function fakeResult(
  metricsFor: (method: string, seed: number) => RunRecord["metrics"],
  options: { directions?: boolean; failed?: string } = {},
) {
  const sweep = define({ run: runsModule, grid: { method: ["single-task", "equal", "pcgrad"], lr: [0.01] }, seeds: 4 });
  const records: RunRecord[] = sweep.runs.map((r) => {
    const method = r.config.method as string;
    const failed = options.failed === r.label;
    return {
      run: r.id,
      label: r.label,
      config: r.config,
      seed: r.seed,
      status: failed ? "failed" : "ok",
      ...(failed ? { error: { kind: "crash", message: "boom" } } : { metrics: metricsFor(method, r.seed) }),
      ...(options.directions && !failed ? { directions: { a: { acc: true }, b: { mse: false } } } : {}),
      seconds: 1,
      worker: "h:1",
      finishedAt: "2026-01-01T00:00:00.000Z",
    } as RunRecord;
  });
  return makeResult({
    identity: sweep.identity,
    runs: sweep.runs,
    records,
    varying: sweep.varying,
    resumed: 0,
    ran: records.length,
    seconds: 1,
    where: "test",
  });
}

const offset: Record<string, number> = { "single-task": 0, equal: 0.1, pcgrad: -0.1 };
const tables = (method: string, seed: number) => ({
  a: { acc: 0.7 + offset[method] + 0.01 * ((seed * 7) % 5) },
  b: { mse: 2 - offset[method] + 0.03 * ((seed * 3) % 4) },
});

describe("sweep results, compared", () => {
  it("group runs by configuration, labelled by the settings that vary", () => {
    const result = fakeResult(tables, { failed: "method=pcgrad seed=2" });
    const groups = S.groups(result);
    expect(groups.map((g) => [g.label, g.records.length, g.failed])).toEqual([
      ["single-task", 4, 0],
      ["equal", 4, 0],
      ["pcgrad", 3, 1],
    ]);
    expect(Object.keys(S.metricTables(result))).toEqual(["single-task", "equal", "pcgrad"]);
    expect(S.groups(result, ["lr"]).map((g) => [g.label, g.records.length])).toEqual([["0.01", 11]]);
    expect(() => S.groups(result, ["seedz"])).toThrowError(/'seedz', which is not a setting/);
  });

  it("give each configuration's Δm over seeds against the baseline, as eval.deltaMOverSeeds does", () => {
    const result = fakeResult(tables, { directions: true });
    const dm = S.deltaM(result, { baseline: { method: "single-task" } });
    expect(dm.baseline).toBe("single-task");
    expect(dm.rows.map((r) => r.label)).toEqual(["equal", "pcgrad"]);
    const per = S.metricTables(result);
    const expected = E.deltaMOverSeeds(per.equal, per["single-task"], { higherIsBetter: { a: { acc: true }, b: { mse: false } } });
    expect(dm.rows[0].summary).toEqual(expected.summary);
    expect(dm.rows[0].summary.mean).toBeGreaterThan(0);
    expect(dm.rows[1].summary.mean).toBeLessThan(0);
    expect(Object.keys(dm.summaries())).toEqual(["equal", "pcgrad"]);
    const frame = dm.toDataFrame();
    expect(frame.columns).toEqual(["label", "deltaM", "std", "low", "high", "n", "a", "b"]);
    const bundle = (dm as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]();
    expect(bundle["text/plain"]).toMatch(/Δm% against 'single-task'/);
    expect(mtl.viz.deltaMBars(dm.summaries()).data).toHaveLength(1);
  });

  it("give negative-transfer verdicts per configuration and task", () => {
    const result = fakeResult(tables);
    const directions = { a: { acc: true }, b: { mse: false } };
    const t = S.negativeTransfer(result, { baseline: "single-task", higherIsBetter: directions });
    const per = S.metricTables(result);
    expect(t.reports.equal.rows).toEqual(E.negativeTransfer(per.equal, per["single-task"], { higherIsBetter: directions }).rows);
    expect(t.rows.filter((r) => r.label === "equal").map((r) => r.verdict)).toEqual(["helps", "helps"]);
    expect(t.rows.filter((r) => r.label === "pcgrad").map((r) => r.verdict)).toEqual(["hurts", "hurts"]);
    expect(t.toDataFrame().shape).toEqual([4, 9]);
  });

  it("refuse what they cannot compare, naming it", () => {
    const result = fakeResult(tables);
    expect(() => S.deltaM(result, { baseline: "single-task" })).toThrowError(/cannot tell which metrics are better higher or lower/);
    expect(() => S.deltaM(result, { baseline: "stl", higherIsBetter: {} })).toThrowError(
      /option 'baseline' 'stl' matches no group; the groups are 'single-task', 'equal', 'pcgrad'/,
    );
    expect(() => S.deltaM(result, { baseline: { lr: 0.01 }, higherIsBetter: {} })).toThrowError(/matches 3 groups/);
    const flat = fakeResult((m, s) => ({ acc: 0.5 + offset[m] + s }));
    expect(() => S.deltaM(flat, { baseline: "single-task", higherIsBetter: {} })).toThrowError(
      /returned flat metrics \('acc' is a number\)/,
    );
    expect(() => S.deltaM(result, { baseline: "single-task", base: 1 } as never)).toThrowError(/unknown option 'base'/);
  });

  it("put one row per run in the DataFrame, failed runs with their error and NaN metrics", () => {
    const result = fakeResult(tables, { failed: "method=equal seed=1" });
    const frame = result.toDataFrame();
    expect(frame.shape).toEqual([12, 11]);
    expect(frame.columns).toEqual(["run", "label", "method", "lr", "seed", "status", "seconds", "worker", "error", "a.acc", "b.mse"]);
    const row = result.records.findIndex((r) => r.label === "method=equal seed=1");
    expect(frame.column("error").values[row]).toBe("crash: boom");
    expect(Number.isNaN(frame.column("a.acc").values[row])).toBe(true);
    const text = String(
      (result as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for("Jupyter.display")]()["text/plain"],
    );
    expect(text).toMatch(/Sweep: 12 runs, 11 ok, 1 failed/);
    expect(text).toMatch(/method=equal seed=1 +crash +boom/);
  });

  it("describe progress in words", () => {
    expect(
      S.describeProgress({
        total: 40,
        done: 12,
        failed: 1,
        running: 2,
        resumed: 0,
        elapsedSeconds: 35,
        secondsLeft: 80,
        where: "2 worker processes",
      }),
    ).toBe("12/40 done (1 failed), 2 running · 35 s elapsed, about 1 min 20 s left · 2 worker processes");
  });
});
