/**
 * Bad input, fuzzed: random (often wrong) inputs from an untyped JavaScript caller must either work
 * or throw an MtlError that names the culprit — never a raw tfjs/TypeError, a hang, or NaN output.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";

/** Runs `f`; a thrown error must be an MtlError with a message that names where it happened. */
function workOrExplain<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof mtl.MtlError)) throw new Error(`not an MtlError: ${(e as Error)?.stack ?? String(e)}`);
    expect(e.message).toMatch(/^Error in .+: .+/);
    return undefined;
  }
}

const anyValue = fc.oneof(
  fc.double(),
  fc.integer({ min: -3, max: 5 }),
  fc.constantFrom(NaN, Infinity, -Infinity, null, undefined, "", "a", true, 1e38, -0),
  fc.string({ maxLength: 3 }),
);
const row = fc.array(anyValue, { minLength: 0, maxLength: 4 });
const matrix = fc.oneof(fc.array(row, { minLength: 0, maxLength: 6 }), anyValue, fc.array(fc.double(), { maxLength: 6 }));

const taskSpecs = [
  () => mtl.tasks.classification("c", { classes: 3 }),
  () => mtl.tasks.binary("b"),
  () => mtl.tasks.multiLabel("m", { labels: 2 }),
  () => mtl.tasks.regression("r"),
];

