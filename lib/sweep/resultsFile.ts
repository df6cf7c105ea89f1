/**
 * The results file of a sweep: JSON lines. The first line is a header with the sweep's identity
 * (run function, configurations, seeds) and its hash; every further line is one finished run's
 * record, appended with one write and flushed to disk (fsync) before the sweep goes on, so a crash
 * or a kill loses at most the runs that had not finished. The newest record of a run wins, so a
 * failed run that succeeds on a re-run is simply recorded again.
 *
 * Opening a file that another sweep wrote is refused, naming what differs. A last line cut short
 * by a crash mid-write is dropped (that run had not been recorded; it runs again); a damaged line
 * elsewhere is refused, naming the line.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import { check, MtlError } from "../errors";
import { writeFileAtomic } from "../util/fsAtomic";
import { Sweep, SweepIdentity } from "./definition";
import { canonicalJson } from "./hash";
import { RunRecord } from "./records";

const FORMAT = "mtlkit-sweep-results";
const VERSION = 1;

interface Header {
  format: typeof FORMAT;
  version: number;
  identity: string;
  sweep: SweepIdentity;
  created: string;
}

/** An open results file: the runs it holds, and appending new ones. */
export class ResultsFile {
  private fd: number | undefined;
  private readonly latest = new Map<string, RunRecord>();

  private constructor(
    readonly path: string,
    fd: number,
    records: RunRecord[],
  ) {
    this.fd = fd;
    for (const r of records) this.latest.set(r.run, r);
  }

  /** Opens (or creates) the results file of `sweep`; refuses a file another sweep wrote. */
  static open(path: string, sweep: Sweep): ResultsFile {
    const file = resolve(path);
    const where = `sweep results file '${path}'`;
    if (!existsSync(file) || readFileSync(file).length === 0) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      const header: Header = {
        format: FORMAT,
        version: VERSION,
        identity: sweep.identity,
        sweep: sweep.description,
        created: new Date().toISOString(),
      };
      writeFileAtomic(file, `${JSON.stringify(header)}\n`, 0o644);
    }
    const fd = openSync(file, "r+");
    try {
      const records = readRecords(where, fd, sweep);
      closeSync(fd);
      return new ResultsFile(file, openSync(file, "a"), records);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The newest record of each run, by run id. */
  records(): Map<string, RunRecord> {
    return new Map(this.latest);
  }

  /** Appends one run's record and flushes it to disk before returning. */
  append(record: RunRecord): void {
    check(this.fd !== undefined, `sweep results file '${this.path}'`, () => "is closed.");
    const bytes = Buffer.from(`${JSON.stringify(record)}\n`, "utf8");
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
    fsyncSync(this.fd);
    this.latest.set(record.run, record);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

function readRecords(where: string, fd: number, sweep: Sweep): RunRecord[] {
  const size = fstatSync(fd).size;
  const buffer = Buffer.alloc(size);
  let read = 0;
  while (read < size) {
    const n = readSync(fd, buffer, read, size - read, read);
    if (n === 0) break;
    read += n;
  }
  // A last line without its newline was cut short mid-write: drop it, so the file ends whole again.
  const end = buffer.lastIndexOf(0x0a) + 1;
  if (end < size) {
    ftruncateSync(fd, end);
    fsyncSync(fd);
  }
  const lines = buffer.subarray(0, end).toString("utf8").split("\n").slice(0, -1);
  if (lines.length === 0)
    throw new MtlError(where, "is not an mtlkit sweep results file (it has no header line); give another path or delete it.");
  let header: Header;
  try {
    header = JSON.parse(lines[0]) as Header;
  } catch {
    throw new MtlError(where, "is not an mtlkit sweep results file (its first line is not JSON); give another path or delete it.");
  }
  check(
    header?.format === FORMAT,
    where,
    () => "is not an mtlkit sweep results file (its first line is not a sweep header); give another path or delete it.",
  );
  check(header.version === VERSION, where, () => `has format version ${header.version}; this mtlkit reads version ${VERSION}.`);
  if (header.identity !== sweep.identity) {
    const differences = describeDifferences(header.sweep, sweep.description);
    throw new MtlError(
      where,
      `was written by a different sweep: ${differences.join("; ") || "its identity differs"}. ` +
        "Its results cannot be mixed with this sweep's: give this sweep another results file, or delete this one to start over.",
    );
  }
  const records: RunRecord[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === "") continue;
    let record: RunRecord;
    try {
      record = JSON.parse(lines[i]) as RunRecord;
    } catch {
      throw new MtlError(where, `line ${i + 1} is not valid JSON (the file was edited or damaged); repair or delete that line.`);
    }
    check(
      record !== null && typeof record.run === "string" && (record.status === "ok" || record.status === "failed"),
      where,
      () => `line ${i + 1} is not a run record (it needs 'run' and 'status').`,
    );
    records.push(record);
  }
  return records;
}

/** In words, what differs between the sweep that wrote a file and this one. */
export function describeDifferences(file: SweepIdentity, ours: SweepIdentity): string[] {
  const out: string[] = [];
  const fn = (s: SweepIdentity) => `${s.run.module}#${s.run.export}`;
  if (fn(file) !== fn(ours)) out.push(`the run function differs (the file's: ${fn(file)}, this sweep's: ${fn(ours)})`);
  if (canonicalJson(file.seeds) !== canonicalJson(ours.seeds)) {
    out.push(`the seeds differ (the file's: ${listSeeds(file.seeds)}, this sweep's: ${listSeeds(ours.seeds)})`);
  }
  const fileConfigs = new Set(file.configs.map(canonicalJson));
  const ourConfigs = new Set(ours.configs.map(canonicalJson));
  const onlyOurs = [...ourConfigs].filter((c) => !fileConfigs.has(c));
  const onlyFile = [...fileConfigs].filter((c) => !ourConfigs.has(c));
  if (onlyOurs.length > 0 || onlyFile.length > 0) {
    const some = (xs: string[]) => xs.slice(0, 3).join(", ") + (xs.length > 3 ? `, … (${xs.length} in all)` : "");
    const parts = [`the configurations differ (the file has ${fileConfigs.size}, this sweep ${ourConfigs.size}`];
    if (onlyOurs.length > 0) parts.push(`only in this sweep: ${some(onlyOurs)}`);
    if (onlyFile.length > 0) parts.push(`only in the file: ${some(onlyFile)}`);
    out.push(`${parts.join("; ")})`);
  }
  return out;
}

function listSeeds(seeds: number[]): string {
  const consecutive = seeds.every((s, i) => i === 0 || s === seeds[i - 1] + 1);
  return consecutive && seeds.length > 3 ? `${seeds[0]}..${seeds[seeds.length - 1]}` : `[${seeds.join(", ")}]`;
}
