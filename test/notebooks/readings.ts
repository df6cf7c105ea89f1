/**
 * The readings an executed notebook recorded (mtl.report.reading), by id, for the claims files in
 * test/notebooks/claims/<NN>.ts. A claims file exports `default (readings: Readings) => void` and
 * asserts the tutorial's key claims with vitest's expect, so a claim that stops holding fails CI.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

export const READING_MIME = "application/vnd.mtlkit.reading+json";

export interface NotebookOutput {
  output_type: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}

export interface ExecutedNotebook {
  cells: Array<{ cell_type: string; outputs?: NotebookOutput[]; metadata?: { tags?: string[] } }>;
}

export class Readings {
  constructor(private readonly byId: Map<string, Record<string, unknown>>) {}

  /** The values of reading `id`; throws (failing the test) when the notebook did not record it. */
  get<T = Record<string, unknown>>(id: string): T {
    const values = this.byId.get(id);
    if (!values) throw new Error(`the notebook recorded no reading '${id}' (it has: ${[...this.byId.keys()].join(", ") || "none"})`);
    return values as T;
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }
}

export function readingsOf(notebook: ExecutedNotebook): Readings {
  const byId = new Map<string, Record<string, unknown>>();
  for (const cell of notebook.cells) {
    for (const output of cell.outputs ?? []) {
      const r = output.data?.[READING_MIME] as { id: string; values: Record<string, unknown> } | undefined;
      if (!r) continue;
      if (byId.has(r.id)) throw new Error(`the notebook recorded reading '${r.id}' twice`);
      byId.set(r.id, r.values);
    }
  }
  return new Readings(byId);
}

export type Claims = (readings: Readings) => void;

/** The claims file of notebook `name` ("03-task-weighting.ipynb" -> claims/03.ts), if it has one. */
export function claimsFileOf(name: string): string | undefined {
  const file = join(__dirname, "claims", `${name.slice(0, 2)}.ts`);
  return existsSync(file) ? file : undefined;
}
