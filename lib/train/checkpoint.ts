/**
 * Checkpoints that resume exactly and never load damaged data. A checkpoint folder `dir` holds:
 *
 *   dir/latest                  the newest complete checkpoint's name and its SHA-256 (replaced atomically)
 *   dir/history-<id>.jsonl      the run's history, appended at each save (see checkpointHistory.ts)
 *   dir/step-00000120/          manifest.json, weights.bin, state.json, SHA256SUMS
 *
 * Each step folder is written under a temporary name, every file fsynced, and renamed into place in
 * one step; `latest` is updated only after that. An interrupted save therefore leaves either the
 * previous checkpoint or the new one, never a half-written one. SHA256SUMS (the format of
 * `sha256sum`) covers the folder's three files; the manifest covers the history prefix the
 * checkpoint uses. Loading verifies all of it before anything is parsed or trusted, and falls back
 * past a damaged checkpoint to the newest intact one with a warning. Files are owner-only (0600,
 * folders 0700).
 *
 * weights.bin holds the model's variables (in `namedVariables()` order) and then the optimizer's
 * slots (in `getWeights()` order), all float32 little-endian, back to back; state.json holds the
 * trainer's step, epoch, RNG state and epoch position, and the state of every stateful component
 * (a loss-weighting method, an aggregator). Its size does not grow with the number of steps.
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { checkNamedInputs, describeInputs, NamedInput } from "../data/inputs";
import { DamagedCheckpointError, MtlError } from "../errors";
import { temporaryPath, writeFileAtomic, writeFolderAtomic } from "../util/fsAtomic";
import {
  adoptHistory,
  appendHistory,
  HISTORY_FILE_PATTERN,
  HistoryRef,
  pruneHistoryFiles,
  readHistory,
  ReadHistory,
} from "./checkpointHistory";
import type { RunInfo } from "./history";
import { isStateful } from "./stateful";
import type { Trainer, TrainerState } from "./trainer";
import { withDisplay } from "../display/attach";
import { checkpointsBundle } from "../display/checkpoints";

export const CHECKPOINT_FORMAT = "mtlkit-checkpoint";
/** 2: SHA256SUMS covers the manifest; the history lives in an append-only file beside the step folders. */
export const CHECKPOINT_VERSION = 2;
const CHECKSUMS = "SHA256SUMS";
const FOLDER_FILES = ["manifest.json", "weights.bin", "state.json"] as const;

type NamedTensor = { name: string; tensor: tf.Tensor };

/** Where one variable lies in weights.bin. */
export interface TensorEntry {
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
  /** The model's named inputs (name, row shape, kind), when it has them. */
  inputs?: NamedInput[];
}

/**
 * A checkpoint's manifest.json: versions, the model's signature, where each variable lies in weights.bin, the
 * optimizer's slots and the history it covers.
 */
export interface CheckpointManifest {
  format: string;
  version: number;
  versions: { mtlkit: string; tfjs: string; node: string };
  createdAt: string;
  step: number;
  epoch: number;
  signature: ModelSignature;
  /**
   * The optimizer's slots; its scalar variables kept outside them (e.g. tfjs Adam's running β
   * powers), by property name; and, when the optimizer is `Stateful`, its own state.
   */
  optimizer: { className: string; slots: TensorEntry[]; scalars: Record<string, number>; state?: unknown };
  variables: TensorEntry[];
  /** The prefix of the run's history file that this checkpoint covers. */
  history: HistoryRef;
}

/** state.json: the trainer's state without the history records (they are in the history file). */
type StoredState = Omit<TrainerState, "history"> & { history: { run?: RunInfo } };

