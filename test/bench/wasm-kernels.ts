/**
 * Speed of the training kernels mtlkit adds to wasm (lib/native/wasmKernels.ts) against the cpu
 * backend's own, side by side: the filter gradient of a conv2d (im2col + wasm matmul) and the
 * gradient of an embedding lookup (segment sum). Median of N runs, in ms.
 *   npm run build && node dist/test/bench/wasm-kernels.js [runs]
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import "../../lib/native/wasmKernels";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 7);
  const cases: Array<[string, () => void]> = [];
  const rows: string[] = ["| case | wasm (mtlkit kernel) ms | cpu (tfjs kernel) ms | cpu / wasm |", "|---|---|---|---|"];
  const results: Record<string, Record<string, number>> = {};
  for (const backend of ["wasm", "cpu"]) {
    await tf.setBackend(backend);
    await tf.ready();
    const x1 = tf.randomNormal([64, 36, 36, 1]) as tf.Tensor4D;
    const f1 = tf.randomNormal([3, 3, 1, 8]) as tf.Tensor4D;
    const x2 = tf.randomNormal([64, 18, 18, 8]) as tf.Tensor4D;
    const f2 = tf.randomNormal([3, 3, 8, 16]) as tf.Tensor4D;
    const table = tf.randomNormal([3000, 48]) as tf.Tensor2D;
    const ids = tf.randomUniform([64, 32], 0, 3000, "int32") as tf.Tensor2D;
    cases.length = 0;
    cases.push([
      "conv filter grad 64×36×36×1 → 8",
      () =>
        tf.tidy(() =>
          tf
            .grad((f: tf.Tensor) => tf.sum(tf.conv2d(x1, f as tf.Tensor4D, 1, "same")))(f1)
            .dataSync(),
        ),
    ]);
    cases.push([
      "conv filter grad 64×18×18×8 → 16",
      () =>
        tf.tidy(() =>
          tf
            .grad((f: tf.Tensor) => tf.sum(tf.conv2d(x2, f as tf.Tensor4D, 1, "same")))(f2)
            .dataSync(),
        ),
    ]);
    cases.push([
      "embedding grad 64×32 ids, 3000×48",
      () =>
        tf.tidy(() =>
          tf
            .grad((e: tf.Tensor) => tf.sum(tf.gather(e, ids)))(table)
            .dataSync(),
        ),
    ]);
    for (const [name, fn] of cases) {
      fn();
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        fn();
        times.push(performance.now() - t);
      }
      (results[name] ??= {})[backend] = median(times);
    }
    tf.dispose([x1, f1, x2, f2, table, ids]);
  }
  for (const [name, r] of Object.entries(results))
    rows.push(`| ${name} | ${r.wasm.toFixed(1)} | ${r.cpu.toFixed(1)} | ${(r.cpu / r.wasm).toFixed(1)} |`);
  console.log(rows.join("\n"));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
