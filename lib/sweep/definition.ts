/**
 * What a sweep is: a run function (an export of a module, so that another process can import it),
 * a grid or list of configurations, and seeds. `define` checks all of it up front and expands it
 * into runs, one per configuration and seed, each with an id that depends only on its
 * configuration and seed (so a re-run finds its finished runs again) and a sweep identity that
 * depends on the run function's module and export, the configurations and the seeds (so a results
 * file is never mixed with another sweep's).
 */
import { existsSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { check, checkKnownOptions, MtlError } from "../errors";
import { canonicalJson, shortHash } from "./hash";

/** A configuration value: anything JSON can carry (finite numbers only). */
export type ConfigValue = string | number | boolean | null | ConfigValue[] | { [key: string]: ConfigValue };

/** One configuration of the run function, e.g. `{ method: "pcgrad", lr: 0.01 }`. */
export type Configuration = Record<string, ConfigValue>;

/** The run function: a module path and the name of the function it exports (default `run`). */
export interface RunFunctionRef {
  /** Path of a JavaScript module (CommonJS or ESM), absolute or relative to the sweep's root. */
  module: string;
  /** Name of the exported function (default "run"). */
  export?: string;
}

/**
 * A sweep as written by hand (or in a JSON file for `mtlkit sweep`): the run function, the
 * configurations (a grid or a list) and the seeds. For example
 * `{ run: "./runs.js#run", grid: { method: ["equal", "pcgrad"] }, seeds: 5 }` is 2 configurations × 5 seeds = 10 runs.
 */
export interface SweepDefinition {
  /** The run function, as `{ module, export }` or `"path/to/module.js#exportName"` (export default "run"). */
  run: string | RunFunctionRef;
  /** Every combination of these values, e.g. `{ method: ["equal", "pcgrad"], lr: [0.01, 0.001] }` (4 configurations). */
  grid?: Record<string, ConfigValue[]>;
  /** Or the configurations themselves, one object each. */
  configs?: Configuration[];
  /** The seeds each configuration runs with: a list, or a count n for seeds 0..n−1. */
  seeds: number | number[];
  /** A run that takes longer is stopped and recorded as failed (seconds; default none). */
  timeLimitSeconds?: number;
  /** JavaScript heap limit of each worker process, MiB (node's --max-old-space-size; default node's own). */
  memoryMb?: number;
}

/** Options of {@link define}. */
export interface DefineOptions {
  /** The folder a relative module path starts from (default the current working directory). */
  root?: string;
}

/** One run: a configuration with one seed. */
export interface RunSpec {
  /** Stable id from the configuration and seed (hex). */
  id: string;
  /** Position in the sweep (configurations in order, seeds within each). */
  index: number;
  /** Short words for people: the varying settings and the seed, e.g. "method=pcgrad seed=3". */
  label: string;
  config: Configuration;
  seed: number;
}

/** What makes two sweeps the same sweep: a results file records it and refuses any other. */
export interface SweepIdentity {
  /** The module, relative to the root (POSIX separators), and the export. */
  run: { module: string; export: string };
  /** The configurations, sorted by their canonical JSON. */
  configs: Configuration[];
  /** The seeds, sorted. */
  seeds: number[];
}

/** A checked, expanded sweep. */
export interface Sweep {
  /** Absolute path of the run function's module. */
  modulePath: string;
  exportName: string;
  /** The folder relative paths start from. */
  root: string;
  configs: Configuration[];
  seeds: number[];
  runs: RunSpec[];
  /** Settings whose value differs between configurations, in order of first appearance. */
  varying: string[];
  /** Hash of `description` (hex). */
  identity: string;
  description: SweepIdentity;
  timeLimitSeconds?: number;
  memoryMb?: number;
}

const WHERE = "sweep definition";
const OPTIONS = ["run", "grid", "configs", "seeds", "timeLimitSeconds", "memoryMb"];

/** Checks a sweep definition and expands it into runs; every problem is an MtlError naming the option. */
export function define(definition: SweepDefinition, options: DefineOptions = {}): Sweep {
  check(
    definition !== null && typeof definition === "object" && !Array.isArray(definition),
    WHERE,
    () => "expected an object { run, grid | configs, seeds }.",
  );
  checkKnownOptions(WHERE, definition, OPTIONS);
  const root = resolve(options.root ?? process.cwd());
  const { modulePath, exportName } = resolveRunRef(definition.run, root);
  const configs = resolveConfigs(definition);
  const seeds = resolveSeeds(definition.seeds);
  const timeLimitSeconds = definition.timeLimitSeconds;
  check(
    timeLimitSeconds === undefined || (typeof timeLimitSeconds === "number" && Number.isFinite(timeLimitSeconds) && timeLimitSeconds > 0),
    WHERE,
    () => `option 'timeLimitSeconds' must be a positive number of seconds, got ${String(timeLimitSeconds)}.`,
  );
  const memoryMb = definition.memoryMb;
  check(
    memoryMb === undefined || (Number.isInteger(memoryMb) && memoryMb >= 64),
    WHERE,
    () => `option 'memoryMb' must be a whole number of MiB, at least 64, got ${String(memoryMb)}.`,
  );
  const varying = varyingKeys(configs);
  const runs: RunSpec[] = [];
  for (const config of configs) {
    for (const seed of seeds) {
      runs.push({ id: runId(config, seed), index: runs.length, label: runLabel(config, seed, varying), config, seed });
    }
  }
  // Order-free: listing the same configurations or seeds in another order is the same sweep.
  const description: SweepIdentity = {
    run: { module: relativeModule(root, modulePath), export: exportName },
    configs: [...configs].sort((a, b) => (canonicalJson(a) < canonicalJson(b) ? -1 : 1)),
    seeds: [...seeds].sort((a, b) => a - b),
  };
  return {
    modulePath,
    exportName,
    root,
    configs,
    seeds,
    runs,
    varying,
    identity: shortHash(canonicalJson(description), 32),
    description,
    timeLimitSeconds,
    memoryMb,
  };
}

/** The id of the run of `config` with `seed`: a hash of both, the same in every process and on every machine. */
export function runId(config: Configuration, seed: number): string {
  return shortHash(canonicalJson({ config, seed }), 16);
}

/** "method=pcgrad lr=0.01" from the varying settings (or every setting when none varies). */
export function configLabel(config: Configuration, varying: readonly string[]): string {
  const keys = varying.length > 0 ? varying : Object.keys(config);
  if (keys.length === 0) return "(no settings)";
  return keys.map((k) => `${k}=${formatValue(config[k])}`).join(" ");
}

function runLabel(config: Configuration, seed: number, varying: readonly string[]): string {
  return `${configLabel(config, varying)} seed=${seed}`;
}

function formatValue(v: ConfigValue | undefined): string {
  return typeof v === "string" ? v : JSON.stringify(v ?? null);
}

function resolveRunRef(value: unknown, root: string): { modulePath: string; exportName: string } {
  let ref: RunFunctionRef;
  if (typeof value === "string") {
    const hash = value.lastIndexOf("#");
    ref = hash > 0 ? { module: value.slice(0, hash), export: value.slice(hash + 1) } : { module: value };
  } else {
    check(
      value !== null && typeof value === "object",
      WHERE,
      () =>
        "option 'run' must name the run function's module: \"path/to/runs.js#run\" or { module, export }. A function itself cannot be sent to worker processes; export it from a module.",
    );
    checkKnownOptions(`${WHERE} option 'run'`, value, ["module", "export"]);
    ref = value as RunFunctionRef;
  }
  check(typeof ref.module === "string" && ref.module.length > 0, WHERE, () => "option 'run.module' must be the path of a module.");
  const exportName = ref.export ?? "run";
  check(
    typeof exportName === "string" && /^[A-Za-z_$][\w$]*$/.test(exportName),
    WHERE,
    () => `option 'run.export' must be the name of an exported function, got ${JSON.stringify(ref.export)}.`,
  );
  const modulePath = isAbsolute(ref.module) ? ref.module : resolve(root, ref.module);
  check(
    existsSync(modulePath) && statSync(modulePath).isFile(),
    WHERE,
    () => `the run function's module '${ref.module}' does not exist (looked for ${modulePath}).`,
  );
  return { modulePath, exportName };
}

function relativeModule(root: string, modulePath: string): string {
  return relative(root, modulePath).split(sep).join("/");
}

function resolveConfigs(definition: SweepDefinition): Configuration[] {
  const { grid, configs } = definition;
  check(
    grid !== undefined || configs !== undefined,
    WHERE,
    () => "give option 'grid' ({ setting: [values] }) or option 'configs' ([{ ... }, ...]).",
  );
  check(grid === undefined || configs === undefined, WHERE, () => "give option 'grid' or option 'configs', not both.");
  let out: Configuration[];
  if (grid !== undefined) {
    check(
      grid !== null && typeof grid === "object" && !Array.isArray(grid),
      WHERE,
      () => "option 'grid' must be an object { setting: [values] }.",
    );
    const keys = Object.keys(grid);
    check(keys.length > 0, WHERE, () => 'option \'grid\' has no settings; give at least one, e.g. { method: ["equal", "pcgrad"] }.');
    for (const key of keys) {
      const values = grid[key];
      check(Array.isArray(values), WHERE, () => `grid setting '${key}' must be a list of values, got ${describe(values)}.`);
      check(values.length > 0, WHERE, () => `grid setting '${key}' has no values; give at least one.`);
      values.forEach((v, i) => checkValue(v, `grid setting '${key}' value ${i}`));
      const seen = new Set(values.map((v) => canonicalJson(v)));
      check(seen.size === values.length, WHERE, () => `grid setting '${key}' repeats a value; each configuration must be distinct.`);
    }
    out = [{}];
    for (const key of keys) out = out.flatMap((c) => grid[key].map((v) => ({ ...c, [key]: v })));
  } else {
    check(Array.isArray(configs), WHERE, () => "option 'configs' must be a list of configuration objects.");
    check(configs.length > 0, WHERE, () => "option 'configs' is empty; give at least one configuration.");
    configs.forEach((c, i) => {
      check(
        c !== null && typeof c === "object" && !Array.isArray(c),
        WHERE,
        () => `configuration ${i} must be an object, got ${describe(c)}.`,
      );
      for (const [k, v] of Object.entries(c)) checkValue(v, `configuration ${i} setting '${k}'`);
    });
    const seen = new Map<string, number>();
    configs.forEach((c, i) => {
      const key = canonicalJson(c);
      const first = seen.get(key);
      if (first !== undefined)
        throw new MtlError(
          WHERE,
          `configuration ${i} repeats configuration ${first}; each configuration must be distinct (seeds give the repeats).`,
        );
      seen.set(key, i);
    });
    out = configs.map((c) => ({ ...c }));
  }
  return out;
}

function checkValue(v: unknown, what: string): void {
  if (v === null || typeof v === "string" || typeof v === "boolean") return;
  if (typeof v === "number") {
    check(Number.isFinite(v), WHERE, () => `${what} is ${v}; configurations carry finite numbers only (they travel as JSON).`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkValue(x, `${what}[${i}]`));
    return;
  }
  if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const [k, x] of Object.entries(v as object)) checkValue(x, `${what}.${k}`);
    return;
  }
  throw new MtlError(
    WHERE,
    `${what} is ${describe(v)}; configurations carry plain values only (strings, numbers, booleans, lists, objects), since they travel as JSON to worker processes. Name the method (e.g. "pcgrad") and build it in the run function.`,
  );
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "function") return `a function (${(v as { name?: string }).name || "anonymous"})`;
  if (typeof v === "object") return `an object of class ${(v as object).constructor?.name ?? "unknown"}`;
  return `${typeof v} ${String(v)}`;
}

function resolveSeeds(value: unknown): number[] {
  if (typeof value === "number") {
    check(
      Number.isInteger(value) && value > 0,
      WHERE,
      () => `option 'seeds' must be a positive count or a list of integers, got ${value}.`,
    );
    return Array.from({ length: value }, (_, i) => i);
  }
  check(
    Array.isArray(value) && value.length > 0,
    WHERE,
    () => `option 'seeds' must be a positive count or a non-empty list of integers, got ${JSON.stringify(value)}.`,
  );
  check(
    value.every((s) => Number.isSafeInteger(s)),
    WHERE,
    () => `option 'seeds' must list integers, got ${JSON.stringify(value)}.`,
  );
  check(new Set(value).size === value.length, WHERE, () => "option 'seeds' repeats a seed; repeated runs would not be independent.");
  return [...(value as number[])];
}

function varyingKeys(configs: Configuration[]): string[] {
  const keys: string[] = [];
  for (const c of configs) for (const k of Object.keys(c)) if (!keys.includes(k)) keys.push(k);
  return keys.filter((k) => new Set(configs.map((c) => canonicalJson(c[k] ?? null))).size > 1);
}
