/** `mtlkit run`: execute notebooks through a kernel, save them and their HTML, print a summary. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { MtlError } from "../../lib/errors";
import { writeFileAtomic } from "../fsutil";
import { DEFAULT_KERNEL_NAME } from "../install";
import { CellTimeoutError, KernelClient, KernelDiedError } from "./client";
import { notebookToHtml } from "./html";
import { ensureSnapshot } from "../snapshot";
import { findKernelSpec, FoundKernelSpec, ownKernelSpec } from "./kernelspec";
import { ensureCellIds, Notebook, Output, OutputCollector, readNotebook, serializeNotebook, joinSource } from "./notebook";

export interface RunOptions {
  /** Write executed notebooks and their HTML into this directory… */
  outDir?: string;
  /** …or over the input notebooks (exactly one of the two). */
  inplace?: boolean;
  timeoutSeconds?: number;
  /** How long a timed-out cell has to stop after the interrupt before its kernel is killed (default 10 s). */
  graceSeconds?: number;
  allowErrors?: boolean;
  kernelName?: string;
  /** Writes one output file (default: atomically); tests inject failures here. */
  writeFile?: (file: string, data: string) => void;
  /** Where the summary goes (default stdout). */
  print?: (line: string) => void;
}

export type RunStatus = "ok" | "error" | "timeout" | "kernel died" | "failed" | "not saved";

export interface NotebookRun {
  notebook: string;
  cells: number;
  seconds: number;
  status: RunStatus;
  message?: string;
  outputFile?: string;
  htmlFile?: string;
}

/**
 * `--kernel NAME` picks an installed kernelspec. Otherwise the notebook's own
 * kernelspec name; for mtlkit's kernel that is this installation's kernel,
 * never another checkout's "mtlkit" kernelspec that happens to be installed.
 */
function kernelFor(nb: Notebook, override?: string): FoundKernelSpec {
  if (override) return findKernelSpec(override);
  const ks = nb.metadata.kernelspec as { name?: unknown } | undefined;
  const name = typeof ks?.name === "string" && ks.name ? ks.name : DEFAULT_KERNEL_NAME;
  return name === DEFAULT_KERNEL_NAME ? ownKernelSpec() : findKernelSpec(name);
}

/** Kernels running now, so that a signal to the runner ends them too. */
const liveClients = new Set<KernelClient>();

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
    const spec = kernelFor(nb, opts.kernelName);
    client = new KernelClient(spec, path.dirname(path.resolve(file)));
    liveClients.add(client);
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
        graceMs: opts.graceSeconds !== undefined ? opts.graceSeconds * 1000 : undefined,
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
    if (e instanceof CellTimeoutError && nb && client) {
      // Stuck in native code (execSync, a blocking addon): interrupts cannot reach it, so the kernel
      // and everything it started are killed; what the cell printed so far is kept.
      const left = await client.killTree();
      liveClients.delete(client);
      result.status = "timeout";
      result.message =
        `cell ${result.cells}: ${e.message}; the kernel was killed` + (left.length ? ` (pids ${left.join(", ")} survived SIGKILL)` : "");
      if (running) {
        collector.collect(running, e.partialMessages);
        running.outputs = [...(running.outputs ?? []), stuckOutput(e.message)];
      }
      saveNotebook(file, nb, opts, result);
      return finish();
    }
    if (e instanceof KernelDiedError && nb) {
      const what = e.message.split("\n")[0];
      result.status = "kernel died";
      result.message = running ? `cell ${result.cells}: ${what}` : what;
      if (running) {
        collector.collect(running, e.partialMessages);
        running.outputs = [...(running.outputs ?? []), kernelDiedOutput(what)];
      }
      await stopClient(client);
      saveNotebook(file, nb, opts, result);
      return finish();
    }
    result.status = "failed";
    result.message = (e as Error).message;
    await stopClient(client);
    return finish();
  }
  await stopClient(client);
  saveNotebook(file, nb, opts, result);
  return finish();
}

async function stopClient(client: KernelClient | null): Promise<void> {
  if (!client) return;
  await client.shutdown().catch(() => client.killTree().catch(() => {}));
  liveClients.delete(client);
}

/** Where `file`'s executed copy goes. */
function outputDirFor(file: string, opts: RunOptions): string {
  return opts.outDir !== undefined ? path.resolve(opts.outDir) : path.dirname(path.resolve(file));
}

/**
 * Write the executed notebook and its HTML. A run's outputs are never lost to a
 * failed write: they go to a fresh temporary folder instead, and the message says where.
 */