describe("fuzzed bad input", () => {
  it("fromArrays: works or throws an MtlError naming the culprit (and then features are finite)", () => {
    // biome-ignore lint/nursery/noFloatingPromises: fc.assert of a synchronous property returns nothing.
    fc.assert(
      fc.property(
        matrix,
        fc.dictionary(fc.constantFrom("c", "b", "m", "r", "zz"), matrix, { maxKeys: 4 }),
        fc.subarray([0, 1, 2, 3]),
        (x, targets, which) => {
          const tasks = which.map((i) => taskSpecs[i]());
          const data = workOrExplain(() => mtl.fromArrays({ x: x as never, targets: targets as never, tasks }));
          if (data) expect(Array.from(data.features).every(Number.isFinite)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("task, model and trainer options from untyped callers", () => {
    // biome-ignore lint/nursery/noFloatingPromises: fc.assert of a synchronous property returns nothing.
    fc.assert(
      fc.property(anyValue, fc.anything({ maxDepth: 2 }), (name, options) => {
        for (const make of [mtl.tasks.classification, mtl.tasks.binary, mtl.tasks.multiLabel, mtl.tasks.regression]) {
          workOrExplain(() => (make as (n: unknown, o: unknown) => unknown)(name, options));
        }
      }),
      { numRuns: 300 },
    );
    const tasks = [mtl.tasks.regression("r"), mtl.tasks.classification("c", { classes: 2 })];
    // biome-ignore lint/nursery/noFloatingPromises: fc.assert of a synchronous property returns nothing.
    fc.assert(
      fc.property(
        anyValue,
        fc.oneof(fc.array(anyValue, { maxLength: 3 }), anyValue),
        fc.oneof(fc.constantFrom("relu", "tanh"), anyValue),
        (inputSize, trunk, activation) => {
          const model = workOrExplain(() => mtl.hardSharing({ inputSize, trunk, tasks, activation } as never));
          model?.dispose();
        },
      ),
      { numRuns: 300 },
    );
    const model = mtl.hardSharing({ inputSize: 2, trunk: [3], tasks });
    // biome-ignore lint/nursery/noFloatingPromises: fc.assert of a synchronous property returns nothing.
    fc.assert(
      fc.property(
        fc.record(
          {
            epochs: anyValue,
            batchSize: anyValue,
            weights: fc.oneof(fc.array(anyValue, { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 2 }), anyValue), anyValue),
            seed: anyValue,
          },
          { requiredKeys: [] },
        ),
        (options) => {
          workOrExplain(() => new mtl.Trainer({ model, tasks, progress: false, ...(options as object) } as never));
        },
      ),
      { numRuns: 300 },
    );
    model.dispose();
  });

  it("fromDataFrame on random records, and fit/evaluate on things that are not datasets", async () => {
    const tasks = [mtl.tasks.classification("c", { classes: ["x", "y"] }), mtl.tasks.regression("r")];
    // biome-ignore lint/nursery/noFloatingPromises: fc.assert of a synchronous property returns nothing.
    fc.assert(
      fc.property(
        fc.array(fc.record({ f: anyValue, g: anyValue, c: anyValue, r: anyValue }, { requiredKeys: [] }), { maxLength: 6 }),
        fc.constantFrom("refuse", "drop", "x", null),
        (records, missing) => {
          const data = workOrExplain(() => mtl.fromDataFrame(records, { features: ["f", "g"], tasks, missing } as never));
          if (data) expect(Array.from(data.features).every(Number.isFinite)).toBe(true);
        },
      ),
      { numRuns: 400 },
    );
    const model = mtl.hardSharing({ inputSize: 2, trunk: [3], tasks });
    const trainer = new mtl.Trainer({ model, tasks, progress: false });
    await fc.assert(
      fc.asyncProperty(fc.anything({ maxDepth: 2 }), async (garbage) => {
        await trainer.fit(garbage as never).then(
          () => expect.unreachable("fit accepted a non-dataset"),
          (e) => expect(e).toBeInstanceOf(mtl.MtlError),
        );
        workOrExplain(() => trainer.evaluate(garbage as never));
      }),
      { numRuns: 200 },
    );
    model.dispose();
  });

  it("training on extreme but valid data gives finite losses or a NonFiniteLossError", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), {
          minLength: 1,
          maxLength: 20,
        }),
        fc.double({ min: -1e15, max: 1e15, noNaN: true }),
        fc.integer({ min: 1, max: 8 }),
        async (x, scale, batchSize) => {
          const tasks = [mtl.tasks.regression("r"), mtl.tasks.binary("b")];
          const data = mtl.fromArrays({ x, targets: { r: x.map((p) => p[0] * scale), b: x.map((p) => (p[1] > 0 ? 1 : 0)) }, tasks });
          const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });
          const trainer = new mtl.Trainer({ model, tasks, batchSize, epochs: 2, progress: false });
          try {
            await trainer.fit(data);
            for (const s of trainer.history.steps) expect(s.losses.every(Number.isFinite)).toBe(true);
            const result = trainer.evaluate(data);
            for (const r of Object.values(result)) expect(Object.values(r.metrics).every(Number.isFinite)).toBe(true);
          } catch (e) {
            // Huge targets overflow either the loss or, with a finite loss, its gradient.
            expect(e instanceof mtl.NonFiniteLossError || e instanceof mtl.NonFiniteGradientError, String(e)).toBe(true);
          } finally {
            model.dispose();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("cases found by fuzzing (kept as regression tests)", () => {
  it("a layer too large to allocate is refused by name, not a RangeError", () => {
    const tasks = [mtl.tasks.regression("r")];
    expect(() => mtl.hardSharing({ inputSize: 1, trunk: [1e38], tasks })).toThrow(/trunk.0: a 1 × 1e\+38 layer cannot be built/);
  });
});

describe("more cases found by fuzzing", () => {
  it("null options are refused by name", () => {
    expect(() => mtl.tasks.classification("A", null as never)).toThrow(/classification\('A'\): options must be an object, got null/);
    expect(() => mtl.tasks.regression("A", null as never)).toThrow(/options must be an object, got null/);
  });
});

describe("a finite loss whose gradient's squares overflow float32 (found by fuzzing)", () => {
  it("trains: the gradient norm is computed without overflow and every loss stays finite", async () => {
    const tasks = [mtl.tasks.regression("r"), mtl.tasks.binary("b")];
    const x = [
      [135.42288970947268, 0],
      [0, 0],
    ];
    const data = mtl.fromArrays({ x, targets: { r: x.map((p) => p[0] * 999999886569755), b: [1, 0] }, tasks });
    const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });
    const trainer = new mtl.Trainer({ model, tasks, batchSize: 1, epochs: 2, progress: false });
    await trainer.fit(data);
    const norms = trainer.history.steps.map((s) => s.gradNorm!);
    expect(norms.every(Number.isFinite)).toBe(true);
    expect(Math.max(...norms)).toBeGreaterThan(1e19); // its square, ~1e38+, would overflow float32
    expect(trainer.history.steps.every((s) => s.losses.every(Number.isFinite))).toBe(true);
    model.dispose();
  });
});

describe("fit and evaluate on non-datasets (found by fuzzing)", () => {
  it("are refused by name", async () => {
    const tasks = [mtl.tasks.regression("r")];
    const model = mtl.hardSharing({ inputSize: 2, trunk: [3], tasks });
    const trainer = new mtl.Trainer({ model, tasks, progress: false });
    await expect(trainer.fit({} as never)).rejects.toThrow(/Trainer.fit \(training data\): expected a dataset made by mtl.fromArrays/);
    expect(() => trainer.evaluate(0 as never)).toThrow(/Trainer.evaluate: expected a dataset.*got number/);
    model.dispose();
  });
});
