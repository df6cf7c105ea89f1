/** The fused native Adam update equals tfjs's AdamOptimizer: bit for bit on wasm, within float32 rounding on cpu. */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { eachBackend } from "../helpers/backends";

describe.runIf(loadNative().status.available)("fused native Adam", () => {
  afterAll(() => disableNativeKernels());

  eachBackend((backend) => {
    it(`equals tfjs's Adam over 20 steps on ${backend}`, async () => {
      enableNativeKernels();
      const shapes = [[7, 5], [5], [300, 17]];
      const make = () => shapes.map((s, i) => tf.variable(tf.randomNormal(s, 0, 1, "float32", i + 1)));
      const fused = make();
      const plain = make();
      const fusedOpt = mtl.optimizers.adam({ learningRate: 0.01 });
      const plainOpt = tf.train.adam(0.01, 0.9, 0.999, 1e-8);
      for (let step = 0; step < 20; step++) {
        const grads = shapes.map((s, i) => tf.randomNormal(s, 0, step + 1, "float32", 100 * step + i));
        fusedOpt.applyGradients(Object.fromEntries(fused.map((v, i) => [v.name, grads[i]])) as never);
        plainOpt.applyGradients(Object.fromEntries(plain.map((v, i) => [v.name, grads[i]])) as never);
        tf.dispose(grads);
      }
      fused.forEach((v, i) => {
        const a = v.dataSync();
        const b = plain[i].dataSync();
        if (backend === "wasm") expect(Array.from(a)).toEqual(Array.from(b));
        else a.forEach((x, j) => expect(Math.abs(x - b[j])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(b[j]))));
      });
      // Slots and the running β powers stay tfjs's, so checkpoints work unchanged.
      const [fw, pw] = [await fusedOpt.getWeights(), await plainOpt.getWeights()];
      expect(fw.map((w) => w.tensor.shape)).toEqual(pw.map((w) => w.tensor.shape));
      expect(fusedOpt.getClassName()).toBe("Adam");
      const before = tf.memory().numTensors;
      const g = Object.fromEntries(fused.map((v) => [v.name, tf.onesLike(v)]));
      const after1 = tf.memory().numTensors;
      fusedOpt.applyGradients(g);
      expect(tf.memory().numTensors).toBe(after1);
      tf.dispose(Object.values(g));
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([...fused, ...plain]);
      fusedOpt.dispose();
      plainOpt.dispose();
    });

    it("falls back to tfjs's update for a variable whose memory is shared", () => {
      enableNativeKernels();
      const init = tf.tensor1d([1, 2, 3]);
      const v = tf.variable(init); // shares init's memory: an in-place update would change `init`
      const opt = mtl.optimizers.adam({ learningRate: 0.1 });
      opt.applyGradients({ [v.name]: tf.tensor1d([1, 1, 1]) } as never);
      expect(Array.from(init.dataSync())).toEqual([1, 2, 3]);
      expect(v.dataSync()[0]).toBeCloseTo(0.9, 5);
      tf.dispose([init, v]);
      opt.dispose();
    });
  });
});
