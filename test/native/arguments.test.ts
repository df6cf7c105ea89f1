/**
 * The native addon checks every argument before touching memory (issue 19): negative strides,
 * sizes whose products overflow or exceed an int, values that are not booleans or whole numbers,
 * and unknown enum codes are JavaScript errors naming the argument, never reads outside the arrays
 * or a silently different computation. The addon is called directly, as lib/native does.
 */
import { describe, expect, it } from "vitest";
import { loadNative } from "../../lib/native";

const { addon, status } = loadNative();
const required = process.env.MTLKIT_REQUIRE_NATIVE === "1";

/** The raw addon, typed loosely so that wrong arguments can be passed. */
type Loose = Record<string, (...args: unknown[]) => unknown>;
const raw = addon as unknown as Loose;

const f32 = (n: number, fill = 1) => new Float32Array(n).fill(fill);

describe("native addon arguments", () => {
  it("is available where the build is required", () => {
    if (required) expect(status.available, status.reason).toBe(true);
  });
});

describe.runIf(status.available)("gemm argument checks", () => {
  const gemm = (...args: unknown[]) => raw.gemm(...args);

  it("still multiplies valid operands (batched, with a broadcast operand)", () => {
    const a = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]); // 2 × (2×2)
    const b = new Float32Array([1, 0, 0, 1]); // 2×2 identity, broadcast
    const c = f32(8, NaN);
    gemm(false, false, 2, 2, 2, 2, a, 4, b, 0, c);
    expect(Array.from(c)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("rejects a negative stride that would read before the array (batch 2, strideA −6, m·k 6)", () => {
    // The old check: (batch−1)·strideA + m·k = −6 + 6 = 0 ≤ length, so it passed and read a[−6…−1].
    expect(() => gemm(false, false, 2, 2, 2, 3, f32(6), -6, f32(6), 0, f32(8))).toThrow(
      /mtlkit native: gemm strides must be 0 \(broadcast\) or positive \(got strideA -6, strideB 0\)/,
    );
    expect(() => gemm(false, false, 2, 2, 2, 3, f32(6), 6, f32(12), -6, f32(8))).toThrow(RangeError);
  });

  it("rejects sizes whose products overflow int64, and sizes BLAS cannot take as an int", () => {
    // batch·m·n = 4·(2^31−1)^2 wraps to a negative int64: the old check passed it (with k 0, a and b
    // need nothing) and BLAS wrote 2^62 floats into a 4-element array.
    expect(() => gemm(false, false, 4, 2 ** 31 - 1, 2 ** 31 - 1, 0, f32(4), 0, f32(4), 0, f32(4))).toThrow(/gemm sizes overflow/);
    expect(() => gemm(false, false, 1, 2 ** 31 - 1, 1, 2 ** 31 - 1, f32(4), 0, f32(4), 0, f32(4))).toThrow(/do not fit/);
    expect(() => gemm(false, false, 3, 1, 1, 1, f32(4), 2 ** 62, f32(4), 0, f32(4))).toThrow(
      /argument 'strideA' must be a whole number within ±2\^53/,
    );
    expect(() => gemm(false, false, 1, 2 ** 32 + 1, 1, 1, f32(4), 0, f32(4), 0, f32(4))).toThrow(
      /argument 'm' must be between 0 and 2147483647 \(got 4294967297\)/,
    );
    expect(() => gemm(false, false, 0, 1, 1, 1, f32(1), 0, f32(1), 0, f32(1))).toThrow(/argument 'batch' must be between 1/);
    expect(() => gemm(false, false, 1, -1, 1, 1, f32(1), 0, f32(1), 0, f32(1))).toThrow(/argument 'm' must be between 0/);
  });

  it("rejects operands too short for their shapes", () => {
    expect(() => gemm(false, false, 2, 2, 2, 2, f32(7), 4, f32(4), 0, f32(8))).toThrow(/a needs 8 of 7/);
    expect(() => gemm(false, false, 2, 2, 2, 2, f32(8), 4, f32(4), 0, f32(7))).toThrow(/, c 8 of 7\)/);
  });

  it("rejects non-boolean transposes and non-integer sizes instead of reading them as false or truncating", () => {
    expect(() => gemm(1, false, 1, 1, 1, 1, f32(1), 0, f32(1), 0, f32(1))).toThrow(/argument 'transA' must be a boolean/);
    expect(() => gemm(false, "yes", 1, 1, 1, 1, f32(1), 0, f32(1), 0, f32(1))).toThrow(/argument 'transB' must be a boolean/);
    expect(() => gemm(false, false, 1, 1.5, 1, 1, f32(2), 0, f32(2), 0, f32(2))).toThrow(/argument 'm' must be a whole number/);
    expect(() => gemm(false, false, 1, NaN, 1, 1, f32(2), 0, f32(2), 0, f32(2))).toThrow(/argument 'm' must be a whole number/);
    expect(() => gemm(false, false, 1, "2", 1, 1, f32(2), 0, f32(2), 0, f32(2))).toThrow(/argument 'm' must be an integer/);
    expect(() => gemm(false, false, 1, 1, 1, 1, [1], 0, f32(1), 0, f32(1))).toThrow(/argument 'a' must be a Float32Array/);
    expect(() => gemm(false, false, 1, 1, 1, 1, f32(1), 0, f32(1), 0)).toThrow(/gemm expects 11 arguments/);
  });
});

