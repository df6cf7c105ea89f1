/** nbformat 4: reading notebooks and turning IOPub messages into cell outputs. */
import { createHash } from "crypto";
import * as fs from "fs";
import { MtlError } from "../../lib/errors";
import { Message } from "../protocol/wire";

export type MultilineString = string | string[];

export interface Output {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  [key: string]: unknown;
}

export interface Cell {
  cell_type: "code" | "markdown" | "raw";
  id?: string;
  source: MultilineString;
  metadata: Record<string, unknown> & { tags?: string[] };
  outputs?: Output[];
  execution_count?: number | null;
  attachments?: unknown;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: Cell[];
}

export function joinSource(s: MultilineString): string {
  return Array.isArray(s) ? s.join("") : s;
}

/** nbformat stores text as a list of lines, each keeping its "\n". */
export function splitLines(s: string): string[] {
  return s.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

export function readNotebook(file: string): Notebook {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new MtlError(`notebook ${file}`, `not a readable notebook (${(e as Error).message})`);
  }
  return validateNotebook(file, raw);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown) => typeof v === "string" || (Array.isArray(v) && v.every((l) => typeof l === "string"));

/**
 * The nbformat 4 structure the runner relies on, checked before any kernel starts:
 * a malformed notebook gets one error naming the file and the cell, not a
 * "Cannot read properties of null" from deep inside the run.
 */
export function validateNotebook(file: string, raw: unknown): Notebook {
  const fail = (what: string): never => {
    throw new MtlError(`notebook ${file}`, what);
  };
  if (!isObject(raw)) fail(`the file holds ${raw === null ? "null" : typeof raw}, not a notebook object`);
  const nb = raw as Record<string, unknown>;
  if (nb.nbformat !== 4) fail(`only nbformat 4 notebooks are supported (found nbformat ${JSON.stringify(nb.nbformat)})`);
  if (!Number.isInteger(nb.nbformat_minor) || (nb.nbformat_minor as number) < 0) {
    fail(`nbformat_minor must be a whole number (found ${JSON.stringify(nb.nbformat_minor)})`);
  }
  if (!isObject(nb.metadata)) fail(`metadata must be an object (found ${JSON.stringify(nb.metadata) ?? "nothing"})`);
  if (!Array.isArray(nb.cells)) fail(`cells must be a list (found ${JSON.stringify(nb.cells) ?? "nothing"})`);
  (nb.cells as unknown[]).forEach((cell, i) => {
    const at = `cell ${i}`;
    if (!isObject(cell)) return fail(`${at} is ${cell === null ? "null" : typeof cell}, not a cell object`);
    if (cell.cell_type !== "code" && cell.cell_type !== "markdown" && cell.cell_type !== "raw") {
      fail(`${at} has cell_type ${JSON.stringify(cell.cell_type) ?? "missing"} (expected "code", "markdown" or "raw")`);
    }
    if (!isText(cell.source))
      fail(`${at} has no source (a string or a list of strings), found ${JSON.stringify(cell.source) ?? "nothing"}`);
    if (!isObject(cell.metadata)) fail(`${at} has no metadata object`);
    const tags = (cell.metadata as Record<string, unknown>).tags;
    if (tags !== undefined && !(Array.isArray(tags) && tags.every((t) => typeof t === "string"))) {
      fail(`${at} has metadata.tags that is not a list of strings`);
    }
    if (cell.id !== undefined && (typeof cell.id !== "string" || !CELL_ID.test(cell.id))) {
      fail(`${at} has an invalid id ${JSON.stringify(cell.id)} (1 to 64 of a-z A-Z 0-9 - _)`);
    }
    if (cell.cell_type === "code") {
      if (!Array.isArray(cell.outputs)) fail(`${at} is a code cell without an outputs list`);
      const count = cell.execution_count;
      if (count !== null && !Number.isInteger(count))
        fail(`${at} has execution_count ${JSON.stringify(count) ?? "missing"} (a whole number or null)`);
    }
  });
  return nb as unknown as Notebook;
}