export function modelSignature(trainer: Trainer): ModelSignature {
  return {
    architecture: trainer.model.architecture,
    tasks: trainer.tasks.map((t) => ({ name: t.name, kind: t.kind, outputUnits: t.outputUnits })),
    variables: trainer.model.namedVariables().map(([name, v]) => ({ name, shape: [...v.shape] })),
    ...(trainer.model.inputs ? { inputs: trainer.model.inputs.map((s) => ({ name: s.name, shape: [...s.shape], kind: s.kind })) } : {}),
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
const STEP_FOLDER = /^step-\d{8}$/;
/** `latest`: the newest checkpoint's name, then its SHA-256, so a damaged pointer is told from a valid one. */
const latestText = (name: string): string => `${name}\n${sha256(name)}\n`;

/** Checkpoint problems reach the user even when nothing catches them: a console warning, as Node's own are. */
function warn(message: string): void {
  console.warn(`mtlkit: ${message}`);
}

/** Saves a checkpoint of the trainer into `dir` and returns the new sub-folder's path. */
export async function saveCheckpoint(trainer: Trainer, dir: string, keep = 3): Promise<string> {
  if (!Number.isInteger(keep) || keep < 1) throw new MtlError("saveCheckpoint", `option 'keep' must be a positive integer, got ${keep}.`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entries: TensorEntry[] = [];
  const slotEntries: TensorEntry[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  const add = async (list: TensorEntry[], name: string, t: tf.Tensor) => {
    const values = await t.data();
    const data = values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
    list.push({ name, shape: [...t.shape], offset });
    chunks.push(data);
    offset += data.length;
  };
  for (const [name, v] of trainer.model.namedVariables()) await add(entries, name, v);
  const slots = await trainer.optimizer.getWeights();
  try {
    for (const s of slots) await add(slotEntries, s.name, s.tensor);
  } finally {
    disposeNonVariables(slots);
  }
  const weights = new Float32Array(offset);
  let o = 0;
  for (const c of chunks) {
    weights.set(c, o);
    o += c.length;
  }
  const weightBytes = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  const { history, ...rest } = await trainer.snapshotAsync();
  const stored: StoredState = { ...rest, history: { run: history.run } };
  const stateText = JSON.stringify(stored);
  // Appended before the folder is written: a checkpoint never refers to history that is not on disk.
  const historyRef = appendHistory(trainer, dir, trainer.history);
  const optimizer = trainer.optimizer;
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    versions: { mtlkit: mtlkitVersion(), tfjs: tf.version.tfjs, node: process.version },
    createdAt: new Date().toISOString(),
    step: trainer.step,
    epoch: trainer.currentEpoch,
    signature: modelSignature(trainer),
    optimizer: {
      className: optimizer.getClassName(),
      slots: slotEntries,
      scalars: await optimizerScalars(optimizer),
      ...(isStateful(optimizer) ? { state: optimizer.state() } : {}),
    },
    variables: entries,
    history: historyRef,
  };
  const manifestText = JSON.stringify(manifest, null, 1);
  const contents: Record<(typeof FOLDER_FILES)[number], Uint8Array | string> = {
    "manifest.json": manifestText,
    "weights.bin": weightBytes,
    "state.json": stateText,
  };
  const sums = FOLDER_FILES.map((f) => `${sha256(contents[f])}  ${f}\n`).join("");

  const name = stepFolder(trainer.step);
  const target = join(dir, name);
  // Same step saved again: the old folder is moved aside first, so a valid copy always exists.
  writeFolderAtomic(target, { ...contents, [CHECKSUMS]: sums });
  writeFileAtomic(join(dir, "latest"), latestText(name));
  pruneCheckpoints(dir, keep, name);
  return target;
}

/** getWeights() returns the optimizer's own slot variables and fresh tensors (the iteration count): only the latter are ours to free. */
function disposeNonVariables(weights: NamedTensor[]): void {
  for (const w of weights) if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
}

/**
 * Scalar variables an optimizer keeps outside getWeights(), by property name. tfjs's Adam keeps
 * β₁ᵗ and β₂ᵗ as running products that setWeights recomputes with pow(), which can differ in the
 * last float32 bit; saving the exact values keeps a resumed run bit-identical. Found by looking,
 * not by a list of names, so any optimizer's scalars travel.
 */
async function optimizerScalars(optimizer: tf.Optimizer): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(optimizer).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (v instanceof tf.Variable && v.rank === 0) out[key] = (await v.data())[0];
  }
  return out;
}

function restoreOptimizerScalars(optimizer: tf.Optimizer, scalars: Record<string, number>): void {
  for (const [key, value] of Object.entries(scalars)) {
    const v = (optimizer as unknown as Record<string, unknown>)[key];
    if (v instanceof tf.Variable && v.rank === 0) tf.tidy(() => v.assign(tf.scalar(value, v.dtype)));
  }
}

/** Step folders in `dir` (complete ones: temporary folders have other names), newest first. */
export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return withDisplay([], (names) => checkpointsBundle(dir, names));
  const names = readdirSync(dir)
    .filter((n) => STEP_FOLDER.test(n) && statSync(join(dir, n)).isDirectory())
    .sort()
    .reverse();
  return withDisplay(names, (n) => checkpointsBundle(dir, n));
}