/** A one-layer trunk and one head, as lib/native/mlpStep.ts builds them. */
function spec(head: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const layer = (inputs: number, outputs: number, relu: unknown) => ({
    kernel: f32(inputs * outputs, 0.1),
    bias: f32(outputs, 0),
    mKernel: f32(inputs * outputs, 0),
    vKernel: f32(inputs * outputs, 0),
    mBias: f32(outputs, 0),
    vBias: f32(outputs, 0),
    relu,
  });
  return {
    x: f32(2 * 3, 0.5),
    batch: 2,
    trunk: [layer(3, 4, true)],
    heads: [{ layers: [layer(4, 2, false)], loss: 1, target: f32(4, 0), weight: 1, ...head }],
    adam: [0.9, 0.999, 0.1, 0.001, 0.1, 0.001, 1e-7, -0.01],
    clipNorm: 0,
    ...extra,
  };
}

describe.runIf(status.available && typeof raw?.mlpStep === "function")("mlpStep argument checks", () => {
  const step = (s: unknown) => raw.mlpStep(s) as { losses: number[] };

  it("runs a valid step", () => {
    expect(step(spec()).losses).toHaveLength(1);
  });

  it("rejects an unknown loss code instead of running sigmoid cross-entropy", () => {
    expect(() => step(spec({ loss: 3 }))).toThrow(
      /mlpStep head 0 has unknown loss code 3 \(0 softmax cross-entropy, 1 mean squared error, 2 sigmoid cross-entropy\)/,
    );
    expect(() => step(spec({ loss: -1 }))).toThrow(RangeError);
  });

  it("rejects a relu flag that is not a boolean, and non-finite head weights", () => {
    const s = spec();
    (s.trunk[0] as { relu: unknown }).relu = "yes";
    expect(() => step(s)).toThrow(/argument 'relu' must be a boolean/);
    expect(() => step(spec({ weight: NaN }))).toThrow(/head 0 has a weight that is not finite/);
  });

  it("rejects missing or malformed parts with the part's name", () => {
    expect(() => step(null)).toThrow(/mlpStep expects one object/);
    expect(() => step(spec({}, { trunk: undefined }))).toThrow(/argument 'trunk' must be an array/);
    expect(() => step(spec({}, { heads: 5 }))).toThrow(/argument 'heads' must be an array/);
    expect(() => step(spec({}, { adam: [0.9] }))).toThrow(/adam must hold 8 numbers \(got 1\)/);
    expect(() => step(spec({}, { batch: 2.5 }))).toThrow(/argument 'batch' must be a whole number/);
    expect(() => step(spec({ target: undefined }))).toThrow(/target must be a typed array/);
  });
});

describe.runIf(status.available)("sumOfSquares and setThreads argument checks", () => {
  it("rejects what is not an array of Float32Arrays, and non-integer thread counts", () => {
    expect(raw.sumOfSquares([new Float32Array([3, 4])])).toBe(25);
    expect(() => raw.sumOfSquares([new Float32Array(1), [1]])).toThrow(/argument 'arrays\[i\]' must be a Float32Array/);
    expect(() => raw.sumOfSquares("x")).toThrow(/expects an array of Float32Arrays/);
    expect(() => raw.setThreads(1.5)).toThrow(/argument 'threads' must be a whole number/);
    expect(() => raw.setThreads()).toThrow(/setThreads expects a number of threads/);
  });
});
