/**
 * One tree's per-step CPU time on a fixed workload, for old-vs-new comparisons where the two trees'
 * own `train-throughput` scripts differ: loads `TREE/dist/lib` (any mtlkit build, the step
 * synchronous or asynchronous), builds the bench's `seed` (20-64, class + regression) or `generic`
 * (256-512-512 function-block trunk, 4 MSE heads) model with Adam, takes 50 warm-up steps with
 * `trainStep` on one batch, then times `STEPS` steps in process CPU time (history cleared as it
 * goes). Prints one line: `TREE MODEL VARIANT BACKEND: X ms/step cpu`.
 *
 *   node dist/test/bench/step-cpu.js TREE seed|generic plain|native [STEPS] [wasm|cpu] [tfjs-adam]
 * `tfjs-adam` turns off the JavaScript host kernels of trees that have them (lib/native/hostKernels.ts),
 * so Adam and the gradient norm run as tfjs ops, as in trees before them.
 * Alternate the trees' processes and quote the median of the per-pair ratios (README).
 */
import * as path from "node:path";

/** A build loaded at run time, of whatever version: its API is not this tree's types. */
// biome-ignore lint/suspicious/noExplicitAny: the loaded build's types are not this tree's
type Loose = any;

async function main(): Promise<void> {
  const [tree, name, variant, stepsArg, backendArg, adamArg] = process.argv.slice(2);
  const backendName = backendArg ?? "wasm";
  if (
    !tree ||
    (name !== "seed" && name !== "generic") ||
    (variant !== "plain" && variant !== "native") ||
    (backendName !== "wasm" && backendName !== "cpu") ||
    (adamArg !== undefined && adamArg !== "tfjs-adam")
  )
    throw new Error("step-cpu: node step-cpu.js TREE seed|generic plain|native [STEPS] [wasm|cpu] [tfjs-adam]");
  const root = path.resolve(tree);
  const mtl = require(`${root}/dist/lib/index.js`) as Loose;
  const tf = require(`${root}/node_modules/@tensorflow/tfjs`) as Loose;
  const { Mlp } = require(`${root}/dist/lib/layers/block.js`) as Loose;
  await mtl.useBestBackend({ prefer: backendName, webgpu: false });
  if (tf.getBackend() !== backendName) throw new Error(`step-cpu: the ${backendName} backend did not start`);
  if (adamArg === "tfjs-adam") {
    const host = `${root}/dist/lib/native/hostKernels.js`;
    try {
      require.resolve(host);
    } catch {
      throw new Error(`step-cpu: ${tree} has no JavaScript host kernels to turn off`);
    }
    require(host).useJsHostKernels(false);
  }
  // Older builds export the native switches as mtl.native, newer ones as mtl.backends.
  const native = mtl.backends?.enableNativeKernels ? mtl.backends : mtl.native;
  native.disableNativeKernels();
  if (variant === "native") native.enableNativeKernels({ threads: 1 });
  const spec =
    name === "seed" ? { input: 20, hidden: [64], classes: 4, batch: 64 } : { input: 256, hidden: [512, 512], classes: 0, batch: 256 };
  let tasks: Loose[];
  let model: Loose;
  if (name === "generic") {
    tasks = [0, 1, 2, 3].map((i) => mtl.tasks.regression(`value${i}`));
    const mlp = new Mlp("trunk", spec.input, spec.hidden, new mtl.Rng(1));
    const trunk = {
      apply: (x: unknown) => mlp.apply(x),
      variables: mlp.namedVariables().map(([, v]: [string, unknown]) => v),
      outputSize: mlp.outputSize,
    };
    model = mtl.hardSharing({ inputSize: spec.input, trunk, tasks, seed: 1 });
  } else {
    tasks = [mtl.tasks.classification("label", { classes: spec.classes }), mtl.tasks.regression("value")];
    model = mtl.hardSharing({ inputSize: spec.input, trunk: spec.hidden, tasks, seed: 1 });
  }
  const trainer = new mtl.Trainer({ model, tasks, optimizer: mtl.optimizers.adam(), progress: false });
  const rng = new mtl.Rng(2);
  const x = tf.tensor2d(
    Float32Array.from({ length: spec.batch * spec.input }, () => rng.normal()),
    [spec.batch, spec.input],
  );
  const targets = tasks.map((t) =>
    t.name === "label"
      ? tf.tensor1d(
          Int32Array.from({ length: spec.batch }, () => Math.floor(rng.uniform() * spec.classes)),
          "int32",
        )
      : tf.tensor2d(
          Float32Array.from({ length: spec.batch }, () => rng.normal()),
          [spec.batch, 1],
        ),
  );
  // The old trainStep returns the record, the new one a promise of it.
  const step = async () => {
    const r = trainer.trainStep(x, targets);
    if (r && typeof r.then === "function") await r;
  };
  for (let i = 0; i < 50; i++) await step();
  const steps = Number(stepsArg ?? 2000);
  const t0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) {
    await step();
    trainer.history.steps.length = 0;
  }
  const used = process.cpuUsage(t0);
  console.log(
    `${tree} ${name} ${variant} ${backendName}${adamArg ? ` ${adamArg}` : ""}: ${((used.user + used.system) / 1000 / steps).toFixed(4)} ms/step cpu`,
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
