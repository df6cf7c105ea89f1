/** Sweep definitions: expansion into runs, stable ids and identity, and every bad input named up front. */
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { runsModule } from "./helpers";

const S = mtl.sweep;

describe("sweep definitions", () => {
  it("expand a grid into every configuration × seed, in order", () => {
    const s = S.define({ run: `${runsModule}#run`, grid: { method: ["a", "b"], lr: [0.1, 0.01] }, seeds: 3 });
    expect(s.configs).toEqual([
      { method: "a", lr: 0.1 },
      { method: "a", lr: 0.01 },
      { method: "b", lr: 0.1 },
      { method: "b", lr: 0.01 },
    ]);
    expect(s.seeds).toEqual([0, 1, 2]);
    expect(s.runs).toHaveLength(12);
    expect(s.runs[4]).toMatchObject({ index: 4, config: { method: "a", lr: 0.01 }, seed: 1, label: "method=a lr=0.01 seed=1" });
    expect(new Set(s.runs.map((r) => r.id)).size).toBe(12);
    expect(s.varying).toEqual(["method", "lr"]);
    expect(s.exportName).toBe("run");
  });

  it("give a run the same id whatever the order of settings, and the sweep the same identity whatever the order of its lists", () => {
    expect(S.runId({ a: 1, b: "x" }, 3)).toBe(S.runId({ b: "x", a: 1 }, 3));
    expect(S.runId({ a: 1 }, 3)).not.toBe(S.runId({ a: 1 }, 4));
    const one = S.define({ run: { module: runsModule }, configs: [{ m: "a" }, { m: "b" }], seeds: [1, 2] });
    const two = S.define({ run: { module: runsModule, export: "run" }, configs: [{ m: "b" }, { m: "a" }], seeds: [2, 1] });
    expect(two.identity).toBe(one.identity);
    const three = S.define({ run: `${runsModule}#slow`, configs: [{ m: "b" }, { m: "a" }], seeds: [2, 1] });
    expect(three.identity).not.toBe(one.identity);
  });

  it("keep settings that do not vary out of the labels", () => {
    const s = S.define({
      run: runsModule,
      configs: [
        { m: "a", epochs: 5 },
        { m: "b", epochs: 5 },
      ],
      seeds: [7],
    });
    expect(s.varying).toEqual(["m"]);
    expect(s.runs.map((r) => r.label)).toEqual(["m=a seed=7", "m=b seed=7"]);
  });

  describe("refuse bad input with an MtlError naming it", () => {
    const bad = (definition: unknown, message: RegExp) => {
      expect(() => S.define(definition as mtl.sweep.SweepDefinition)).toThrowError(mtl.MtlError);
      expect(() => S.define(definition as mtl.sweep.SweepDefinition)).toThrowError(message);
    };

    it("a grid setting with no values, and a grid with no settings", () => {
      bad({ run: runsModule, grid: { method: ["a"], lr: [] }, seeds: 2 }, /grid setting 'lr' has no values/);
      bad({ run: runsModule, grid: {}, seeds: 2 }, /option 'grid' has no settings/);
      bad({ run: runsModule, grid: { method: "a" }, seeds: 2 }, /grid setting 'method' must be a list of values/);
      bad({ run: runsModule, configs: [], seeds: 2 }, /option 'configs' is empty/);
      bad({ run: runsModule, seeds: 2 }, /give option 'grid'/);
    });

    it("a run function given as a function, or a module that does not exist", () => {
      bad({ run: async () => ({}), grid: { a: [1] }, seeds: 1 }, /export it from a module/);
      bad({ run: "./no/such/module.js#run", grid: { a: [1] }, seeds: 1 }, /module '\.\/no\/such\/module\.js' does not exist/);
      bad({ run: `${runsModule}#not-a-name`, grid: { a: [1] }, seeds: 1 }, /option 'run.export'/);
    });

    it("values that cannot travel as JSON, repeats, bad seeds and limits", () => {
      bad({ run: runsModule, grid: { lr: [NaN] }, seeds: 1 }, /grid setting 'lr' value 0 is NaN/);
      bad({ run: runsModule, grid: { method: [mtl.weighting.equal()] }, seeds: 1 }, /plain values only/);
      bad({ run: runsModule, configs: [{ a: 1 }, { a: 1 }], seeds: 1 }, /configuration 1 repeats configuration 0/);
      bad({ run: runsModule, grid: { a: [1, 1] }, seeds: 1 }, /repeats a value/);
      bad({ run: runsModule, grid: { a: [1] }, seeds: 0 }, /option 'seeds'/);
      bad({ run: runsModule, grid: { a: [1] }, seeds: [1, 1] }, /repeats a seed/);
      bad({ run: runsModule, grid: { a: [1] }, seeds: [1.5] }, /must list integers/);
      bad({ run: runsModule, grid: { a: [1] }, seeds: 1, timeLimitSeconds: -1 }, /timeLimitSeconds/);
      bad({ run: runsModule, grid: { a: [1] }, seeds: 1, memoryMb: 10 }, /memoryMb/);
      bad({ run: runsModule, grid: { a: [1] }, seeds: 1, seed: 3 }, /unknown option 'seed'/);
    });
  });

  it("parse queue URLs and refuse malformed ones", () => {
    const q = S.parseQueueUrl("redis://user:secret@example.org:7000/mtl-sweeps");
    expect(q).toMatchObject({
      name: "mtl-sweeps",
      server: "example.org:7000",
      connection: { host: "example.org", port: 7000, username: "user", password: "secret" },
    });
    expect(q.url).not.toContain("secret");
    expect(S.parseQueueUrl("redis://localhost/x").connection.port).toBe(6379);
    expect(() => S.parseQueueUrl("http://localhost:6379/x")).toThrowError(/must start with redis:\/\//);
    expect(() => S.parseQueueUrl("redis://localhost:6379")).toThrowError(/needs a queue name/);
    expect(() => S.parseQueueUrl("not a url")).toThrowError(/is not a URL/);
  });
});
