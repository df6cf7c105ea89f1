/**
 * The fast matmul gradient of ops/linear against plain autodiff of `tf.matMul(x, W) + b`.
 *
 * - cpu: the fast path's gradients are bit-for-bit identical to autodiff's (both run the same
 *   multiply-add loop; a materialised transpose only changes the memory layout).
 * - wasm: autodiff's transposed products run tfjs-backend-wasm's naive loop, the fast path runs
 *   XNNPACK, which sums in another order; they agree within float32 rounding, checked with the
 *   standard bound for a length-k dot product, |ĉ − c| ≤ γ_k (|A|·|B|), γ_k = kε/(1 − kε),
 *   ε = 2⁻²⁴, doubled because both sides round. The bias gradient is the same op on both sides:
 *   identical.
 * - Only the gradients the tape needs are formed (no ∂x for a first layer), and on wasm a Dense
 *   layer's backward pass never calls BatchMatMul with a transpose flag (the slow loop).
 */
import * as tf from "@tensorflow/tfjs";
import { afterEach, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { linear } from "../../lib/ops/linear";
import { transposesExplicitly } from "../../lib/ops/matmul";
import { eachBackend, setBackend } from "../helpers/backends";

const EPS = 2 ** -24;

function randomTensor(rng: mtl.Rng, shape: number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => rng.normal()),
    shape,
  );
}

/** Gradients of Σ (f(x, W, b) ⊙ U) w.r.t. x, W (and b), U a fixed random cotangent. */
function gradsOf(
  f: (x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D) => tf.Tensor2D,
  x: tf.Tensor2D,
  w: tf.Tensor2D,
  u: tf.Tensor2D,
  b?: tf.Tensor1D,
): tf.Tensor[] {
  const inputs = b ? [x, w, b] : [x, w];
  return tf.grads((...args: tf.Tensor[]) =>
    tf.sum(tf.mul(f(args[0] as tf.Tensor2D, args[1] as tf.Tensor2D, args[2] as tf.Tensor1D | undefined), u)),
  )(inputs);
}

const autodiff = (x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D) => {
  const y = tf.matMul(x, w);
  return (b ? tf.add(y, b) : y) as tf.Tensor2D;
};

/** max_ij |a − c| / (γ_k (|A|·|B|)_ij): at most 2 when both products are within float32 rounding. */
async function roundingRatio(a: tf.Tensor, c: tf.Tensor, absProduct: tf.Tensor, k: number): Promise<number> {
  const gamma = (k * EPS) / (1 - k * EPS);
  const [av, cv, bound] = await Promise.all([a.data(), c.data(), absProduct.data()]);
  let worst = 0;
  for (let i = 0; i < av.length; i++) worst = Math.max(worst, Math.abs(av[i] - cv[i]) / (gamma * bound[i] + 1e-30));
  return worst;
}

/** Shapes [m, k, n] from a seeded generator, with the edge sizes 1 among them. */
function randomShapes(rng: mtl.Rng): Array<[number, number, number]> {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [1, 7, 3],
    [5, 1, 4],
    [6, 3, 1],
  ];
  for (let i = 0; i < 6; i++) shapes.push([1 + rng.int(70), 1 + rng.int(90), 1 + rng.int(60)]);
  shapes.push([64, 300, 96]);
  return shapes;
}

