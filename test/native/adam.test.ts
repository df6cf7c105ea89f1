/**
 * mtlkit's Adam is torch.optim.Adam's update: bias corrections 1 − βᵗ in float64 from the step
 * count, step constants −lr/(1 − β₁ᵗ) and sqrt(1 − β₂ᵗ) in float64, every tensor operation in
 * float32. Checked bit for bit against a scalar float32 simulation of that formula (Math.fround
 * after each operation), on the tfjs-op path, the JavaScript host kernel and the fused native
 * kernel, on every CPU backend.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { disableNativeKernels, enableNativeKernels, loadNative } from "../../lib/native";
import { hostAdamFor, JS_ADAM_WASM_LIMIT, jsHostKernels, useJsHostKernels } from "../../lib/native/hostKernels";
import { writableView, HeapBackend } from "../../lib/native/views";
import { eachBackend } from "../helpers/backends";

const f = Math.fround;

/** PyTorch's Adam on one float32 array, simulated op by op in float32 (constants formed in float64). */
function referenceAdam(value: Float32Array, grads: Float32Array[], lr: number, beta1: number, beta2: number, eps: number): Float32Array {
  const x = Float32Array.from(value);
  const m = new Float32Array(x.length);
  const v = new Float32Array(x.length);
  grads.forEach((g, i) => {
    const t = i + 1;
    const negStep = f(-lr / (1 - Math.pow(beta1, t)));
    const sqrtBc2 = f(Math.sqrt(1 - Math.pow(beta2, t)));
    for (let j = 0; j < x.length; j++) {
      m[j] = f(f(m[j] * f(beta1)) + f(g[j] * f(1 - beta1)));
      v[j] = f(f(v[j] * f(beta2)) + f(f(g[j] * g[j]) * f(1 - beta2)));
      const denom = f(f(f(Math.sqrt(v[j])) / sqrtBc2) + f(eps));
      x[j] = f(f(f(m[j] / denom) * negStep) + x[j]);
    }
  });
  return x;
}

/** A variable that owns its memory (one made from a live tensor shares it, and is updated with tfjs ops). */
function ownVariable(initial: tf.Tensor): tf.Variable {
  const v = tf.variable(initial);
  initial.dispose();
  return v;
}

/** Whether `v` is updated in place on this path: its memory is its own and a host kernel serves the backend. */
function updatedInPlace(v: tf.Variable): boolean {
  const backend = tf.backend() as unknown as HeapBackend;
  return hostAdamFor(tf.getBackend(), v.size) !== undefined && writableView(tf.getBackend(), backend, v) !== undefined;
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  return a.reduce((worst, x, i) => Math.max(worst, Math.abs(x - b[i])), 0);
}

const PATHS = loadNative().status.available ? (["tfjs ops", "javascript", "native"] as const) : (["tfjs ops", "javascript"] as const);

