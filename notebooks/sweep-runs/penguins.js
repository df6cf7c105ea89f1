// The run function of tutorial 14 (sweeps), in a module of its own so that the sweep's worker
// processes can import it: one hard-sharing network on the Palmer penguins (species, sex, body
// mass), trained with one loss-weighting or gradient method, or, for "single-task", one network
// per task alone, and scored on the test split. Same data, split, model and budget as tutorial 06.
"use strict";
const mtl = require("mtlkit");

const EPOCHS = 40;

function makeTasks() {
  return [
    mtl.tasks.classification("species", { column: "Species", classes: ["Adelie", "Chinstrap", "Gentoo"] }),
    mtl.tasks.binary("sex", { column: "Sex", labels: ["FEMALE", "MALE"] }),
    mtl.tasks.regression("mass", { columns: ["Body Mass (kg)"] }),
  ];
}

let splits;
/** The standardised train and test splits, loaded once per worker process (the split's seed is fixed: every run sees the same data). */
function data() {
  if (splits) return splits;
  const records = mtl.data.penguins().map((r) => ({
    ...r,
    "Body Mass (kg)": typeof r["Body Mass (g)"] === "number" ? r["Body Mass (g)"] / 1000 : null,
  }));
  const all = mtl.fromDataFrame(records, {
    features: ["Beak Length (mm)", "Beak Depth (mm)", "Flipper Length (mm)", "Island"],
    tasks: makeTasks(),
    missing: "drop",
  });
  const s = mtl.split(all, { train: 0.6, validation: 0.2, seed: 0 });
  const scaler = mtl.fitStandardizer(s.train);
  splits = { train: scaler.apply(s.train), test: scaler.apply(s.test), featureCount: all.featureCount };
  return splits;
}

/** The update rule of a method, as Trainer options. */
function rule(method, seed) {
  switch (method) {
    case "single-task":
    case "equal":
      return {};
    case "uncertainty":
      return { weighting: mtl.weighting.uncertainty() };
    case "dwa":
      return { weighting: mtl.weighting.dwa({ temperature: 2 }) };
    case "pcgrad":
      return { aggregator: mtl.aggregators.pcgrad({ seed }), level: /** @type {const} */ ("rep") };
    default:
      throw new mtl.MtlError("penguins sweep", `unknown method '${method}'.`);
  }
}

/**
 * The Trainer options of a run: one set per model it trains (three single-task models, or one
 * multi-task model). The sweep checks them all with the Trainer's own check before any run starts.
 */
exports.trainerOptions = function trainerOptions(config, context) {
  const groups = config.method === "single-task" ? makeTasks().map((t) => [t]) : [makeTasks()];
  return groups.map((tasks) => ({
    model: mtl.hardSharing({ inputSize: data().featureCount, trunk: [16], tasks, seed: context.seed }),
    tasks,
    epochs: EPOCHS,
    batchSize: 32,
    seed: context.seed,
    optimizer: mtl.optimizers.adam({ learningRate: 0.01 }),
    progress: false,
    ...rule(config.method, context.seed),
  }));
};

/** Trains the run's model(s) and returns every task's test metrics (one table for the three tasks). */
exports.run = async function run(config, context) {
  const { train, test } = data();
  const table = {};
  const directions = {};
  for (const options of exports.trainerOptions(config, context)) {
    await new mtl.Trainer(options).fit(train);
    const evaluation = mtl.evaluation.evaluate(options.model, test, options.tasks);
    options.model.dispose();
    for (const [task, report] of Object.entries(evaluation.tasks)) {
      table[task] = evaluation.table[task];
      directions[task] = report.higherIsBetter;
    }
  }
  // Shaped like an evaluation, so the sweep records the metrics' directions too.
  return { table, tasks: Object.fromEntries(Object.entries(directions).map(([t, h]) => [t, { higherIsBetter: h }])), rows: [] };
};
