/**
 * Execution history kept across kernel restarts in a JSON-lines file: one
 * record per stored execution {session, line, input, output}. A kernel process
 * is one session, numbered after the highest session in the file.
 *
 * Memory stays bounded however long a session runs: outputs are kept as their
 * first OUTPUT_CHARS characters (IPython keeps none by default), and only the
 * newest RECORDS_IN_MEMORY records are held in memory.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const OUTPUT_CHARS = 1024;
const RECORDS_IN_MEMORY = 10_000;

export interface HistoryRecord {
  session: number;
  line: number;
  input: string;
  output: string | null;
}

export type HistoryEntry = [number, number, string | [string, string | null]];

export interface HistoryQuery {
  hist_access_type?: "range" | "tail" | "search";
  output?: boolean;
  raw?: boolean;
  session?: number;
  start?: number;
  stop?: number | null;
  n?: number | null;
  pattern?: string;
  unique?: boolean;
}

export function defaultHistoryFile(): string {
  if (process.env.MTLKIT_HISTORY_FILE) return process.env.MTLKIT_HISTORY_FILE;
  const base = process.env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share");
  return path.join(base, "mtlkit", "history.jsonl");
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[\\s\\S]*")
    .replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}

export class History {
  readonly session: number;
  private records: HistoryRecord[] = [];

  constructor(private readonly file: string = defaultHistoryFile()) {
    this.records = this.load().slice(-RECORDS_IN_MEMORY);
    this.session = this.records.reduce((m, r) => Math.max(m, r.session), 0) + 1;
  }

  private load(): HistoryRecord[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, "utf8");
    } catch {
      return [];
    }
    const out: HistoryRecord[] = [];
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const r = JSON.parse(line) as HistoryRecord;
        if (typeof r.session === "number" && typeof r.line === "number" && typeof r.input === "string") out.push(r);
      } catch {
        // a torn last line from a crash: skip it
      }
    }
    return out;
  }

  /** Record one execution; each record is a single O_APPEND write. */
  add(line: number, input: string, output: string | null): void {
    const kept = output !== null && output.length > OUTPUT_CHARS ? `${output.slice(0, OUTPUT_CHARS)}…` : output;
    const rec: HistoryRecord = { session: this.session, line, input, output: kept };
    this.records.push(rec);
    if (this.records.length > RECORDS_IN_MEMORY) this.records.splice(0, this.records.length - RECORDS_IN_MEMORY);
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      fs.appendFileSync(this.file, JSON.stringify(rec) + "\n", { mode: 0o600 });
    } catch (e) {
      process.stderr.write(`mtlkit kernel: cannot write history to ${this.file}: ${(e as Error).message}\n`);
    }
  }

  /** Answer a history_request. */
  query(q: HistoryQuery): HistoryEntry[] {
    const fmt = (r: HistoryRecord): HistoryEntry => (q.output ? [r.session, r.line, [r.input, r.output]] : [r.session, r.line, r.input]);
    const n = typeof q.n === "number" && q.n > 0 ? q.n : undefined;
    switch (q.hist_access_type) {
      case "tail": {
        const recs = n === undefined ? this.records : this.records.slice(-n);
        return recs.map(fmt);
      }
      case "range": {
        // session <= 0 counts back from the current one (0 = this session).
        const s = q.session === undefined || q.session <= 0 ? this.session + (q.session ?? 0) : q.session;
        const start = q.start ?? 0;
        const stop = q.stop ?? Infinity;
        return this.records.filter((r) => r.session === s && r.line >= start && r.line < stop).map(fmt);
      }
      case "search": {
        const re = globToRegExp(q.pattern ?? "*");
        let recs = this.records.filter((r) => re.test(r.input));
        if (q.unique) {
          const seen = new Set<string>();
          recs = recs
            .reverse()
            .filter((r) => !seen.has(r.input) && seen.add(r.input))
            .reverse();
        }
        if (n !== undefined) recs = recs.slice(-n);
        return recs.map(fmt);
      }
      default:
        return [];
    }
  }
}
