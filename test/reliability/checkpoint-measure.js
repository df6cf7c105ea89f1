// Measures what automatic checkpoints cost over a long run (runs the compiled library in dist/):
//   node test/reliability/checkpoint-measure.js [steps=20000] [everySteps=1000] [backend=cpu]
// Prints, at each checkpoint: step, live tensors, state.json and history file sizes, save time.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const mtl = require("../../dist/lib");

async function main() {
  const args = process.argv.slice(2);
  const steps = Number(args[0] ?? 20000);
  const every = Number(args[1] ?? 1000);
  const backend = /** @type {mtl.backends.BackendName} */ (args[2] ?? "cpu");
  await mtl.useBestBackend({ prefer: backend });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-ckpt-measure-"));
  const rng = new mtl.Rng(1);
  const x = Array.from({ length: 64 }, () => Array.from({ length: 6 }, () => rng.normal()));
  const tasks = [mtl.tasks.classification("cls", { classes: 3 }), mtl.tasks.regression("reg")];
  const data = mtl.fromArrays({ x, targets: { cls: x.map((r) => (r[0] > 0 ? 1 : 0) + (r[1] > 0 ? 1 : 0)), reg: x.map((r) => r[2] - r[3]) }, tasks });
  const model = mtl.hardSharing({ inputSize: 6, trunk: [16, 8], tasks, seed: 5 });
  const rows = [];
  const trainer = new mtl.Trainer({
    model, tasks, batchSize: 4, seed: 7, progress: false,
    callbacks: { onStepEnd: (r) => r.step + 1 < steps },
    checkpoint: { dir, everySteps: every, keep: 3 },
  });
  // The automatic checkpoints call trainer.save: wrapped to time each one.
  const save = trainer.save.bind(trainer);
  trainer.save = async (d, o) => {
    const t0 = process.hrtime.bigint();
    const where = await save(d, o);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const history = fs.readdirSync(dir).filter((n) => n.startsWith("history-")).map((n) => fs.statSync(path.join(dir, n)).size);
    rows.push({ step: trainer.step, tensors: mtl.tf.memory().numTensors, stateBytes: fs.statSync(path.join(where, "state.json")).size, historyBytes: history.join("+"), saveMs: ms.toFixed(1) });
    return where;
  };
  await trainer.fit(data, { epochs: 1e6 });
  console.table(rows);
  const t0 = process.hrtime.bigint();
  const fresh = new mtl.Trainer({ model: mtl.hardSharing({ inputSize: 6, trunk: [16, 8], tasks, seed: 5 }), tasks, batchSize: 4, progress: false });
  await fresh.load(dir);
  console.log(`load at step ${fresh.step}: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms, ${fresh.history.steps.length} step records`);
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
