/**
 * The guide's two-task example in mtlkit: one shared linear layer (ReLU), a cross-entropy head and
 * a regression head, L_total = L_1 + L_2, Adam. Synthetic data; prints per-epoch losses and metrics.
 * Run: npm run build && node dist/examples/seed.js
 */
import * as mtl from "../lib";

async function main(): Promise<void> {
  const info = await mtl.useBestBackend();
  console.log(`backend: ${info.backend} (${info.device})`);
  const rng = new mtl.Rng(42);
  const rows = 2000;
  const inputSize = 20;
  const x = Array.from({ length: rows }, () => Array.from({ length: inputSize }, () => rng.normal()));
  // Task 1: which of 4 quadrants the first two features fall in; task 2: a noisy linear value.
  const quadrant = x.map((r) => (r[0] > 0 ? 1 : 0) + (r[1] > 0 ? 2 : 0));
  const value = x.map((r) => r[0] - 2 * r[2] + 0.5 * r[3] + 0.1 * rng.normal());

  const tasks = [mtl.tasks.classification("quadrant", { classes: 4 }), mtl.tasks.regression("value")];
  const data = mtl.fromArrays({ x, targets: { quadrant, value }, tasks });
  const { train, validation, test } = mtl.split(data, { seed: 1 });
  const model = mtl.hardSharing({ inputSize, trunk: [64], tasks, seed: 7 });
  const trainer = new mtl.Trainer({ model, tasks, epochs: 10, batchSize: 64, seed: 3 });
  await trainer.fit(train, { validation });
  const result = trainer.evaluate(test);
  for (const [task, r] of Object.entries(result)) {
    const metrics = Object.entries(r.metrics)
      .map(([m, v]) => `${m} ${v.toFixed(3)}`)
      .join(", ");
    console.log(`${task}: loss ${r.loss.toFixed(4)}; ${metrics}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