eachBackend(
  (backend) => {
    describe("linear: the fast gradient equals autodiff's", () => {
      for (const withBias of [true, false]) {
        it(`random shapes, ${withBias ? "with" : "without"} bias`, async () => {
          const rng = new mtl.Rng(withBias ? 11 : 12);
          const before = tf.memory().numTensors;
          const read = async (t: tf.Tensor) => Array.from(await t.data());
          for (const [m, k, n] of randomShapes(rng)) {
            // Built in a tidy scope that keeps what it returns; read with await; freed together below.
            const made = tf.tidy(() => {
              const x = randomTensor(rng, [m, k]) as tf.Tensor2D;
              const w = randomTensor(rng, [k, n]) as tf.Tensor2D;
              const b = withBias ? (randomTensor(rng, [n]) as tf.Tensor1D) : undefined;
              const u = randomTensor(rng, [m, n]) as tf.Tensor2D;
              return {
                forward: [linear(x, w, b), autodiff(x, w, b)],
                fast: gradsOf(linear, x, w, u, b),
                plain: gradsOf(autodiff, x, w, u, b),
                // ∂x = U·Wᵀ sums over n; ∂W = xᵀ·U sums over m.
                bounds: [tf.matMul(tf.abs(u), tf.abs(w), false, true), tf.matMul(tf.abs(x), tf.abs(u), true, false)],
              };
            });
            const { forward, fast, plain, bounds } = made;
            // The forward value is the same ops: identical.
            expect(await read(forward[0])).toEqual(await read(forward[1]));
            expect(fast.map((g) => g.shape)).toEqual(plain.map((g) => g.shape));
            const where = `[${m},${k}]×[${k},${n}]`;
            if (backend === "cpu") {
              for (const [i, g] of fast.entries()) expect(await read(g), `${where} gradient ${i}`).toEqual(await read(plain[i]));
            } else {
              expect(await roundingRatio(fast[0], plain[0], bounds[0], n), `${where} ∂x`).toBeLessThanOrEqual(2);
              expect(await roundingRatio(fast[1], plain[1], bounds[1], m), `${where} ∂W`).toBeLessThanOrEqual(2);
              if (withBias) expect(await read(fast[2]), `${where} ∂b`).toEqual(await read(plain[2]));
            }
            tf.dispose([...forward, ...fast, ...plain, ...bounds]);
          }
          expect(tf.memory().numTensors).toBe(before);
        });
      }

      it("forms only the gradients the tape needs (no ∂x of a first layer), as autodiff does", () => {
        const rng = new mtl.Rng(3);
        const x = randomTensor(rng, [8, 5]) as tf.Tensor2D;
        const w = tf.variable(randomTensor(rng, [5, 4]) as tf.Tensor2D);
        const b = tf.variable(randomTensor(rng, [4]) as tf.Tensor1D);
        const matmulOutputs = (f: () => tf.Scalar) => {
          const shapes: number[][] = [];
          const kernels = wrapBatchMatMul(backend, (_attrs, out) => shapes.push(out));
          try {
            tf.tidy(() => {
              tf.variableGrads(f, [w, b]);
            });
          } finally {
            kernels.restore();
          }
          return shapes;
        };
        const fast = matmulOutputs(() => tf.sum(linear(x, w, b)));
        const plain = matmulOutputs(() => tf.sum(autodiff(x, w, b)));
        // Forward [8,4] and ∂W [5,4]; never ∂x [8,5].
        expect(fast.map((s) => s.join("x")).sort()).toEqual(["5x4", "8x4"]);
        expect(fast.map((s) => s.join("x")).sort()).toEqual(plain.map((s) => s.join("x")).sort());
        tf.dispose([x, w, b]);
      });
    });
  },
  { webgpu: true },
);

interface Wrapped {
  restore(): void;
}

/**
 * Replaces `backend`'s BatchMatMul with a wrapper that reports each call's attributes and output
 * shape (the shape without the batch dimension), then runs the original kernel.
 */
function wrapBatchMatMul(
  backend: string,
  onCall: (attrs: { transposeA: boolean; transposeB: boolean }, outShape: number[]) => void,
): Wrapped {
  const original = tf.getKernel(tf.BatchMatMul, backend);
  if (!original) throw new Error(`no BatchMatMul kernel on ${backend}`);
  tf.unregisterKernel(tf.BatchMatMul, backend);
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const out = original.kernelFunc(args) as tf.TensorInfo;
      const attrs = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      onCall({ transposeA: Boolean(attrs.transposeA), transposeB: Boolean(attrs.transposeB) }, out.shape.slice(-2));
      return out;
    },
  });
  return {
    restore() {
      tf.unregisterKernel(tf.BatchMatMul, backend);
      tf.registerKernel(original);
    },
  };
}

describe("on wasm, Dense layers never call BatchMatMul with a transpose flag", () => {
  let wrapped: Wrapped | undefined;
  afterEach(() => {
    wrapped?.restore();
    wrapped = undefined;
  });

  it("a training step of a hard-sharing model: every product runs the plain kernel, and only the needed ones run", async () => {
    await setBackend("wasm");
    mtl.backends.disableNativeKernels(); // the plain wasm kernel, not mtlkit's native one
    expect(transposesExplicitly()).toBe(true);
    const tasks = [mtl.tasks.classification("c", { classes: 3 }), mtl.tasks.regression("r")];
    const model = mtl.hardSharing({ inputSize: 7, trunk: [9, 6], tasks, seed: 1 });
    const trainer = new mtl.Trainer({ model, tasks, progress: false });
    const rng = new mtl.Rng(5);
    const x = randomTensor(rng, [10, 7]) as tf.Tensor2D;
    const targets = [tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], "int32"), randomTensor(rng, [10, 1])];
    await trainer.trainStep(x, targets); // optimizer slots are created outside the count

    const calls: Array<{ transposeA: boolean; transposeB: boolean }> = [];
    wrapped = wrapBatchMatMul("wasm", (attrs) => calls.push(attrs));
    // The wrapper sees flags when they are there (so the check below can fail).
    tf.tidy(() => tf.matMul(x, x, false, true));
    expect(calls).toEqual([{ transposeA: false, transposeB: true }]);
    calls.length = 0;

    const before = tf.memory().numTensors;
    await trainer.trainStep(x, targets);
    expect(tf.memory().numTensors).toBe(before);
    expect(calls.filter((c) => c.transposeA || c.transposeB)).toEqual([]);
    // 4 layers: 4 forward products, 4 kernel gradients, 3 input gradients (not the first layer's).
    expect(calls.length).toBe(11);
    tf.dispose([x, ...targets]);
    model.dispose();
  });
});