describe("mtlkit's Adam", () => {
  afterAll(() => {
    disableNativeKernels();
    useJsHostKernels(true);
  });

  eachBackend((backend) => {
    for (const path of PATHS) {
      const setPath = () => {
        if (path === "native") enableNativeKernels();
        else disableNativeKernels();
        useJsHostKernels(path !== "tfjs ops");
      };

      it(`equals PyTorch's update in float32, bit for bit, over 30 steps (${backend}, ${path})`, () => {
        setPath();
        // [100, 90]: above the JavaScript kernel's limit on wasm (the tfjs-op path takes it there).
        const shapes = [[7, 5], [5], [300, 17], [100, 90]];
        const start = shapes.map((s, i) => tf.randomNormal(s, 0, 1, "float32", i + 1).dataSync() as Float32Array);
        const vars = shapes.map((s, i) => ownVariable(tf.tensor(start[i], s)));
        const large = (v: tf.Variable) => backend === "wasm" && path === "javascript" && v.size > JS_ADAM_WASM_LIMIT;
        vars.forEach((v) => expect(updatedInPlace(v)).toBe(path !== "tfjs ops" && !large(v)));
        const grads = Array.from({ length: 30 }, (_, step) =>
          shapes.map((s, i) => tf.randomNormal(s, 0, step + 1, "float32", 100 * step + i).dataSync() as Float32Array),
        );
        const opt = mtl.optimizers.adam({ learningRate: 0.01, beta2: 0.999 });
        for (const stepGrads of grads) {
          const g = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(stepGrads[i], shapes[i])]));
          opt.applyGradients(g as never);
          tf.dispose(Object.values(g));
        }
        vars.forEach((v, i) => {
          const expected = referenceAdam(
            start[i],
            grads.map((g) => g[i]),
            0.01,
            0.9,
            0.999,
            1e-8,
          );
          expect(Array.from(v.dataSync())).toEqual(Array.from(expected));
        });
        expect(opt.iterations).toBe(30);
        tf.dispose(vars);
        opt.dispose();
      });

      it(`takes the JavaScript kernel on plain wasm up to its limit, and on cpu at every size (${backend}, ${path})`, () => {
        setPath();
        const serves = (n: number) => hostAdamFor(backend, n);
        if (path === "javascript") {
          expect(serves(JS_ADAM_WASM_LIMIT)).toBe(jsHostKernels);
          expect(serves(JS_ADAM_WASM_LIMIT + 1)).toBe(backend === "wasm" ? undefined : jsHostKernels);
        } else if (path === "native") {
          expect(serves(10 * JS_ADAM_WASM_LIMIT)).toBe(loadNative().addon);
        } else expect(serves(1)).toBeUndefined();
      });

      it(`a matmul after the update sees the new weights, also where one before it cached them packed (${backend}, ${path})`, () => {
        // tfjs-wasm caches XNNPACK operators holding packed weights by the weight tensor's id; an
        // in-place update must drop them. The first matmul runs on the backend's own kernel.
        disableNativeKernels();
        const w = ownVariable(tf.randomNormal([6, 3], 0, 1, "float32", 7));
        const x = tf.randomNormal([2, 6], 0, 1, "float32", 8);
        tf.dispose(tf.matMul(x, w));
        setPath();
        const opt = mtl.optimizers.adam({ learningRate: 0.1 });
        expect(updatedInPlace(w)).toBe(path !== "tfjs ops");
        const g = tf.onesLike(w);
        opt.applyGradients({ [w.name]: g } as never);
        disableNativeKernels();
        const after = tf.matMul(x, w);
        const expected = tf.matMul(x, tf.add(w, 0)); // a fresh tensor: no cache entry
        expect(maxAbsDifference(after.dataSync() as Float32Array, expected.dataSync() as Float32Array)).toBeLessThan(1e-6);
        tf.dispose([w, x, g, after, expected]);
        opt.dispose();
      });

      it(`leaves the arrays the user holds as they were: the tensor's source and an earlier read (${backend}, ${path})`, async () => {
        setPath();
        const source = new Float32Array([1, 2, 3, 4]);
        const w = ownVariable(tf.tensor1d(source)); // on cpu the tensor keeps `source` as its memory
        const read = await w.data(); // on cpu the stored array itself
        const opt = mtl.optimizers.adam({ learningRate: 0.5 });
        const g = tf.tensor1d([1, -1, 1, -1]);
        opt.applyGradients({ [w.name]: g } as never);
        expect(Array.from(source)).toEqual([1, 2, 3, 4]);
        expect(Array.from(read)).toEqual([1, 2, 3, 4]);
        Array.from(await w.data()).forEach((x, i) => expect(x).toBeCloseTo([0.5, 2.5, 2.5, 4.5][i], 6)); // θ − lr·sign(g)
        tf.dispose([w, g]);
        opt.dispose();
      });

      it(`forms 1 − βᵗ in float64: the first step moves θ by −lr·sign(g) to float32 rounding (${backend}, ${path})`, () => {
        setPath();
        // With ε negligible the first step is exactly −lr·sign(g) in real arithmetic; tfjs's
        // float32 1 − β₂ (1.3e-5 relative off at t = 1) leaves θ 6.6e-6 away from it.
        const v = ownVariable(tf.tensor1d([0]));
        const opt = mtl.optimizers.adam({ learningRate: 1, beta2: 0.999, epsilon: 1e-30 });
        const g = tf.tensor1d([3]);
        opt.applyGradients({ [v.name]: g } as never);
        expect(Math.abs(v.dataSync()[0] + 1)).toBeLessThan(3e-7);
        tf.dispose([v, g]);
        opt.dispose();
      });

      it(`reads no tensor synchronously, leaks nothing and keeps no float32 β powers (${backend}, ${path})`, () => {
        setPath();
        const vars = [ownVariable(tf.ones([4, 3])), ownVariable(tf.zeros([3]))];
        const opt = mtl.optimizers.adam({ learningRate: 0.1 });
        const step = () => {
          const g = Object.fromEntries(vars.map((v) => [v.name, tf.onesLike(v)]));
          opt.applyGradients(g as never);
          tf.dispose(Object.values(g));
        };
        step(); // creates the slots
        const before = tf.memory().numTensors;
        const proto = tf.Tensor.prototype as unknown as { dataSync: () => unknown; arraySync: () => unknown };
        const [dataSync, arraySync] = [proto.dataSync, proto.arraySync];
        proto.dataSync = proto.arraySync = () => {
          throw new Error("synchronous read on the update path");
        };
        try {
          for (let i = 0; i < 3; i++) step();
        } finally {
          proto.dataSync = dataSync;
          proto.arraySync = arraySync;
        }
        expect(tf.memory().numTensors).toBe(before);
        expect((opt as unknown as Record<string, unknown>).accBeta1).toBeUndefined();
        tf.dispose(vars);
        opt.dispose();
        expect(tf.memory().numTensors).toBe(before - 2 - 4); // the two variables and their four slots
      });
    }

    it(`a state saved by getWeights and restored by setWeights continues the same steps (${backend})`, async () => {
      disableNativeKernels();
      const make = () => [
        ownVariable(
          tf.tensor2d([
            [1, -2],
            [3, 0.5],
          ]),
        ),
        ownVariable(tf.tensor1d([0.1, -0.2])),
      ];
      const gradsAt = (t: number, vars: tf.Variable[]) =>
        Object.fromEntries(vars.map((v, i) => [v.name, tf.fill(v.shape, Math.sin(t + i), "float32")]));
      const straight = make();
      const opt = mtl.optimizers.adam({ learningRate: 0.05 });
      for (let t = 0; t < 12; t++) {
        const g = gradsAt(t, straight);
        opt.applyGradients(g as never);
        tf.dispose(Object.values(g));
      }
      const resumed = make();
      const first = mtl.optimizers.adam({ learningRate: 0.05 });
      for (let t = 0; t < 5; t++) {
        const g = gradsAt(t, resumed);
        first.applyGradients(g as never);
        tf.dispose(Object.values(g));
      }
      const saved = (await first.getWeights()).map((w) => ({ name: w.name, tensor: w.tensor.clone() }));
      const second = mtl.optimizers.adam({ learningRate: 0.05 });
      await second.setWeights(saved);
      tf.dispose(saved.map((w) => w.tensor));
      expect(second.iterations).toBe(5);
      for (let t = 5; t < 12; t++) {
        const g = gradsAt(t, resumed);
        second.applyGradients(g as never);
        tf.dispose(Object.values(g));
      }
      resumed.forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(Array.from(straight[i].dataSync())));
      tf.dispose([...straight, ...resumed]);
      [opt, first, second].forEach((o) => o.dispose());
    });

    it(`falls back to tfjs ops for a variable whose memory is shared (${backend})`, () => {
      if (PATHS.length > 1) enableNativeKernels();
      const init = tf.tensor1d([1, 2, 3]);
      const v = tf.variable(init); // shares init's memory: an in-place update would change `init`
      const opt = mtl.optimizers.adam({ learningRate: 0.1 });
      const g = tf.tensor1d([1, 1, 1]);
      opt.applyGradients({ [v.name]: g } as never);
      expect(Array.from(init.dataSync())).toEqual([1, 2, 3]);
      expect(v.dataSync()[0]).toBeCloseTo(0.9, 5);
      tf.dispose([init, v, g]);
      opt.dispose();
    });
  });
});
