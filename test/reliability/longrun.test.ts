/** A long run (10 000 steps) keeps the tensor count and tensor memory flat. */
import * as tf from "@tensorflow/tfjs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { eachBackend } from "../helpers/backends";

/** Live heap after a full garbage collection, so garbage not yet collected does not count. */
function liveHeap(): number {
  setFlagsFromString("--expose_gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
}

eachBackend(() => {
  describe("a 10 000-step run", () => {
    it("keeps tensors and their memory flat", async () => {
      const rng = new mtl.Rng(1);
      const x = Array.from({ length: 32 }, () => [rng.normal(), rng.normal(), rng.normal()]);
      const tasks = [mtl.tasks.classification("c", { classes: 2 }), mtl.tasks.regression("r")];
      const data = mtl.fromArrays({ x, targets: { c: x.map((r) => (r[0] > 0 ? 1 : 0)), r: x.map((r) => r[1]) }, tasks });
      const model = mtl.hardSharing({ inputSize: 3, trunk: [8], tasks, seed: 2 });
      const trainer = new mtl.Trainer({ model, tasks, batchSize: 8, progress: false, regularizers: [mtl.regularizers.l1(1e-4)] });
      await trainer.fit(data, { epochs: 1 });
      const before = tf.memory();
      const heapBefore = liveHeap();
      await trainer.fit(data, { epochs: 2500 }); // 4 steps per epoch
      const after = tf.memory();
      expect(trainer.step).toBe(10_004);
      expect(after.numTensors).toBe(before.numTensors);
      expect(after.numBytes).toBe(before.numBytes);
      // The history grows by one small record per step (a few hundred bytes); a leak would show here.
      const perStep = (liveHeap() - heapBefore) / 10_000;
      expect(perStep).toBeLessThan(2048);
      model.dispose();
    }, 180_000);
  });
});
