/** nbformat 4: reading notebooks and turning IOPub messages into cell outputs. */
import * as fs from "fs";
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
  let nb: Notebook;
  try {
    nb = JSON.parse(fs.readFileSync(file, "utf8")) as Notebook;
  } catch (e) {
    throw new Error(`${file}: not a readable notebook (${(e as Error).message})`);
  }
  if (nb.nbformat !== 4 || !Array.isArray(nb.cells)) {
    throw new Error(`${file}: only nbformat 4 notebooks are supported (found ${String(nb.nbformat)})`);
  }
  return nb;
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
