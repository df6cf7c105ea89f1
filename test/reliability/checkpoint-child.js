// Child process for the checkpoint tests (runs the compiled library in dist/).
// Usage: node checkpoint-child.js <mode> <backend> <dir> [steps]
//   straight: train 2·steps and print the losses; first: train steps, save; resume: load, train steps;
//   saveLoop: save again and again until killed.
//   saveOnce: resume from dir, train one step and save once (keep 2).
const mtl = require("../../dist/lib");

function setup(seed = 3) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: 60 }, () => Array.from({ length: 6 }, () => rng.normal()));
  const cls = x.map((r) => (r[0] > 0 ? 1 : 0) + (r[1] > 0 ? 1 : 0));
  const reg = x.map((r) => r[2] - r[3] + 0.1 * rng.normal());
  const tasks = [mtl.tasks.classification("cls", { classes: 3 }), mtl.tasks.regression("reg")];
  const data = mtl.fromArrays({ x, targets: { cls, reg }, tasks });
  const model = mtl.hardSharing({ inputSize: 6, trunk: [16, 8], tasks, seed: 5 });
  // batch 16 over 60 rows: 4 steps per epoch, so the resume happens mid-epoch for odd step counts.
  const options = { model, tasks, batchSize: 16, seed: 7, progress: false, regularizers: [mtl.regularizers.l2(1e-3)] };
  return { data, options };
}


async function main() {
  const [mode, backend, dir, stepsArg] = process.argv.slice(2);
  await mtl.useBestBackend({ prefer: /** @type {mtl.backends.BackendName} */ (backend) });
  const steps = Number(stepsArg ?? 10);
  const { data, options } = setup();
  const stopAfter = (n) => ({ onStepEnd: (r) => r.step + 1 < n });
  if (mode === "straight") {
    const trainer = new mtl.Trainer({ ...options, callbacks: stopAfter(2 * steps) });
    await trainer.fit(data, { epochs: 1000 });
    console.log(JSON.stringify(trainer.history.steps.map((s) => s.losses)));
  } else if (mode === "first") {
    const trainer = new mtl.Trainer({ ...options, callbacks: stopAfter(steps) });
    await trainer.fit(data, { epochs: 1000 });
    await trainer.save(dir);
    console.log(JSON.stringify(trainer.history.steps.map((s) => s.losses)));
  } else if (mode === "resume") {
    const trainer = await mtl.Trainer.resume(dir, { ...options, callbacks: stopAfter(2 * steps) });
    await trainer.fit(data, { epochs: 1000 });
    console.log(JSON.stringify(trainer.history.steps.map((s) => s.losses)));
  } else if (mode === "saveLoop") {
    // A killed run is resumed by the next one, as a user would.
    const fs = require("node:fs");
    const resume = fs.existsSync(dir) && fs.readdirSync(dir).some((n) => n.startsWith("step-"));
    const trainer = resume ? await mtl.Trainer.resume(dir, options) : new mtl.Trainer({ ...options, callbacks: stopAfter(3) });
    if (!resume) await trainer.fit(data, { epochs: 1000 });
    // One complete checkpoint exists before the parent may kill us.
    if (!resume) await trainer.save(dir, { keep: 2 });
    process.stdout.write("ready\n");
    for (;;) {
      await trainer.trainStep(
        mtl.tf.tensor2d(data.features.subarray(0, 16 * 6), [16, 6]),
        options.tasks.map((t) => t.targetTensor(mtl.subset(data, Int32Array.from({ length: 16 }, (_, i) => i)).targets[t.name], 16)),
      );
      await trainer.save(dir, { keep: 2 });
    }
  } else if (mode === "saveOnce") {
    // One step past the newest checkpoint, so the save prunes to 2 even when no killed save completed.
    const trainer = await mtl.Trainer.resume(dir, { ...options, callbacks: { onStepEnd: () => false } });
    await trainer.fit(data, { epochs: 1 });
    await trainer.save(dir, { keep: 2 });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
