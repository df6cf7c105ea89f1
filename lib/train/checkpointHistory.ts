/**
 * The training history as checkpoints store it: one append-only file per run in the checkpoint
 * folder, `history-<id>.jsonl`, one JSON line per record (`["step", {...}]` or `["epoch", {...}]`).
 * Each save appends only the records made since the previous save, so the cost of a save does not
 * grow with the length of the run. A checkpoint refers to a prefix of that file: its byte length,
 * the number of step and epoch records in it, and the SHA-256 of those bytes. Bytes past the prefix
 * (a newer checkpoint's records, or the tail of a save that was killed) are ignored on load, so a
 * resumed run has exactly the history of its checkpoint.
 *
 * A file is never truncated or rewritten: when the file on disk is no longer the one this process
 * last appended to (a resumed run whose file has a later tail, another process, a history that was
 * replaced in memory), the save starts a new file holding the whole history. Files that no kept
 * checkpoint refers to are removed when checkpoints are pruned.
 */
import { createHash, Hash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { fsyncDir } from "../util/fsAtomic";
import type { EpochRecord, StepRecord } from "./history";

/** The part of a history file that one checkpoint covers. */
export interface HistoryRef {
  file: string;
  /** Length of the covered prefix in bytes. */
  bytes: number;
  /** Step and epoch records in that prefix. */
  steps: number;
  epochs: number;
  /** SHA-256 of the prefix. */
  sha256: string;
}

export const HISTORY_FILE_PATTERN = /^history-[0-9a-f]{12}\.jsonl$/;

/** What this process last appended to one folder's history file on behalf of one trainer. */
interface Sink {
  file: string;
  bytes: number;
  steps: number;
  epochs: number;
  /** Hash of the file's first `bytes` bytes, continued at each append. */
  hash: Hash;
  /** The last records written, by identity: if the history was replaced in memory, they differ. */
  lastStep?: StepRecord;
  lastEpoch?: EpochRecord;
}

const sinks = new WeakMap<object, Map<string, Sink>>();

interface Records {
  steps: StepRecord[];
  epochs: EpochRecord[];
}

function sinkFor(owner: object, dir: string): Sink | undefined {
  return sinks.get(owner)?.get(resolve(dir));
}

function setSink(owner: object, dir: string, sink: Sink): void {
  let byDir = sinks.get(owner);
  if (!byDir) sinks.set(owner, (byDir = new Map()));
  byDir.set(resolve(dir), sink);
}

/** Whether the sink still describes the history in memory and the file on disk. */
function sinkStillValid(sink: Sink, dir: string, history: Records): boolean {
  if (sink.steps > history.steps.length || sink.epochs > history.epochs.length) return false;
  if (sink.steps > 0 && history.steps[sink.steps - 1] !== sink.lastStep) return false;
  if (sink.epochs > 0 && history.epochs[sink.epochs - 1] !== sink.lastEpoch) return false;
  const path = join(dir, sink.file);
  return existsSync(path) && statSync(path).size === sink.bytes;
}

/**
 * Appends the records made since the last save of `owner` into `dir` (or the whole history into a
 * new file) and fsyncs it; returns the reference a checkpoint stores.
 */
export function appendHistory(owner: object, dir: string, history: Records): HistoryRef {
  let sink = sinkFor(owner, dir);
  if (!sink || !sinkStillValid(sink, dir, history)) {
    sink = { file: `history-${randomBytes(6).toString("hex")}.jsonl`, bytes: 0, steps: 0, epochs: 0, hash: createHash("sha256") };
  }
  let text = "";
  for (let i = sink.steps; i < history.steps.length; i++) text += `${JSON.stringify(["step", history.steps[i]])}\n`;
  for (let i = sink.epochs; i < history.epochs.length; i++) text += `${JSON.stringify(["epoch", history.epochs[i]])}\n`;
  const bytes = Buffer.from(text, "utf8");
  const path = join(dir, sink.file);
  const created = sink.bytes === 0;
  const fd = openSync(path, "a", 0o600);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (created) fsyncDir(dir);
  // Only a complete append moves the sink: a failed one leaves a size mismatch, and the next save starts a new file.
  sink.hash.update(bytes);
  sink.bytes += bytes.length;
  sink.steps = history.steps.length;
  sink.epochs = history.epochs.length;
  sink.lastStep = history.steps[sink.steps - 1];
  sink.lastEpoch = history.epochs[sink.epochs - 1];
  setSink(owner, dir, sink);
  return { file: sink.file, bytes: sink.bytes, steps: sink.steps, epochs: sink.epochs, sha256: sink.hash.copy().digest("hex") };
}

export interface ReadHistory extends Records {
  /** The hash of the verified prefix, for `adoptHistory`. */
  hash: Hash;
}

/** Reads and verifies the prefix of a history file that `ref` covers; throws `damaged(what is wrong)`. */
export function readHistory(dir: string, ref: HistoryRef, damaged: (problem: string) => Error): ReadHistory {
  const path = join(dir, ref.file);
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    throw damaged(`history file ${ref.file} is missing or unreadable (${(e as Error).message}).`);
  }
  if (data.length < ref.bytes)
    throw damaged(`history file ${ref.file} is truncated (${data.length} bytes, the checkpoint covers ${ref.bytes}).`);
  const prefix = data.subarray(0, ref.bytes);
  const hash = createHash("sha256").update(prefix);
  if (hash.copy().digest("hex") !== ref.sha256)
    throw damaged(`history file ${ref.file} does not match its checksum (corrupt) in the first ${ref.bytes} bytes.`);
  const steps: StepRecord[] = [];
  const epochs: EpochRecord[] = [];
  const lines = prefix.toString("utf8").split("\n");
  if (lines.pop() !== "") throw damaged(`history file ${ref.file} does not end a record at byte ${ref.bytes}.`);
  lines.forEach((line, i) => {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      throw damaged(`line ${i + 1} of history file ${ref.file} is not JSON.`);
    }
    const [kind, record] = Array.isArray(entry) ? entry : [];
    if (typeof record !== "object" || record === null) throw damaged(`line ${i + 1} of history file ${ref.file} is not a history record.`);
    // JSON writes NaN (a task that did not train at the step, a skipped step's loss) as null.
    if (kind === "step") steps.push(withNaN(record as StepRecord));
    else if (kind === "epoch") epochs.push(record as EpochRecord);
    else throw damaged(`line ${i + 1} of history file ${ref.file} has unknown kind ${JSON.stringify(kind)}.`);
  });
  if (steps.length !== ref.steps || epochs.length !== ref.epochs) {
    throw damaged(
      `history file ${ref.file} holds ${steps.length} step and ${epochs.length} epoch records where the checkpoint expects ${ref.steps} and ${ref.epochs}.`,
    );
  }
  return { steps, epochs, hash };
}

/**
 * After a load: the owner's next save into `dir` appends to the loaded file, provided the file
 * still ends where the checkpoint's prefix ends (else it starts a new file).
 */
export function adoptHistory(owner: object, dir: string, ref: HistoryRef, read: ReadHistory, history: Records): void {
  setSink(owner, dir, {
    file: ref.file,
    bytes: ref.bytes,
    steps: ref.steps,
    epochs: ref.epochs,
    hash: read.hash,
    lastStep: history.steps[ref.steps - 1],
    lastEpoch: history.epochs[ref.epochs - 1],
  });
}

/** Removes the history files of `dir` that no name in `referenced` keeps. */
export function pruneHistoryFiles(dir: string, referenced: Set<string>): void {
  for (const name of readdirSync(dir)) {
    if (HISTORY_FILE_PATTERN.test(name) && !referenced.has(name)) rmSync(join(dir, name), { force: true });
  }
}

function withNaN(record: StepRecord): StepRecord {
  const back = (xs: Array<number | null>) => xs.map((v) => (v === null ? NaN : v));
  return { ...record, losses: back(record.losses), weights: back(record.weights) };
}
