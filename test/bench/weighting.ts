/**
 * Per-step time of each loss-weighting method relative to equal weighting.
 * 4 regression tasks, a 256-512-512 ReLU trunk (input 256, two hidden layers of 512), batch 256.
 * Methods run interleaved: each round runs every method for a few steps in turn, so drifts in
 * machine speed hit all of them alike. Reported: the median step time per method, and the median
 * over rounds of (method's round mean / equal's round mean), measured side by side.
 *
 *   npm run build && node dist/test/bench/weighting.js [wasm|cpu] [rounds] [stepsPerRound]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as mtl from "../../lib";
import { median, medianRatio, timeInterleaved } from "./interleave";

const W = mtl.weighting;
const METHODS: Array<[string, () => mtl.weighting.Weighting]> = [
  ["equal", () => W.equal()],
  ["static", () => W.static([1, 2, 0.5, 1])],
  ["uncertainty", () => W.uncertainty()],
  ["dwa", () => W.dwa()],
  ["gradNorm (last shared layer)", () => W.gradNorm()],
  ["gradNorm (representation)", () => W.gradNorm({ target: "representation" })],
  ["rlw", () => W.rlw()],
  ["gls", () => W.gls()],
  ["dtp (manual KPI)", () => W.dtp({ kpi: "manual" })],
  ["famo", () => W.famo()],
  ["imtlL", () => W.imtlL()],
  ["stch", () => W.stch({ nadir: [1, 1, 1, 1] })],
];

async function main(): Promise<void> {
  const backend = process.argv[2] ?? "wasm";
  const rounds = Number(process.argv[3] ?? 10);
  const perRound = Number(process.argv[4] ?? 4);
  await tf.setBackend(backend);
  await tf.ready();
  const inputSize = 256;
  const batch = 256;
  const tasks = [0, 1, 2, 3].map((i) => mtl.tasks.regression(`y${i}`));
  const rng = new mtl.Rng(1);
  const x = tf.tensor2d(
    Float32Array.from({ length: batch * inputSize }, () => rng.normal()),
    [batch, inputSize],
  );
  const targets = tasks.map(() =>
    tf.tensor2d(
      Float32Array.from({ length: batch }, () => rng.normal()),
      [batch, 1],
    ),
  );
  const runs = METHODS.map(([name, make]) => {
    const model = mtl.hardSharing({ inputSize, trunk: [512, 512], tasks, seed: 3 });
    const trainer = new mtl.Trainer({
      model,
      tasks,
      weighting: make(),
      progress: false,
      optimizer: mtl.optimizers.adam({ learningRate: 1e-4 }),
    });
    return { name, trainer, times: [] as number[], roundMeans: [] as number[] };
  });
  for (const r of runs) for (let i = 0; i < 3; i++) await r.trainer.trainStep(x, targets); // warm-up
  await timeInterleaved(runs, x, targets, rounds, perRound);
  const equal = runs[0];
  console.log(
    `backend ${tf.getBackend()}, 4 regression tasks, trunk 256-512-512 ReLU, batch ${batch}, ${rounds} rounds × ${perRound} steps, interleaved`,
  );
  console.log("| method | median ms/step | × equal (median of per-round ratios) |");
  console.log("|---|---:|---:|");
  for (const run of runs) {
    console.log(`| ${run.name} | ${median(run.times).toFixed(1)} | ${medianRatio(run, equal).toFixed(2)} |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
