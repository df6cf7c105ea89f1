/**
 * One small model of every architecture and encoder mtlkit can save, each with tasks and data, for
 * the save/load and web-export tests.
 */
import * as mtl from "../../lib";

export interface ZooEntry {
  name: string;
  model: mtl.BaseModel;
  tasks: mtl.Task[];
  data: mtl.MultiTaskData;
  /** Input rows to predict (raw features). */
  rows: number[][];
}

function tabular(rows: number, features: number, seed: number) {
  const rng = new mtl.Rng(seed);
  const x = Array.from({ length: rows }, () => Array.from({ length: features }, () => rng.normal()));
  const cls = x.map((r) => (r[0] > 0 ? 1 : 0) + (r[1] > 0.3 ? 1 : 0));
  const bin = x.map((r) => (r[2] + r[3] > 0 ? 1 : 0));
  const tags = x.map((r) => [r[0] > 0 ? 1 : 0, r[4 % features] > 0 ? 1 : 0]);
  const reg = x.map((r) => r[0] - 0.5 * r[features - 1]);
  const tasks = [
    mtl.tasks.classification("cls", { classes: ["low", "mid", "high"], classWeights: [1, 2, 1] }),
    mtl.tasks.binary("bin", { labels: ["no", "yes"] }),
    mtl.tasks.multiLabel("tags", { labels: ["t0", "t1"] }),
    mtl.tasks.regression("reg", { loss: "huber", delta: 0.5 }),
  ];
  return { tasks, x, data: mtl.fromArrays({ x, targets: { cls, bin, tags, reg }, tasks }) };
}

/** The tabular architectures: hard sharing, soft sharing, cross-stitch, MMoE, CGC and PLE. */
export function tabularZoo(): ZooEntry[] {
  const entries: ZooEntry[] = [];
  const add = (name: string, make: (tasks: mtl.Task[]) => mtl.BaseModel, seed: number) => {
    const { tasks, x, data } = tabular(48, 5, seed);
    entries.push({ name, model: make(tasks), tasks, data, rows: x.slice(0, 6) });
  };
  add("hardSharing", (tasks) => mtl.hardSharing({ inputSize: 5, trunk: [8, 6], heads: [4], tasks, activation: "tanh", seed: 1 }), 1);
  add("softSharing", (tasks) => mtl.softSharing({ inputSize: 5, towers: [6, 4], tie: [0], tasks, seed: 2 }), 2);
  add("crossStitch", (tasks) => mtl.crossStitch({ inputSize: 5, towers: [6, 4], stitch: [0], alphaInit: 0.8, tasks, seed: 3 }), 3);
  add(
    "mmoe",
    (tasks) => mtl.mmoe({ inputSize: 5, experts: 3, expertLayers: [6], towers: [4], gates: { cls: { experts: [0, 2] } }, tasks, seed: 4 }),
    4,
  );
  add(
    "cgc",
    (tasks) =>
      mtl.cgc({ inputSize: 5, sharedExperts: 2, taskExperts: { cls: 2, bin: 1, tags: 1, reg: 1 }, expertLayers: [6], tasks, seed: 5 }),
    5,
  );
  add(
    "ple",
    (tasks) => mtl.ple({ inputSize: 5, levels: 2, sharedExperts: 1, taskExperts: 1, expertLayers: [6], gateBias: true, tasks, seed: 6 }),
    6,
  );
  return entries;
}

/** Hard sharing over mtlkit's encoders: a CNN trunk on 8×8 images, a text trunk with position-wise heads. */
export function encoderZoo(): ZooEntry[] {
  const rng = new mtl.Rng(9);
  const n = 32;
  const images = Array.from({ length: n }, () => Array.from({ length: 64 }, () => rng.uniform()));
  const imageTasks = [mtl.tasks.classification("shape", { classes: 3 }), mtl.tasks.regression("size")];
  const imageData = mtl.fromArrays({
    x: images,
    targets: { shape: images.map((r) => (r[0] > 0.5 ? 1 : 0)), size: images.map((r) => r[10]) },
    tasks: imageTasks,
  });
  const cnn = mtl.hardSharing({
    inputSize: 64,
    trunk: mtl.layers.cnnEncoder({ height: 8, width: 8, filters: [4, 6], dense: [8], seed: 1 }),
    tasks: imageTasks,
    seed: 1,
  });

  const T = 6;
  const V = 12;
  const tokens = Array.from({ length: n }, () => {
    const len = 2 + rng.int(T - 1);
    return Array.from({ length: T }, (_, t) => (t < len ? 1 + rng.int(V - 1) : 0));
  });
  const textTasks = [
    mtl.tasks.classification("has1", { classes: 2 }),
    mtl.tasks.sequenceTagging("parity", { classes: ["even", "odd"], length: T }),
  ];
  const textData = mtl.fromArrays({
    x: tokens,
    targets: { has1: tokens.map((r) => (r.includes(1) ? 1 : 0)), parity: tokens.map((r) => r.map((tok) => (tok === 0 ? -1 : tok % 2))) },
    tasks: textTasks,
  });
  const text = mtl.hardSharing({
    inputSize: T,
    trunk: mtl.layers.textEncoder({
      sequenceLength: T,
      vocabularySize: V,
      embeddingSize: 4,
      channels: [6],
      output: "both",
      causal: true,
      seed: 2,
    }),
    heads: {
      has1: mtl.layers.positionwiseHead({ width: 6, units: 2, name: "pooled" }),
      parity: mtl.layers.positionwiseHead({ width: 6, units: 2, positions: T, offset: 6, hidden: [3], name: "tags" }),
    },
    tasks: textTasks,
    seed: 2,
  });
  return [
    { name: "cnnEncoder", model: cnn, tasks: imageTasks, data: imageData, rows: images.slice(0, 4) },
    { name: "textEncoder", model: text, tasks: textTasks, data: textData, rows: tokens.slice(0, 4) },
  ];
}

/** Largest absolute difference between two predictions' raw outputs, over every task. */
export function maxOutputDifference(a: Record<string, mtl.deploy.TaskPrediction>, b: Record<string, mtl.deploy.TaskPrediction>): number {
  let m = 0;
  for (const [task, p] of Object.entries(a)) {
    const q = b[task];
    if (!q || q.outputs.length !== p.outputs.length) return Infinity;
    p.outputs.forEach((row, r) => row.forEach((v, c) => (m = Math.max(m, Math.abs(v - q.outputs[r][c])))));
  }
  return m;
}
