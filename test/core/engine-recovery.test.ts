/**
 * After the kernel terminates a cell's synchronous run (SIGINT), no finally block has run: a tf.tidy
 * or tf.variableGrads cut short leaves its scope open. The cell hook closes what the run left open.
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import "../../lib";
import { tfjsCellHook } from "../../lib/util/engineRecovery";
import { Reads, readsSync, readsSyncScoped } from "../../lib/util/reads";

type State = {
  scopeStack: unknown[];
  gradientDepth: number;
  kernelDepth: number;
  activeTape: unknown;
  activeScope?: { track: tf.Tensor[] };
};
const state = () => (tf.engine() as unknown as { state: State }).state;

describe("tfjs engine repair after a terminated cell", () => {
  it("is registered for the kernel under Symbol.for('mtlkit.cellHooks')", () => {
    const hooks = (globalThis as Record<symbol, unknown>)[Symbol.for("mtlkit.cellHooks")];
    expect(hooks instanceof Set && hooks.has(tfjsCellHook)).toBe(true);
  });

  it("closes the scopes and tape the terminated run left open, freeing their tensors, and keeps what came before", async () => {
    await tf.setBackend("cpu");
    const before = tf.ones([3]); // made before the cell: not the hook's to free
    const tensors = tf.memory().numTensors;
    tfjsCellHook.before();
    // What a tidy inside variableGrads looks like when V8 stops it halfway.
    const engine = tf.engine() as unknown as { startScope(name?: string): void };
    engine.startScope("tidy");
    state().gradientDepth++;
    state().activeTape = [];
    engine.startScope("forward");
    const abandoned = [tf.ones([2, 2]), tf.zeros([5])];
    expect(state().scopeStack.length).toBe(2);
    tfjsCellHook.terminated();
    expect(state().scopeStack.length).toBe(0);
    expect(state().gradientDepth).toBe(0);
    expect(state().activeTape).toBeFalsy();
    expect(abandoned.every((t) => t.isDisposed)).toBe(true);
    expect(before.isDisposed).toBe(false);
    expect(tf.memory().numTensors).toBe(tensors);
    // tidy works again afterwards.
    const kept = tf.tidy(() => tf.add(before, 1));
    expect(Array.from(await kept.data())).toEqual([2, 2, 2]);
    tf.dispose([before, kept]);
  });

  it("evaluation and prediction read inside a scope the repair closes: the tensor being read when a run is terminated is freed", async () => {
    await tf.setBackend("cpu");
    // Whether the tensor being read is tracked by an open scope at the moment of the read (where V8
    // may terminate an interrupted cell): only then does the repair free it.
    const trackedWhileRead = (drive: (work: Reads<number>) => number) => {
      let tracked = false;
      function* work(): Reads<number> {
        const t = tf.ones([4]);
        const read = t.dataSync.bind(t);
        t.dataSync = (() => {
          tracked = state().activeScope?.track.includes(t) ?? false;
          return read();
        }) as typeof t.dataSync;
        return (yield t).length;
      }
      const tensors = tf.memory().numTensors;
      expect(drive(work())).toBe(4);
      expect(tf.memory().numTensors).toBe(tensors);
      return tracked;
    };
    expect(trackedWhileRead(readsSync)).toBe(false); // a terminated run would leak it
    expect(trackedWhileRead(readsSyncScoped)).toBe(true);
  });
});
