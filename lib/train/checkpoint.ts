/**
 * Checkpoints that resume exactly. A checkpoint folder holds one sub-folder per saved step:
 *
 *   dir/latest                 the name of the newest complete checkpoint (replaced atomically)
 *   dir/step-00000120/         manifest.json, weights.bin, state.json
 *
 * Each sub-folder is written under a temporary name, every file fsynced, and renamed into place
 * in one step; `latest` is updated only after that. An interrupted save therefore leaves either
 * the previous checkpoint or the new one, never a half-written one, and loading verifies the
 * manifest's SHA-256 checksums before trusting anything. Files are owner-only (0600, folders 0700).
 *
 * weights.bin holds the model's variables (in `namedVariables()` order) and then the optimizer's
 * slots (in `getWeights()` order), all float32 little-endian; state.json holds the trainer's
 * step, epoch, RNG state and history, and the state of every stateful component (a loss-weighting
 * method, an aggregator).
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { MtlError } from "../errors";
import { fsyncDir, temporaryPath, writeFileAtomic, writeFileSynced } from "../util/fsAtomic";
import type { Trainer, TrainerState } from "./trainer";
import { withDisplay } from "../display/attach";
import { checkpointsBundle } from "../display/checkpoints";

export const CHECKPOINT_FORMAT = "mtlkit-checkpoint";
export const CHECKPOINT_VERSION = 1;

interface TensorEntry {
  name: string;
  shape: number[];
  /** Offset in float32 elements into weights.bin. */
  offset: number;
}

/** What identifies a model and task set: a checkpoint only loads into a matching one. */
export interface ModelSignature {
  architecture: string;
  tasks: Array<{ name: string; kind: string; outputUnits: number }>;
  variables: Array<{ name: string; shape: number[] }>;
}

export interface CheckpointManifest {
  format: string;
  version: number;
  versions: { mtlkit: string; tfjs: string; node: string };
  createdAt: string;
  step: number;
  epoch: number;
  signature: ModelSignature;
  /** The optimizer's slots, and scalars it keeps outside them (Adam's running β powers). */
  optimizer: { className: string; slots: TensorEntry[]; scalars?: Record<string, number> };
  variables: TensorEntry[];
  sha256: Record<string, string>;
}

export function modelSignature(trainer: Trainer): ModelSignature {
  return {
    architecture: trainer.model.architecture,
    tasks: trainer.tasks.map((t) => ({ name: t.name, kind: t.kind, outputUnits: t.outputUnits })),
    variables: trainer.model.namedVariables().map(([name, v]) => ({ name, shape: [...v.shape] })),
  };
}

function mtlkitVersion(): string {
  try {
    return require("../../../package.json").version as string;
  } catch {
    return "unknown";
  }
}

const sha256 = (data: Uint8Array | string): string => createHash("sha256").update(data).digest("hex");
const stepFolder = (step: number): string => `step-${String(step).padStart(8, "0")}`;

/** Saves a checkpoint of the trainer into `dir` and returns the new sub-folder's path. */
export async function saveCheckpoint(trainer: Trainer, dir: string, keep = 3): Promise<string> {
  if (!Number.isInteger(keep) || keep < 1) throw new MtlError("saveCheckpoint", `option 'keep' must be a positive integer, got ${keep}.`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const named = trainer.model.namedVariables();
  const slots = await trainer.optimizer.getWeights();
  const entries: TensorEntry[] = [];
  const slotEntries: TensorEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = (list: TensorEntry[], name: string, t: tf.Tensor) => {
    const values = t.dataSync() as Float32Array;
    const data = values instanceof Float32Array ? values : Float32Array.from(values);
    list.push({ name, shape: [...t.shape], offset });
    chunks.push(data);
    offset += data.length;
  };
  for (const [name, v] of named) add(entries, name, v);
  for (const s of slots) add(slotEntries, s.name, s.tensor);
  const weights = new Float32Array(offset);
  let o = 0;
  for (const c of chunks) {
    weights.set(c, o);
    o += c.length;
  }
  const weightBytes = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  const stateText = JSON.stringify(trainer.snapshot());
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    versions: { mtlkit: mtlkitVersion(), tfjs: tf.version.tfjs, node: process.version },
    createdAt: new Date().toISOString(),
    step: trainer.step,
    epoch: trainer.currentEpoch,
    signature: modelSignature(trainer),
    optimizer: { className: trainer.optimizer.getClassName(), slots: slotEntries, scalars: optimizerScalars(trainer.optimizer) },
    variables: entries,
    sha256: { "weights.bin": sha256(weightBytes), "state.json": sha256(stateText) },
  };

  const name = stepFolder(trainer.step);
  const target = join(dir, name);
  const tmp = temporaryPath(target);
  mkdirSync(tmp, { mode: 0o700 });
  writeFileSynced(join(tmp, "weights.bin"), weightBytes);
  writeFileSynced(join(tmp, "state.json"), stateText);
  writeFileSynced(join(tmp, "manifest.json"), JSON.stringify(manifest, null, 1));
  fsyncDir(tmp);
  if (existsSync(target)) {
    // Same step saved again: move the old one aside first so a valid copy always exists.
    const old = temporaryPath(target);
    renameSync(target, old);
    renameSync(tmp, target);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, target);
  }
  fsyncDir(dir);
  writeFileAtomic(join(dir, "latest"), name);
  pruneCheckpoints(dir, keep, name);
  return target;
}

