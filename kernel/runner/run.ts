/** `mtlkit run`: execute notebooks through a kernel, save them and their HTML, print a summary. */
import * as fs from "fs";
import * as path from "path";
import { writeFileAtomic } from "../fsutil";
import { CellTimeoutError, KernelClient, KernelDiedError } from "./client";
import { notebookToHtml } from "./html";
import { findKernelSpec } from "./kernelspec";
import { Notebook, Output, OutputCollector, readNotebook, serializeNotebook, joinSource } from "./notebook";

export interface RunOptions {
  outDir?: string;
  timeoutSeconds?: number;
  allowErrors?: boolean;
  kernelName?: string;
  /** Where the summary goes (default stdout). */
  print?: (line: string) => void;
}

export type RunStatus = "ok" | "error" | "timeout" | "kernel died" | "failed";

export interface NotebookRun {
  notebook: string;
  cells: number;
  seconds: number;
  status: RunStatus;
  message?: string;
  outputFile?: string;
  htmlFile?: string;
}

function kernelNameOf(nb: Notebook, override?: string): string {
  if (override) return override;
  const ks = nb.metadata.kernelspec as { name?: string } | undefined;
  return ks?.name ?? "mtlkit";
}

/**
 * Execute one notebook and write the .ipynb and .html. If the kernel dies, what
 * ran is still written, with the death reported in the cell that was running.
 */
export async function runNotebook(file: string, opts: RunOptions): Promise<NotebookRun> {
  const started = Date.now();
  const result: NotebookRun = { notebook: file, cells: 0, seconds: 0, status: "ok" };
  const finish = () => {
    result.seconds = (Date.now() - started) / 1000;
    return result;
  };
  let nb: Notebook | null = null;
  let client: KernelClient | null = null;
  let running: Notebook["cells"][number] | null = null;
  const collector = new OutputCollector();
  try {
    nb = readNotebook(file);
    const spec = findKernelSpec(kernelNameOf(nb, opts.kernelName));
    client = new KernelClient(spec, path.dirname(path.resolve(file)));
    await client.start();
    // A silent empty cell first: kernels that prepare lazily (mtlkit builds its
    // compiler) do it now, so that --timeout measures the notebook's own cells.
    await client.execute("", { silent: true });
    for (const cell of nb.cells) {
      if (cell.cell_type !== "code") continue;
      const code = joinSource(cell.source);
      if (!code.trim()) {
        cell.outputs = [];
        cell.execution_count = null;
        continue;
      }
      const allowed = opts.allowErrors || (cell.metadata.tags ?? []).includes("raises-exception");
      running = cell;
      result.cells++;
      const r = await client.execute(code, {
        timeoutMs: opts.timeoutSeconds ? opts.timeoutSeconds * 1000 : undefined,
        stopOnError: !allowed,
      });
      running = null;
      collector.collect(cell, r.messages);
      cell.execution_count = typeof r.reply.execution_count === "number" ? r.reply.execution_count : null;
      if (r.timedOut) {
        result.status = "timeout";
        result.message = `cell ${result.cells} timed out after ${opts.timeoutSeconds} s and was interrupted`;
        break;
      }
      if (r.reply.status === "error" && !allowed) {
        result.status = "error";
        result.message = `cell ${result.cells}: ${String(r.reply.ename)}: ${String(r.reply.evalue)}`;
        break;
      }
    }
    if (nb.metadata.kernelspec === undefined) {
      nb.metadata.kernelspec = { name: spec.name, display_name: spec.display_name, language: spec.language };
    }
    const info = await client.kernelInfo().catch(() => null);
    if (info?.language_info) nb.metadata.language_info = info.language_info;
  } catch (e) {
    if (e instanceof KernelDiedError && nb) {
      const what = e.message.split("\n")[0];
      result.status = "kernel died";
      result.message = running ? `cell ${result.cells}: ${what}` : what;
      if (running) {
        collector.collect(running, e.partialMessages);
        running.outputs = [...(running.outputs ?? []), kernelDiedOutput(what)];
      }
      await client?.shutdown().catch(() => {});
      saveNotebook(file, nb, opts, result);
      return finish();
    } else if (e instanceof CellTimeoutError) {
      result.status = "timeout";
      result.message = `${e.message} (notebook left unchanged)`;
    } else {
      result.status = "failed";
      result.message = (e as Error).message;
    }
    await client?.shutdown().catch(() => {});
    return finish();
  }
  await client.shutdown().catch(() => {});
  saveNotebook(file, nb, opts, result);
  return finish();
}

function saveNotebook(file: string, nb: Notebook, opts: RunOptions, result: NotebookRun): void {
  const outDir = opts.outDir ? path.resolve(opts.outDir) : path.dirname(path.resolve(file));
  fs.mkdirSync(outDir, { recursive: true });
  const base = path.basename(file, ".ipynb");
  result.outputFile = path.join(outDir, `${base}.ipynb`);
  result.htmlFile = path.join(outDir, `${base}.html`);
  writeFileAtomic(result.outputFile, serializeNotebook(nb));
  writeFileAtomic(result.htmlFile, notebookToHtml(nb, base));
}

/** The error output recorded in the cell that was running when the kernel died. */
function kernelDiedOutput(what: string): Output {
  const evalue = `${what} while this cell was running; later cells were not run`;
  return { output_type: "error", ename: "KernelDied", evalue, traceback: [`KernelDied: ${evalue}`] };
}

export function formatSummary(runs: NotebookRun[]): string {
  const rows = [["notebook", "cells", "seconds", "status"]];
  for (const r of runs) rows.push([r.notebook, String(r.cells), r.seconds.toFixed(1), r.status]);
  const widths = rows[0].map((_, j) => Math.max(...rows.map((r) => r[j].length)));
  const lines = rows.map((r) => r.map((c, j) => (j === 1 || j === 2 ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of runs) if (r.message) lines.push(`${r.notebook}: ${r.message}`);
  return lines.join("\n");
}

/** Files as given; a directory stands for the .ipynb files directly in it, sorted by name. */
export function expandNotebookArgs(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (fs.existsSync(a) && fs.statSync(a).isDirectory()) {
      const names = fs.readdirSync(a).filter((n) => n.endsWith(".ipynb") && !n.startsWith(".")).sort();
      if (names.length === 0) throw new Error(`${a}: no notebooks in this directory`);
      out.push(...names.map((n) => path.join(a, n)));
    } else {
      out.push(a);
    }
  }
  return out;
}

/** Run notebooks one after the other; true when all succeeded. */
export async function runNotebooks(args: string[], opts: RunOptions): Promise<boolean> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const runs: NotebookRun[] = [];
  for (const f of expandNotebookArgs(args)) {
    const r = await runNotebook(f, opts);
    print(`${r.notebook}: ${r.status} (${r.cells} cells, ${r.seconds.toFixed(1)} s)`);
    runs.push(r);
  }
  print(formatSummary(runs));
  return runs.every((r) => r.status === "ok");
}
