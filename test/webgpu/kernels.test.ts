/**
 * Kernels mtlkit repairs on webgpu (lib/backends/webgpuKernels.ts), checked against cpu on every
 * backend the machine has: tf.addN with more inputs than one shader may bind (it used to make Dawn
 * drop the whole submit, zeroing the step's losses), and its gradient.
 */
import * as tf from "@tensorflow/tfjs";
import { expect, it } from "vitest";
import { addNInputLimit } from "../../lib/backends/webgpuKernels";
import { eachBackend } from "../helpers/backends";

eachBackend(
  (backend) => {
    it.each([2, 7, 8, 15, 16, 17, 40, 100])("tf.addN of %i tensors is their sum, and leaks nothing", async (n) => {
      if (backend === "webgpu") {
        const limit = addNInputLimit(tf.backend() as never);
        expect(limit).toBeGreaterThanOrEqual(2);
      }
      const xs = Array.from({ length: n }, (_, i) => tf.fill([3, 5], i + 1));
      const before = tf.memory().numTensors;
      const sum = tf.addN(xs);
      // Computed in the same submit as the sum: it must not read as zeros.
      const other = tf.mul(xs[0], 3);
      const [got, also] = await Promise.all([sum.data(), other.data()]);
      expect(Array.from(got)).toEqual(new Array(15).fill((n * (n + 1)) / 2));
      expect(Array.from(also)).toEqual(new Array(15).fill(3));
      tf.dispose([sum, other]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(xs);
    });

    it("the gradient through a wide tf.addN reaches every input", async () => {
      const vs = Array.from({ length: 20 }, (_, i) => tf.variable(tf.scalar(i)));
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.addN(vs))) as tf.Scalar, vs);
      const total = (19 * 20) / 2;
      expect((await value.data())[0]).toBe(total * total);
      const g = await Promise.all(Object.values(grads).map((t) => t.data()));
      expect(g.map((v) => v[0])).toEqual(new Array(20).fill(2 * total));
      tf.dispose([value, ...Object.values(grads), ...vs]);
    });
  },
  { webgpu: true },
);