/**
 * tfjs's Adam and Adamax keep β₁ᵗ (and β₂ᵗ) as running products outside getWeights(); setWeights
 * recomputes them with pow(), which can differ from the product in the last float32 bit. Saving
 * the exact values makes a resumed run bit-identical to an uninterrupted one.
 */
const OPTIMIZER_SCALARS = ["accBeta1", "accBeta2"];

function optimizerScalars(optimizer: tf.Optimizer): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of OPTIMIZER_SCALARS) {
    const v = (optimizer as unknown as Record<string, unknown>)[key];
    if (v instanceof tf.Variable) out[key] = v.dataSync()[0];
  }
  return out;
}

function restoreOptimizerScalars(optimizer: tf.Optimizer, scalars: Record<string, number>): void {
  for (const [key, value] of Object.entries(scalars)) {
    const v = (optimizer as unknown as Record<string, unknown>)[key];
    if (v instanceof tf.Variable) tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
  }
}

/** Complete checkpoint folders in `dir`, newest first. */
export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return withDisplay([], (names) => checkpointsBundle(dir, names));
  const names = readdirSync(dir)
    .filter((n) => /^step-\d{8}$/.test(n) && statSync(join(dir, n)).isDirectory())
    .sort()
    .reverse();
  return withDisplay(names, (n) => checkpointsBundle(dir, n));
}