function saveNotebook(file: string, nb: Notebook, opts: RunOptions, result: NotebookRun): void {
  ensureCellIds(nb);
  const base = path.basename(file, ".ipynb");
  const write = (dir: string) => {
    fs.mkdirSync(dir, { recursive: true });
    const ipynb = path.join(dir, `${base}.ipynb`);
    const html = path.join(dir, `${base}.html`);
    (opts.writeFile ?? writeFileAtomic)(ipynb, serializeNotebook(nb));
    (opts.writeFile ?? writeFileAtomic)(html, notebookToHtml(nb, base));
    result.outputFile = ipynb;
    result.htmlFile = html;
  };
  const target = outputDirFor(file, opts);
  try {
    write(target);
  } catch (e) {
    const why = describeFsError(e);
    let fallback: string;
    try {
      fallback = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-run-unsaved-"));
      fs.writeFileSync(path.join(fallback, `${base}.ipynb`), serializeNotebook(nb));
      fs.writeFileSync(path.join(fallback, `${base}.html`), notebookToHtml(nb, base));
      result.outputFile = path.join(fallback, `${base}.ipynb`);
      result.htmlFile = path.join(fallback, `${base}.html`);
    } catch (e2) {
      fallback = "";
      result.outputFile = result.htmlFile = undefined;
      result.message = [
        result.message,
        `could not write into ${target} (${why}) nor a temporary folder (${describeFsError(e2)}): outputs lost`,
      ]
        .filter(Boolean)
        .join("; ");
    }
    if (fallback) {
      result.message = [result.message, `could not write into ${target} (${why}); saved to ${fallback} instead`].filter(Boolean).join("; ");
    }
    if (result.status === "ok") result.status = "not saved";
  }
}

function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message.replace(/^[A-Z]+: /, "")}` : String(err.message ?? e);
}

/** Can files be created in `dir` (created if missing)? Throws an MtlError naming `what` and the path otherwise. */
export function checkWritableDir(dir: string, what: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
    const probe = path.join(dir, `.mtlkit-write-check-${process.pid}-${Date.now()}`);
    fs.writeFileSync(probe, "", { flag: "wx" });
    fs.rmSync(probe, { force: true });
  } catch (e) {
    throw new MtlError(what, `cannot write into ${dir} (${describeFsError(e)}); nothing was run`);
  }
}

/** The error recorded in a cell that did not stop when interrupted. */
function stuckOutput(what: string): Output {
  const evalue = `${what}; the kernel was killed and later cells were not run`;
  return { output_type: "error", ename: "CellTimeout", evalue, traceback: [`CellTimeout: ${evalue}`] };
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
      const names = fs
        .readdirSync(a)
        .filter((n) => n.endsWith(".ipynb") && !n.startsWith("."))
        .sort();
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
  if ((opts.outDir !== undefined) === Boolean(opts.inplace)) {
    throw new MtlError(
      "mtlkit run",
      opts.inplace
        ? "choose one of --out DIR and --inplace"
        : "pass --out DIR (write the executed copies there) or --inplace (overwrite the notebooks)",
    );
  }
  const files = expandNotebookArgs(args);
  // Before any kernel starts: a destination that cannot be written is found now, not after an hour of cells.
  if (opts.outDir !== undefined) checkWritableDir(path.resolve(opts.outDir), `--out ${opts.outDir}`);
  else for (const dir of new Set(files.map((f) => path.dirname(path.resolve(f))))) checkWritableDir(dir, `--inplace (${dir})`);
  const onSignal = (sig: NodeJS.Signals) => {
    void Promise.all([...liveClients].map((c) => c.killTree().catch(() => []))).finally(() =>
      process.exit(128 + (os.constants.signals[sig] ?? 1)),
    );
  };
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, onSignal);
  // mtlkit's kernel starts from its start-up snapshot (kernel/snapshot.ts): build it first if it is
  // missing, so that every notebook's kernel starts the same way, not depending on a background build.
  if (opts.kernelName === undefined || opts.kernelName === DEFAULT_KERNEL_NAME) {
    for (const dir of new Set(files.map((f) => path.dirname(path.resolve(f))))) ensureSnapshot(undefined, dir);
  }
  const runs: NotebookRun[] = [];
  try {
    for (const f of files) {
      const r = await runNotebook(f, opts);
      print(`${r.notebook}: ${r.status} (${r.cells} cells, ${r.seconds.toFixed(1)} s)`);
      runs.push(r);
    }
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
  print(formatSummary(runs));
  return runs.every((r) => r.status === "ok");
}