/** nbformat 4.5 cell ids. */
export const CELL_ID = /^[a-zA-Z0-9-_]{1,64}$/;

/**
 * Give every cell lacking one an id (nbformat 4.5; without ids nbformat warns
 * MissingIDFieldWarning) and raise nbformat_minor to 5. The ids derive from the
 * cell's position and source, so the same notebook gets the same ids every time.
 * Returns how many ids were added.
 */
export function ensureCellIds(nb: Notebook): number {
  const taken = new Set(nb.cells.map((c) => c.id).filter((id): id is string => typeof id === "string"));
  let added = 0;
  nb.cells.forEach((cell, i) => {
    if (typeof cell.id === "string") return;
    const digest = createHash("sha256")
      .update(`${i}\0${joinSource(cell.source)}`)
      .digest("hex");
    let id = digest.slice(0, 8);
    for (let n = 8; taken.has(id); n++) id = n < digest.length ? digest.slice(0, n + 1) : `${digest.slice(0, 8)}-${n}`;
    taken.add(id);
    // nbformat puts "id" right after "cell_type"; keep that order so diffs stay readable.
    const { cell_type, ...rest } = cell;
    for (const k of Object.keys(cell)) delete (cell as unknown as Record<string, unknown>)[k];
    Object.assign(cell, { cell_type, id, ...rest });
    added++;
  });
  if (nb.nbformat_minor < 5) nb.nbformat_minor = 5;
  return added;
}

export function serializeNotebook(nb: Notebook): string {
  return JSON.stringify(nb, null, 1) + "\n";
}

function bundleForNotebook(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [mime, v] of Object.entries(data)) {
    const isJson = mime === "application/json" || mime.endsWith("+json");
    out[mime] = !isJson && typeof v === "string" ? splitLines(v) : v;
  }
  return out;
}

/**
 * Collects one execution's outputs. update_display_data may target outputs of
 * any earlier cell, so display ids are tracked across the notebook.
 */
export class OutputCollector {
  private readonly byDisplayId = new Map<string, Output[]>();

  collect(cell: Cell, messages: Message[]): Output[] {
    let outputs: Output[] = [];
    let clearPending = false;
    const push = (o: Output) => {
      if (clearPending) {
        outputs = [];
        clearPending = false;
      }
      const last = outputs[outputs.length - 1];
      if (o.output_type === "stream" && last?.output_type === "stream" && last.name === o.name) {
        last.text = splitLines(joinSource(last.text as MultilineString) + joinSource(o.text as MultilineString));
        return;
      }
      outputs.push(o);
    };
    for (const m of messages) {
      const c = m.content as Record<string, unknown>;
      const transient = (c.transient ?? {}) as { display_id?: string };
      switch (m.header.msg_type) {
        case "stream":
          push({ output_type: "stream", name: c.name, text: splitLines(String(c.text ?? "")) });
          break;
        case "display_data": {
          const o: Output = {
            output_type: "display_data",
            data: bundleForNotebook((c.data ?? {}) as Record<string, unknown>),
            metadata: c.metadata ?? {},
          };
          push(o);
          if (transient.display_id) {
            const list = this.byDisplayId.get(transient.display_id) ?? [];
            list.push(o);
            this.byDisplayId.set(transient.display_id, list);
          }
          break;
        }
        case "update_display_data":
          for (const o of this.byDisplayId.get(transient.display_id ?? "") ?? []) {
            o.data = bundleForNotebook((c.data ?? {}) as Record<string, unknown>);
            o.metadata = c.metadata ?? {};
          }
          break;
        case "execute_result":
          push({
            output_type: "execute_result",
            execution_count: c.execution_count ?? null,
            data: bundleForNotebook((c.data ?? {}) as Record<string, unknown>),
            metadata: c.metadata ?? {},
          });
          break;
        case "error":
          push({ output_type: "error", ename: c.ename, evalue: c.evalue, traceback: c.traceback ?? [] });
          break;
        case "clear_output":
          if (c.wait) clearPending = true;
          else outputs = [];
          break;
      }
    }
    cell.outputs = outputs;
    return outputs;
  }
}