function pruneCheckpoints(dir: string, keep: number, newest: string): void {
  for (const name of listCheckpoints(dir).slice(keep)) {
    if (name === newest) continue;
    // Rename first: a removal cut short must not leave a half-deleted folder named like a checkpoint.
    const doomed = temporaryPath(join(dir, name));
    renameSync(join(dir, name), doomed);
    rmSync(doomed, { recursive: true, force: true });
  }
  // Leftovers of interrupted saves.
  for (const name of readdirSync(dir)) {
    if ((name.startsWith(".step-") || name.startsWith(".latest.")) && name.includes(".tmp-")) {
      const pid = Number(name.split(".tmp-")[1]?.split("-")[0]);
      if (pid !== process.pid) rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}

interface LoadedCheckpoint {
  path: string;
  manifest: CheckpointManifest;
  weights: Float32Array;
  state: TrainerState;
}

/** Reads and verifies one checkpoint folder; throws naming what is wrong. */
export function readCheckpoint(path: string): LoadedCheckpoint {
  const where = `checkpoint ${path}`;
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(readFileSync(join(path, "manifest.json"), "utf8"));
  } catch (e) {
    throw new MtlError(where, `manifest.json is missing or unreadable (${(e as Error).message}).`);
  }
  if (manifest.format !== CHECKPOINT_FORMAT) throw new MtlError(where, `not an mtlkit checkpoint (format ${manifest.format}).`);
  if (manifest.version > CHECKPOINT_VERSION) {
    throw new MtlError(where, `format version ${manifest.version} is newer than this mtlkit reads (${CHECKPOINT_VERSION}); upgrade mtlkit.`);
  }
  const weightBytes = readFileSync(join(path, "weights.bin"));
  const stateText = readFileSync(join(path, "state.json"), "utf8");
  if (sha256(weightBytes) !== manifest.sha256["weights.bin"]) throw new MtlError(where, "weights.bin does not match its checksum (corrupt or truncated).");
  if (sha256(stateText) !== manifest.sha256["state.json"]) throw new MtlError(where, "state.json does not match its checksum (corrupt or truncated).");
  const weights = new Float32Array(weightBytes.buffer.slice(weightBytes.byteOffset, weightBytes.byteOffset + weightBytes.byteLength));
  return { path, manifest, weights, state: JSON.parse(stateText) };
}

/** The newest checkpoint in `dir` that verifies: `latest` first, then the others newest first. */
export function findCheckpoint(dir: string): LoadedCheckpoint {
  const where = `checkpoint folder ${dir}`;
  if (!existsSync(dir)) throw new MtlError(where, "does not exist.");
  const candidates: string[] = [];
  try {
    const latest = readFileSync(join(dir, "latest"), "utf8").trim();
    if (/^step-\d{8}$/.test(latest)) candidates.push(latest);
  } catch {
    // No pointer yet (or it was being replaced): fall back to scanning.
  }
  for (const name of listCheckpoints(dir)) if (!candidates.includes(name)) candidates.push(name);
  const problems: string[] = [];
  for (const name of candidates) {
    try {
      return readCheckpoint(join(dir, name));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  throw new MtlError(where, candidates.length === 0 ? "holds no checkpoint." : `holds no valid checkpoint: ${problems.join("; ")}`);
}

/** Lists how two signatures differ, in words; empty when they match. */
export function signatureDifferences(saved: ModelSignature, current: ModelSignature): string[] {
  const diffs: string[] = [];
  if (saved.architecture !== current.architecture) diffs.push(`architecture: checkpoint '${saved.architecture}', model '${current.architecture}'`);
  const savedTasks = saved.tasks.map((t) => `${t.name} (${t.kind}, ${t.outputUnits} outputs)`);
  const currentTasks = current.tasks.map((t) => `${t.name} (${t.kind}, ${t.outputUnits} outputs)`);
  if (savedTasks.join("|") !== currentTasks.join("|")) diffs.push(`tasks: checkpoint [${savedTasks.join(", ")}], model [${currentTasks.join(", ")}]`);
  const currentVars = new Map(current.variables.map((v) => [v.name, v.shape]));
  const savedVars = new Map(saved.variables.map((v) => [v.name, v.shape]));
  for (const [name, shape] of savedVars) {
    const mine = currentVars.get(name);
    if (!mine) diffs.push(`variable '${name}' [${shape}] is in the checkpoint but not in the model`);
    else if (mine.join(",") !== shape.join(",")) diffs.push(`variable '${name}' has shape [${shape}] in the checkpoint and [${mine}] in the model`);
  }
  for (const [name, shape] of currentVars) if (!savedVars.has(name)) diffs.push(`variable '${name}' [${shape}] is in the model but not in the checkpoint`);
  return diffs;
}

/** Loads the newest valid checkpoint of `dir` into `trainer` (weights, optimizer, state). */
export async function loadCheckpoint(trainer: Trainer, dir: string): Promise<CheckpointManifest> {
  const ckpt = findCheckpoint(dir);
  const { manifest, weights } = ckpt;
  const diffs = signatureDifferences(manifest.signature, modelSignature(trainer));
  if (diffs.length > 0) throw new MtlError(`checkpoint ${ckpt.path}`, `it was saved from a different model or task set: ${diffs.join("; ")}.`);
  const className = trainer.optimizer.getClassName();
  if (manifest.optimizer.className !== className) {
    throw new MtlError(`checkpoint ${ckpt.path}`, `it was saved with optimizer ${manifest.optimizer.className}, the trainer uses ${className}.`);
  }
  const slice = (e: TensorEntry) => weights.subarray(e.offset, e.offset + e.shape.reduce((a, b) => a * b, 1));
  const byName = new Map(trainer.model.namedVariables());
  for (const e of manifest.variables) {
    const v = byName.get(e.name)!;
    tf.tidy(() => v.assign(tf.tensor(slice(e), e.shape, v.dtype)));
  }
  const slots = manifest.optimizer.slots.map((e) => ({ name: e.name, tensor: tf.tensor(slice(e), e.shape) }));
  await trainer.optimizer.setWeights(slots);
  tf.dispose(slots.map((s) => s.tensor));
  restoreOptimizerScalars(trainer.optimizer, manifest.optimizer.scalars ?? {});
  trainer.restore(ckpt.state);
  return manifest;
}
