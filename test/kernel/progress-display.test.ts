/**
 * Training progress in a notebook, without a kernel: a fake `Symbol.for("mtlkit.display")` hook
 * records what the Trainer sends. A fast fit must redraw at most ~10 times a second and end on the
 * final state (100 %, the last losses), also when it is interrupted.
 */
import { afterEach, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { throttled } from "../../lib/train/progress";

const HOOK = Symbol.for("mtlkit.display");

interface Sent {
  bundle: Record<string, unknown>;
  options?: { displayId?: string; update?: boolean };
}

function recordDisplays(): Sent[] {
  const sent: Sent[] = [];
  (globalThis as Record<symbol, unknown>)[HOOK] = (bundle: Record<string, unknown>, options?: Sent["options"]) =>
    void sent.push({ bundle, options });
  return sent;
}

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[HOOK];
});

function fastTrainer(epochs: number, onStepEnd?: (r: mtl.StepRecord) => void) {
  const rng = new mtl.Rng(1);
  const x = Array.from({ length: 40 }, () => [rng.normal(), rng.normal()]);
  const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];
  const data = mtl.fromArrays({ x, targets: { a: x.map((r) => r[0]), b: x.map((r) => r[1]) }, tasks });
  const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });
  // 20 steps per epoch
  const trainer = new mtl.Trainer({ model, tasks, batchSize: 2, epochs, callbacks: onStepEnd ? { onStepEnd } : undefined });
  return { trainer, model, data };
}

const html = (s: Sent) => String(s.bundle["text/html"]);

describe("notebook progress", () => {
  it("redraws at most ~10 times a second over thousands of steps and ends at 100 % with the final losses", async () => {
    const sent = recordDisplays();
    const { trainer, model, data } = fastTrainer(150); // 3,000 steps
    const t0 = performance.now();
    await trainer.fit(data);
    const seconds = (performance.now() - t0) / 1000;
    expect(trainer.history.steps).toHaveLength(3000);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 2);
    // One display, created once and updated in place.
    const ids = new Set(sent.map((s) => s.options?.displayId));
    expect(ids.size).toBe(1);
    expect(sent.map((s) => s.options?.update)).toEqual(sent.map((_, i) => i > 0));
    // The last redraw is the final state.
    const last = sent.at(-1)!;
    expect(html(last)).toContain('<progress value="1.0000"');
    expect(String(last.bundle["text/plain"])).toMatch(/^█{30} epoch 150\/150 {2}step 3000 /);
    const final = trainer.history.steps.at(-1)!;
    expect(String(last.bundle["text/plain"])).toContain(`loss a ${final.losses[0].toPrecision(4)}  b ${final.losses[1].toPrecision(4)}`);
    model.dispose();
  });

  it("shows the state at the interrupted step, not an earlier one", async () => {
    const sent = recordDisplays();
    const controller = new AbortController();
    const { trainer, model, data } = fastTrainer(100, (r) => {
      if (r.step === 1009) controller.abort();
    });
    await expect(trainer.fit(data, { signal: controller.signal })).rejects.toBeInstanceOf(mtl.TrainingInterrupted);
    const last = sent.at(-1)!;
    expect(String(last.bundle["text/plain"])).toContain("epoch 51/100  step 1010 ");
    expect(html(last)).toContain('<progress value="0.5050"');
    model.dispose();
  });

  it("a second fit continues the count: epoch 3/3 at 100 %", async () => {
    const sent = recordDisplays();
    const { trainer, model, data } = fastTrainer(2);
    await trainer.fit(data);
    await trainer.fit(data, { epochs: 1 });
    const last = sent.at(-1)!;
    expect(String(last.bundle["text/plain"])).toContain("epoch 3/3  step 60 ");
    expect(html(last)).toContain('<progress value="1.0000"');
    expect(new Set(sent.map((s) => s.options?.displayId)).size).toBe(2); // one display per fit
    model.dispose();
  });
});

describe("throttled", () => {
  it("draws at most once per interval, keeps the newest held value and flushes it", () => {
    let now = 0;
    const drawn: number[] = [];
    const t = throttled(
      (v: number) => drawn.push(v),
      100,
      () => now,
    );
    for (let i = 0; i < 1000; i++) {
      t.offer(i);
      now += 1; // 1000 offers over 1 s
    }
    expect(drawn).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
    t.flush();
    expect(drawn.at(-1)).toBe(999);
    t.flush(); // nothing held any more
    expect(drawn).toHaveLength(11);
    t.offer(1000, true); // forced: drawn at once
    expect(drawn.at(-1)).toBe(1000);
  });
});