/**
 * Keeps the `keep` newest checkpoints up to the one just saved. Checkpoints of later steps are
 * removed: they belong to a timeline this run abandoned (it resumed from an earlier checkpoint,
 * past damaged ones, or a new run started in this folder), and left in place they would keep
 * taking the place of intact ones.
 */
function pruneCheckpoints(dir: string, keep: number, newest: string): void {
  const all = listCheckpoints(dir);
  const superseded = all.filter((name) => name > newest);
  if (superseded.length > 0)
    warn(`removed checkpoint${superseded.length > 1 ? "s" : ""} ${superseded.join(", ")} from ${dir}: ${newest} supersedes later steps.`);
  const current = all.filter((name) => name <= newest);
  for (const name of [...superseded, ...current.slice(keep)]) {
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
  // History files no kept checkpoint refers to (a killed save's, or a pruned run's).
  const referenced = new Set<string>();
  for (const name of listCheckpoints(dir)) {
    try {
      const file = JSON.parse(readFileSync(join(dir, name, "manifest.json"), "utf8"))?.history?.file;
      if (typeof file === "string") referenced.add(file);
    } catch {
      // An unreadable manifest is a damaged checkpoint; it cannot be loaded either way.
    }
  }
  pruneHistoryFiles(dir, referenced);
}

interface LoadedCheckpoint {
  path: string;
  manifest: CheckpointManifest;
  weights: Float32Array;
  state: TrainerState;
  history: ReadHistory;
}

/** Reads and verifies one checkpoint folder; throws a DamagedCheckpointError saying what is wrong. */
export function readCheckpoint(path: string): LoadedCheckpoint {
  const damaged = (problem: string) => new DamagedCheckpointError(path, problem);
  let sumsText: string;
  try {
    sumsText = readFileSync(join(path, CHECKSUMS), "utf8");
  } catch (e) {
    if (olderFormat(path)) throw damaged(`format version 1 was written by an older mtlkit (without ${CHECKSUMS}) and is no longer read.`);
    throw damaged(`${CHECKSUMS} is missing or unreadable (${(e as Error).message}).`);
  }
  const expected = parseChecksums(sumsText);
  if (typeof expected === "string") throw damaged(`${CHECKSUMS} is damaged: ${expected}.`);
  const bytes: Partial<Record<(typeof FOLDER_FILES)[number], Buffer>> = {};
  for (const f of FOLDER_FILES) {
    try {
      bytes[f] = readFileSync(join(path, f));
    } catch (e) {
      throw damaged(`${f} is missing or unreadable (${(e as Error).message}).`);
    }
    if (sha256(bytes[f]!) !== expected[f])
      throw damaged(`${f} does not match its checksum in ${CHECKSUMS} (corrupt, truncated or changed).`);
  }
  let manifest: CheckpointManifest;
  let stored: StoredState;
  try {
    manifest = JSON.parse(bytes["manifest.json"]!.toString("utf8"));
    stored = JSON.parse(bytes["state.json"]!.toString("utf8"));
  } catch (e) {
    throw damaged(`a file is not valid JSON (${(e as Error).message}).`);
  }
  if (manifest?.format !== CHECKPOINT_FORMAT) throw damaged(`not an mtlkit checkpoint (format ${JSON.stringify(manifest?.format)}).`);
  if (manifest.version !== CHECKPOINT_VERSION) {
    throw damaged(
      manifest.version > CHECKPOINT_VERSION
        ? `format version ${manifest.version} is newer than this mtlkit reads (${CHECKPOINT_VERSION}); upgrade mtlkit.`
        : `format version ${manifest.version} was written by an older mtlkit and is no longer read.`,
    );
  }
  const weightBytes = bytes["weights.bin"]!;
  if (weightBytes.length % 4 !== 0) throw damaged(`weights.bin has ${weightBytes.length} bytes, not a whole number of float32 values.`);
  const weights = new Float32Array(weightBytes.buffer.slice(weightBytes.byteOffset, weightBytes.byteOffset + weightBytes.byteLength));
  const problem = manifestProblem(manifest, weights.length) ?? stateProblem(stored, manifest);
  if (problem) throw damaged(`manifest.json or state.json is malformed: ${problem}.`);
  const history = readHistory(join(path, ".."), manifest.history, damaged);
  const state: TrainerState = { ...stored, history: { steps: history.steps, epochs: history.epochs, run: stored.history.run } };
  return { path, manifest, weights, state, history };
}

/** Whether the folder looks like a version 1 checkpoint (which had no SHA256SUMS). */
function olderFormat(path: string): boolean {
  try {
    const m = JSON.parse(readFileSync(join(path, "manifest.json"), "utf8"));
    return m?.format === CHECKPOINT_FORMAT && m.version === 1;
  } catch {
    return false;
  }
}

/** The checksums SHA256SUMS lists for the folder's files, or what is wrong with it. */
function parseChecksums(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  if (lines.pop() !== "") return "it does not end with a newline";
  for (const line of lines) {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    if (!m) return `line ${JSON.stringify(line.slice(0, 80))} is not '<sha256>  <file>'`;
    out[m[2]] = m[1];
  }
  const names = Object.keys(out).sort();
  if (lines.length !== FOLDER_FILES.length || names.join() !== [...FOLDER_FILES].sort().join())
    return `it lists ${names.join(", ") || "nothing"}, not ${FOLDER_FILES.join(", ")}`;
  return out;
}

/** What is wrong with a stored input list, or undefined. */
function inputsProblem(inputs: unknown): string | undefined {
  try {
    checkNamedInputs("checkpoint", inputs);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const isCount = (x: unknown): x is number => typeof x === "number" && Number.isInteger(x) && x >= 0;
const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/**
 * What is structurally wrong with a manifest whose checksum matched (a hand edit or a writer's
 * bug), so that loading fails with words rather than a TypeError; undefined when it is sound.
 */
function manifestProblem(m: CheckpointManifest, weightCount: number): string | undefined {
  if (!isCount(m.step) || !isCount(m.epoch)) return "step or epoch is not a count";
  const sig = m.signature;
  if (!isObject(sig) || typeof sig.architecture !== "string" || !Array.isArray(sig.tasks) || !Array.isArray(sig.variables))
    return "the model signature is incomplete";
  if (!sig.tasks.every((t) => isObject(t) && typeof t.name === "string" && typeof t.kind === "string" && isCount(t.outputUnits)))
    return "a task in the signature is incomplete";
  if (!sig.variables.every((v) => isObject(v) && typeof v.name === "string" && Array.isArray(v.shape) && v.shape.every(isCount)))
    return "a variable in the signature is incomplete";
  if (sig.inputs !== undefined && inputsProblem(sig.inputs) !== undefined)
    return `the signature's named inputs are malformed (${inputsProblem(sig.inputs)})`;
  const opt = m.optimizer;
  if (!isObject(opt) || typeof opt.className !== "string" || !Array.isArray(opt.slots) || !isObject(opt.scalars))
    return "the optimizer entry is incomplete";
  for (const [key, v] of Object.entries(opt.scalars))
    if (typeof v !== "number" || !Number.isFinite(v)) return `optimizer scalar '${key}' is not a finite number`;
  if (!Array.isArray(m.variables)) return "the variable list is missing";
  // The tensors must tile weights.bin exactly, in order: a changed offset or shape cannot pass.
  let next = 0;
  for (const e of [...m.variables, ...opt.slots]) {
    if (!isObject(e) || typeof e.name !== "string" || !Array.isArray(e.shape) || !e.shape.every(isCount))
      return "a tensor entry is incomplete";
    if (e.offset !== next) return `tensor '${e.name}' starts at offset ${e.offset}, expected ${next}`;
    next += e.shape.reduce((a: number, b: number) => a * b, 1);
  }
  if (next !== weightCount) return `the tensors hold ${next} values, weights.bin ${weightCount}`;
  const h = m.history;
  if (
    !isObject(h) ||
    typeof h.file !== "string" ||
    !HISTORY_FILE_PATTERN.test(h.file) ||
    !isCount(h.bytes) ||
    !isCount(h.steps) ||
    !isCount(h.epochs) ||
    typeof h.sha256 !== "string"
  ) {
    return "the history reference is incomplete";
  }
  return undefined;
}

function stateProblem(s: StoredState, m: CheckpointManifest): string | undefined {
  if (!isObject(s)) return "state.json is not an object";
  if (s.step !== m.step || s.epoch !== m.epoch)
    return `state.json is at step ${s.step} epoch ${s.epoch}, the manifest at step ${m.step} epoch ${m.epoch}`;
  if (!isObject(s.components) || !isObject(s.history) || !Array.isArray(s.rng) || s.rng.length !== 4 || !s.rng.every(isCount)) {
    return "state.json lacks components, history or RNG state";
  }
  return undefined;
}

/** A checkpoint found by `findCheckpoint`, with the newer ones it passed over as damaged. */
export interface FoundCheckpoint extends LoadedCheckpoint {
  skipped: Array<{ path: string; problem: string }>;
}

const withoutStop = (s: string) => s.replace(/\.$/, "");

/** The name `latest` points to, or what is wrong with it (undefined when there is none yet). */
function readLatest(dir: string): { name?: string; problem?: string } {
  let text: string;
  try {
    text = readFileSync(join(dir, "latest"), "utf8");
  } catch {
    return {}; // No pointer yet (a first save cut short): the folders are scanned.
  }
  const name = text.slice(0, text.indexOf("\n"));
  if (!STEP_FOLDER.test(name) || text !== latestText(name)) return { problem: "its content does not match its checksum" };
  return { name };
}

/**
 * The newest checkpoint in `dir` that verifies: the one `latest` names first, then the others
 * newest first. Each damaged one passed over is reported with a console warning.
 */
export function findCheckpoint(dir: string): FoundCheckpoint {
  const where = `checkpoint folder ${dir}`;
  if (!existsSync(dir)) throw new MtlError(where, "does not exist.");
  const latest = readLatest(dir);
  const skipped: FoundCheckpoint["skipped"] = [];
  if (latest.problem) {
    skipped.push({ path: join(dir, "latest"), problem: latest.problem });
    warn(`${join(dir, "latest")} is damaged (${latest.problem}); looking for the newest intact checkpoint in ${dir}.`);
  }
  const candidates = latest.name ? [latest.name] : [];
  for (const name of listCheckpoints(dir)) if (!candidates.includes(name)) candidates.push(name);
  for (const name of candidates) {
    const path = join(dir, name);
    try {
      const found = readCheckpoint(path);
      const passed = skipped.filter((s) => !s.path.endsWith("latest"));
      if (passed.length > 0) {
        warn(
          `skipped damaged checkpoint${passed.length > 1 ? "s" : ""} in ${dir}: ${passed.map((s) => `${s.path} (${withoutStop(s.problem)})`).join("; ")}. Loaded ${path} (step ${found.manifest.step}) instead.`,
        );
      }
      return { ...found, skipped };
    } catch (e) {
      skipped.push({
        path,
        problem: e instanceof DamagedCheckpointError ? e.problem : `unreadable (${(e as Error)?.message ?? String(e)})`,
      });
    }
  }
  if (candidates.length === 0) throw new MtlError(where, "holds no checkpoint.");
  throw new MtlError(where, `holds no intact checkpoint: ${skipped.map((s) => `${s.path}: ${withoutStop(s.problem)}`).join("; ")}.`);
}

/** Lists how two signatures differ, in words; empty when they match. */
export function signatureDifferences(saved: ModelSignature, current: ModelSignature): string[] {
  const diffs: string[] = [];
  if (saved.architecture !== current.architecture)
    diffs.push(`architecture: checkpoint '${saved.architecture}', model '${current.architecture}'`);
  const savedTasks = saved.tasks.map((t) => `${t.name} (${t.kind}, ${t.outputUnits} outputs)`);
  const currentTasks = current.tasks.map((t) => `${t.name} (${t.kind}, ${t.outputUnits} outputs)`);
  if (savedTasks.join("|") !== currentTasks.join("|"))
    diffs.push(`tasks: checkpoint [${savedTasks.join(", ")}], model [${currentTasks.join(", ")}]`);
  const savedInputs = saved.inputs ? describeInputs(saved.inputs) : "one unnamed input";
  const currentInputs = current.inputs ? describeInputs(current.inputs) : "one unnamed input";
  if (savedInputs !== currentInputs) diffs.push(`inputs: checkpoint ${savedInputs}, model ${currentInputs}`);
  const currentVars = new Map(current.variables.map((v) => [v.name, v.shape]));
  const savedVars = new Map(saved.variables.map((v) => [v.name, v.shape]));
  for (const [name, shape] of savedVars) {
    const mine = currentVars.get(name);
    if (!mine) diffs.push(`variable '${name}' [${shape}] is in the checkpoint but not in the model`);
    else if (mine.join(",") !== shape.join(","))
      diffs.push(`variable '${name}' has shape [${shape}] in the checkpoint and [${mine}] in the model`);
  }
  for (const [name, shape] of currentVars)
    if (!savedVars.has(name)) diffs.push(`variable '${name}' [${shape}] is in the model but not in the checkpoint`);
  return diffs;
}

/**
 * Loads the newest intact checkpoint of `dir` into `trainer` (weights, optimizer, state). Every
 * check runs before the trainer is touched, so a refused checkpoint leaves the trainer as it was.
 */
export async function loadCheckpoint(trainer: Trainer, dir: string): Promise<CheckpointManifest> {
  const ckpt = findCheckpoint(dir);
  const { manifest, weights } = ckpt;
  const where = `checkpoint ${ckpt.path}`;
  const diffs = signatureDifferences(manifest.signature, modelSignature(trainer));
  if (diffs.length > 0) throw new MtlError(where, `it was saved from a different model or task set: ${diffs.join("; ")}.`);
  const optimizer = trainer.optimizer;
  const className = optimizer.getClassName();
  if (manifest.optimizer.className !== className)
    throw new MtlError(where, `it was saved with optimizer ${manifest.optimizer.className}, the trainer uses ${className}.`);
  for (const name of Object.keys(trainer.components)) {
    if (!(name in ckpt.state.components))
      throw new MtlError(where, `it has no state for the trainer's '${name}' (saved with a different weighting method or aggregator?).`);
  }
  const slice = (e: TensorEntry) => weights.subarray(e.offset, e.offset + e.shape.reduce((a, b) => a * b, 1));
  const byName = new Map(trainer.model.namedVariables());
  for (const e of manifest.variables) {
    const v = byName.get(e.name)!;
    tf.tidy(() => v.assign(tf.tensor(slice(e), e.shape, v.dtype)));
  }
  await setOptimizerWeights(
    optimizer,
    manifest.optimizer.slots.map((e) => ({ name: e.name, tensor: tf.tensor(slice(e), e.shape) })),
  );
  restoreOptimizerScalars(optimizer, manifest.optimizer.scalars);
  if (isStateful(optimizer) && manifest.optimizer.state !== undefined) optimizer.loadState(manifest.optimizer.state);
  trainer.restore(ckpt.state);
  adoptHistory(trainer, dir, manifest.history, ckpt.history, trainer.history);
  return manifest;
}

/**
 * setWeights() makes new slot variables from the given tensors and drops the old ones without
 * disposing them; free both the inputs and the slots it replaced.
 */
async function setOptimizerWeights(optimizer: tf.Optimizer, slots: NamedTensor[]): Promise<void> {
  const before = await optimizer.getWeights();
  disposeNonVariables(before);
  try {
    await optimizer.setWeights(slots);
  } finally {
    tf.dispose(slots.map((s) => s.tensor));
  }
  const after = await optimizer.getWeights();
  disposeNonVariables(after);
  const kept = new Set(after.map((w) => w.tensor.id));
  for (const w of before) if (w.tensor instanceof tf.Variable && !kept.has(w.tensor.id)) w.tensor.dispose();
}
