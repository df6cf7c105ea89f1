/**
 * Per-step time of every gradient aggregator relative to equal weighting (issue 5).
 *
 * Model: hard sharing, input 256, ReLU trunk 256-512-512, 4 regression heads (512 → 1), MSE, Adam,
 * batch 256, one `Trainer.trainStep` per step on a fixed batch (batch assembly is not timed).
 * Every method runs at each level it supports ("param": Jacobian w.r.t. θ_s, k = 4 backward passes
 * from one forward; "rep": w.r.t. z, then one backward pass through the trunk).
 * Rounds interleave all configurations (equal weighting included) in a rotating order; a round's
 * ratio is that round's mean step time over equal weighting's in the same round; we quote the
 * median over rounds, and the median step time.
 *
 * LibMTL (PyTorch) reference for this model, from the issue: rep-level methods 1.5–2.6×,
 * param-level PCGrad 3.8–4.8×, MGDA 3.1–5.1×, CAGrad 3.0–3.9×.
 *
 *   npm run build && node dist/test/bench/aggregators.js [backend=wasm] [rounds=5] [stepsPerRound=3] [methods=all|PCGrad,MGDA,…]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import * as mtl from "../../lib";
import { median, medianRatio, timeInterleaved } from "./interleave";

const A = mtl.aggregators;
const METHODS: Array<[string, () => mtl.aggregators.Aggregator]> = [
  ["mean", A.mean],
  ["sum", A.sum],
  ["PCGrad", () => A.pcgrad()],
  ["MGDA", () => A.mgda()],
  ["MGDA-UB", () => A.mgdaUB()],
  ["CAGrad", () => A.cagrad()],
  ["IMTL-G", A.imtlg],
  ["GradVac", () => A.gradvac()],
  ["GradDrop", () => A.graddrop()],
  ["Nash-MTL", () => A.nashMtl()],
  ["Aligned-MTL", () => A.alignedMtl()],
  ["UPGrad", A.upgrad],
  ["DualProj", A.dualproj],
  ["ConFIG", A.config],
  ["MoCo", () => A.moco()],
  ["FairGrad", () => A.fairgrad()],
  ["DB-MTL", () => A.dbmtl()],
];

interface Run {
  name: string;
  level: string;
  trainer: mtl.Trainer;
  model: mtl.MultiTaskModel;
  times: number[];
  roundMeans: number[];
}

async function main(): Promise<void> {
  const backend = process.argv[2] ?? "wasm";
  const rounds = Number(process.argv[3] ?? 5);
  const perRound = Number(process.argv[4] ?? 3);
  const only = process.argv[5] && process.argv[5] !== "all" ? new Set(process.argv[5].split(",")) : undefined;
  await tf.setBackend(backend);
  await tf.ready();
  const batch = 256;
  const tasks = [0, 1, 2, 3].map((i) => mtl.tasks.regression(`y${i}`));
  const rng = new mtl.Rng(1);
  const x = tf.tensor2d(
    Float32Array.from({ length: batch * 256 }, () => rng.normal()),
    [batch, 256],
  );
  const targets = tasks.map(() =>
    tf.tensor2d(
      Float32Array.from({ length: batch }, () => rng.normal()),
      [batch, 1],
    ),
  );
  const make = (name: string, level: string, aggregator?: mtl.aggregators.Aggregator): Run => {
    const model = mtl.hardSharing({ inputSize: 256, trunk: [512, 512], tasks, seed: 2 });
    const trainer = new mtl.Trainer({
      model,
      tasks,
      progress: false,
      aggregator,
      level: aggregator ? (level as "param" | "rep") : undefined,
    });
    return { name, level, trainer, model, times: [], roundMeans: [] };
  };
  const runs: Run[] = [make("equal weighting", "-")];
  for (const [name, factory] of METHODS) {
    if (only && !only.has(name)) continue;
    for (const level of ["param", "rep"] as const) {
      const agg = factory();
      if (agg.levels.includes(level)) runs.push(make(name, level, agg));
    }
  }
  for (const run of runs) for (let s = 0; s < 2; s++) await run.trainer.trainStep(x, targets); // warm-up: kernels, optimizer slots, state
  await timeInterleaved(runs, x, targets, rounds, perRound);
  const equal = runs[0];
  console.log(
    `backend ${tf.getBackend()}, 4 regression tasks, trunk 256-512-512 ReLU, batch ${batch}, ${rounds} rounds × ${perRound} steps, interleaved`,
  );
  console.log("| method | level | median ms/step | × equal (median of per-round ratios) |");
  console.log("|---|---|---:|---:|");
  for (const run of runs) {
    console.log(`| ${run.name} | ${run.level} | ${median(run.times).toFixed(1)} | ${medianRatio(run, equal).toFixed(2)} |`);
  }
  for (const run of runs) run.model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
