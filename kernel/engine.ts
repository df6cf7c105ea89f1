/**
 * The TypeScript engine: tslab's converter (type-check + transpile, completion,
 * quick info) and our own execution of its output, which returns structured
 * results instead of printing them: the cell's last value, or an error whose
 * traceback points at the cell's TypeScript lines.
 */
import { rewritePropertyNames } from "./cellRewrite";
import Module from "module";
import * as path from "path";
import * as v8 from "v8";
import * as vm from "vm";
import { GLOBALS_DTS } from "./globals";
import { resolveWithFallback } from "./resolution";
import { lookup, LineMap } from "./sourcemap";
import type * as TS from "typescript";
import { loadTslab, Tslab, TslabConverter, TslabDiagnostic } from "./tslab-hooks";

export interface ErrorInfo {
  ename: string;
  evalue: string;
  traceback: string[];
}

export type Outcome = { status: "ok"; hasValue: boolean; value?: unknown } | ({ status: "error" } & ErrorInfo);

export interface Completion {
  matches: string[];
  /** UTF-16 offsets into the code. */
  start: number;
  end: number;
}

export class InterruptedError extends Error {
  constructor(message = "execution interrupted") {
    super(message);
    this.name = "Interrupted";
  }
}

const CELL_FILE = /mtlkit-cell-(\d+)\.js:(\d+):(\d+)/g;
const CELL_ARGS = 'globalThis[Symbol.for("mtlkit.cell")]';
const WRAP_SYNC = "(function (exports, require) { ";
const WRAP_ASYNC = "(async function (exports, require) { ";
/** Around every cell's script: marks the synchronous run for the SIGINT handshake (see setRunState). */
const RUN_ENTER = `${CELL_ARGS}.enter(); try { `;
const RUN_LEAVE = ` } finally { ${CELL_ARGS}.leave() }`;

/** Values of the run-state word (see setRunState). */
export const RUN_IDLE = 0;
export const RUN_SYNC = 1;
export const RUN_SIGINT_COMING = 2;

interface CellRecord {
  label: string;
  /** The cell's TypeScript, for the source line shown under a traceback. */
  source: string;
  map: LineMap | null;
  wrapOffset: number;
}

export interface ExecuteOptions {
  /**
   * Keep the cell's source and line map after it ends, so that errors thrown later by its
   * callbacks point at its lines (default true). The kernel passes false for cells run with
   * store_history false, whose source is then not retained.
   */
  keepSource?: boolean;
}

/** The TypeScript compiler (tslab's converter) failed, as opposed to the cell's code. */
export class CompilerError extends Error {
  constructor(cause: unknown) {
    super(`the TypeScript compiler failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "CompilerError";
  }
}

export class Engine {
  private tslabLoaded: Tslab | null = null;
  private conv: TslabConverter | null = null;
  private prevDecl = "";
  /** Where a failing library cell hook is reported (the cell's stderr while it runs). */
  private readonly hookLog = (line: string): void => console.error(`[mtlkit kernel] ${line}`);
  private readonly locals: Record<string, unknown> = {};
  private readonly exportsProxy: Record<string, unknown>;
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, Module>();
  private readonly cells = new Map<string, CellRecord>();
  private cellSeq = 0;
  private rejectInterrupt: ((e: Error) => void) | null = null;
  /** An interrupt that came while the cell was not yet running (e.g. during compilation). */
  private interruptRequested = false;
  private readonly requireFn: NodeJS.Require;
  private runState: { word: Int32Array; index: number } | null = null;

  constructor(rootDir: string = process.cwd()) {
    const locals = this.locals;
    this.exportsProxy = new Proxy(locals, {
      // TypeScript's CommonJS output defines named imports with defineProperty
      // (getters); store plain values so that later cells may reassign them.
      defineProperty(_t, prop, attrs) {
        if (prop === "__esModule") return true;
        locals[prop as string] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
    this.requireFn = this.wrapRequire(Module.createRequire(path.join(rootDir, "__notebook__.js")), rootDir);
  }

  /** tslab and the TypeScript compiler are loaded on first use (about 250 ms). */
  private get tslab(): Tslab {
    this.tslabLoaded ??= loadTslab(GLOBALS_DTS);
    return this.tslabLoaded;
  }

  /** The version of the TypeScript compiler tslab runs (read without loading it). */
  get typescriptVersion(): string {
    if (this.tslabLoaded) return this.tslabLoaded.ts.version;
    const tslabDir = path.dirname(require.resolve("tslab/package.json"));
    const pj = require.resolve("@tslab/typescript-for-tslab/package.json", { paths: [tslabDir] });
    return (require(pj) as { version: string }).version;
  }

  /**
   * Share a word (Int32Array element) that says whether a cell's script is running synchronously:
   * RUN_SYNC while it does. A thread that wants to break it with SIGINT first swaps RUN_SYNC for
   * RUN_SIGINT_COMING; a script that ends meanwhile then waits for the signal instead of returning.
   * Node's vm takes SIGINT only while a script runs (breakOnSigint); one that lands as the script
   * starts or ends, while the kernel's handler is detached, kills the process.
   */
  setRunState(word: Int32Array, index: number): void {
    this.runState = { word, index };
  }

  private enterRun(): void {
    if (this.runState) Atomics.store(this.runState.word, this.runState.index, RUN_SYNC);
  }

  private leaveRun(): void {
    if (!this.runState) return;
    const { word, index } = this.runState;
    if (Atomics.compareExchange(word, index, RUN_SYNC, RUN_IDLE) !== RUN_SIGINT_COMING) return;
    // A SIGINT is on its way: let it arrive while vm still catches it (it ends this script).
    const end = Date.now() + 2000;
    while (Atomics.load(word, index) === RUN_SIGINT_COMING && Date.now() < end) {
      // spin: the signal terminates the script
    }
    Atomics.store(word, index, RUN_IDLE);
  }

  /** Create the compiler now (it takes a few hundred ms); otherwise the first cell does. */
  warm(): void {
    this.converter();
  }

  private converter(): TslabConverter {
    if (!this.conv) this.conv = withInjectedFaults(this.tslab.createConverter({ isJS: false, isBrowser: false }));
    return this.conv;
  }

  /**
   * Run `f` on the converter. tslab's converter can be left broken by a failure (e.g. "Unexpected
   * pending rebuildTimer" once files it watches change between cells); after any failure it is
   * closed and rebuilt (declarations of earlier cells live in prevDecl, so nothing is lost) and
   * `f` is tried once more. A second failure is thrown as CompilerError, with the converter reset
   * again so that the next request starts on a fresh one.
   */
  private withConverter<T>(f: (conv: TslabConverter) => T): T {
    try {
      return f(this.converter());
    } catch {
      this.resetConverter();
      try {
        return f(this.converter());
      } catch (second) {
        this.resetConverter();
        throw new CompilerError(second);
      }
    }
  }

  private resetConverter(): void {
    const conv = this.conv;
    this.conv = null;
    try {
      conv?.close();
    } catch {
      // a broken converter may fail to close: it is dropped either way
    }
    this.tslabLoaded?.takeSourceMap("");
  }

  /**
   * Type-check, transpile and run one cell. `label` names the cell in tracebacks, e.g. "Cell [3]".
   * Never throws: compiler failures are outcomes too (ename "CompilerError").
   */
  async execute(code: string, label: string, opts: ExecuteOptions = {}): Promise<Outcome> {
    injectFault("execute", code);
    let converted: ReturnType<TslabConverter["convert"]>;
    try {
      const src = rewritePropertyNames(code);
      converted = this.withConverter((conv) => conv.convert(this.prevDecl, src));
    } catch (e) {
      const err = e instanceof CompilerError ? e : new CompilerError(e);
      return { status: "error", ename: err.name, evalue: err.message, traceback: [`${err.name}: ${err.message}`, ...compilerHint] };
    }
    for (const out of converted.sideOutputs ?? []) {
      this.sideModules.delete(out.path);
      this.sideOutputs.set(out.path, out.data);
    }
    if (converted.diagnostics.length > 0) {
      return { status: "error", ...formatDiagnostics(converted.diagnostics, code, label) };
    }
    if (!converted.output) {
      this.tslab.takeSourceMap("");
      this.prevDecl = converted.declOutput ?? "";
      return { status: "ok", hasValue: false };
    }
    const file = `mtlkit-cell-${++this.cellSeq}.js`;
    // tslab misses some top-level awaits (`await (f)()`, `for await`): look for them ourselves.
    const isAsync = converted.hasToplevelAwait || hasTopLevelAwait(this.tslab.ts, converted.output);
    const prefix = isAsync ? WRAP_ASYNC : WRAP_SYNC;
    this.cells.set(file, {
      label,
      source: code,
      map: this.tslab.takeSourceMap(converted.output),
      wrapOffset: RUN_ENTER.length + prefix.length,
    });
    try {
      return await this.run(converted as typeof converted & { output: string }, file, prefix, isAsync);
    } finally {
      if (opts.keepSource === false) this.cells.delete(file);
    }
  }

  private async run(
    converted: ReturnType<TslabConverter["convert"]> & { output: string },
    file: string,
    prefix: string,
    isAsync: boolean,
  ): Promise<Outcome> {
    // The call happens inside the script so that breakOnSigint covers the cell's synchronous run.
    const wrapped = `${RUN_ENTER}${prefix}${converted.output}\n})(${CELL_ARGS}.exports, ${CELL_ARGS}.require)${RUN_LEAVE}`;
    // A SIGINT that arrived while we compiled has only been queued: let its handler run first.
    await new Promise((r) => setImmediate(r));
    if (this.interruptRequested) {
      this.interruptRequested = false;
      return { status: "error", ...this.describeError(new InterruptedError()) };
    }
    try {
      (globalThis as Record<symbol, unknown>)[Symbol.for("mtlkit.cell")] = {
        exports: this.exportsProxy,
        require: this.requireFn,
        enter: () => this.enterRun(),
        leave: () => this.leaveRun(),
      };
      runCellHooks("before", this.hookLog);
      const ret: unknown = compileUncached(wrapped, file).runInThisContext({ breakOnSigint: true });
      if (isAsync) {
        const interrupted = new Promise<never>((_, reject) => {
          this.rejectInterrupt = reject;
        });
        try {
          await Promise.race([ret, interrupted]);
        } finally {
          this.rejectInterrupt = null;
        }
      }
    } catch (e) {
      // A script ended by SIGINT runs no finally: it left the run state behind, and libraries may
      // have left scopes open (tfjs's tidy): their hooks repair what they own.
      if (this.runState) Atomics.store(this.runState.word, this.runState.index, RUN_IDLE);
      if (isTermination(e)) runCellHooks("terminated", this.hookLog);
      // What the cell declared before it threw stays usable (as in IPython): keep its declarations.
      this.prevDecl = converted.declOutput ?? this.prevDecl;
      return { status: "error", ...this.describeError(e) };
    }
    this.prevDecl = converted.declOutput ?? "";
    const name = converted.lastExpressionVar;
    if (name && name in this.locals) {
      const value = this.locals[name];
      delete this.locals[name];
      if (value !== undefined) return { status: "ok", hasValue: true, value };
    }
    return { status: "ok", hasValue: false };
  }

  /**
   * Interrupt the cell: one that awaits is rejected now; one that has not started
   * running yet stops before it does. (SIGINT breaks synchronous code by itself.)
   */
  interrupt(): void {
    if (this.rejectInterrupt) this.rejectInterrupt(new InterruptedError());
    else this.interruptRequested = true;
  }

  /** Forget an interrupt that found no cell to stop. */
  clearInterrupt(): void {
    this.interruptRequested = false;
  }

  complete(code: string, cursor: number): Completion {
    const info = this.withConverter((conv) => conv.complete(this.prevDecl, code, cursor));
    return { matches: info.candidates, start: info.start, end: info.end };
  }

  /** Quick info (signature + docs) at the cursor, or null. */
  inspect(code: string, cursor: number): { text: string; markdown: string } | null {
    const ts = this.tslab.ts;
    for (const pos of [cursor, cursor - 1]) {
      if (pos < 0) continue;
      const info = this.withConverter((conv) => conv.inspect(this.prevDecl, code, pos));
      if (!info) continue;
      const signature = ts.displayPartsToString(info.displayParts);
      const docs = ts.displayPartsToString(info.documentation);
      const tags = (info.tags ?? []).map((t) => `@${t.name} ${ts.displayPartsToString(t.text)}`.trim());
      const text = [signature, docs, ...tags].filter((s) => s).join("\n\n");
      const markdown = ["```typescript\n" + signature + "\n```", docs, ...tags].filter((s) => s).join("\n\n");
      return { text, markdown };
    }
    return null;
  }

  /** "complete", "incomplete" (with the indent for the next line) or "invalid". */
  isComplete(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string } {
    const r = this.tslab.isCompleteCode(code);
    if (!r.completed) return { status: "incomplete", indent: r.indent ?? "" };
    const ts = this.tslab.ts;
    const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const diags = (sf as unknown as { parseDiagnostics?: unknown[] }).parseDiagnostics ?? [];
    return diags.length > 0 ? { status: "invalid" } : { status: "complete" };
  }

  /** Forget all variables and declarations (used by restart-in-place). */
  reset(): void {
    this.prevDecl = "";
    for (const k of Object.keys(this.locals)) delete this.locals[k];
  }

  close(): void {
    this.conv?.close();
    this.conv = null;
  }

  /** ename/evalue/traceback for a thrown value, with cell frames mapped to TypeScript lines. */
  describeError(e: unknown): ErrorInfo {
    if (isInterrupt(e)) {
      return { ename: "Interrupted", evalue: "execution interrupted", traceback: ["Interrupted: execution interrupted"] };
    }
    if (!(e instanceof Error)) {
      const text = safeInspect(e);
      return { ename: "Uncaught", evalue: text, traceback: [`Uncaught ${text}`] };
    }
    const ename = e.name || e.constructor?.name || "Error";
    const evalue = e.message ?? "";
    const head = `${ename}: ${evalue}`;
    const frames: string[] = [];
    let context: string[] = [];
    const kernelDir = __dirname;
    const tslabDir = path.dirname(require.resolve("tslab/package.json"));
    for (const line of (e.stack ?? "").split("\n")) {
      if (!/^\s+at /.test(line)) continue;
      if (line.includes("node:internal") || line.includes(kernelDir) || line.includes(tslabDir)) continue;
      if (line.includes("node:vm")) continue;
      let firstCell: { rec: CellRecord; line: number; col: number } | null = null;
      const mapped = line.replace(CELL_FILE, (_m, _n: string, l: string, c: string) => {
        const file = `mtlkit-cell-${_n}.js`;
        const rec = this.cells.get(file);
        // A cell run with keepSource false (store_history false) is forgotten once it ends.
        if (!rec) return "a cell whose source was not kept";
        const pos = this.mapPosition(rec, Number(l), Number(c));
        if (!pos) return `${rec.label}`;
        firstCell ??= { rec, line: pos.line, col: pos.col };
        return `${rec.label}:${pos.line}:${pos.col}`;
      });
      frames.push(mapped);
      if (firstCell && context.length === 0) {
        const { rec, line: ln, col } = firstCell as { rec: CellRecord; line: number; col: number };
        const src = sourceLine(rec.source, ln);
        if (src !== undefined) context = ["", `${rec.label}, line ${ln}:`, `  ${src}`, `  ${" ".repeat(Math.max(0, col - 1))}^`];
      }
    }
    return { ename, evalue, traceback: [head, ...frames, ...context] };
  }

  /** 1-based (line, col) in wrapped JavaScript -> 1-based position in the cell's TypeScript. */
  private mapPosition(rec: CellRecord, line: number, col: number): { line: number; col: number } | null {
    if (!rec.map) return null;
    const jsCol = line === 1 ? col - 1 - rec.wrapOffset : col - 1;
    const p = lookup(rec.map, line - 1, Math.max(0, jsCol));
    if (!p) return null;
    // tslab prefixes each cell with one line ("export {};") before compiling it.
    return { line: p.line, col: p.col + 1 };
  }

  /** `require` that also serves local .ts files tslab compiled alongside the cell. */
  private wrapRequire(req: NodeJS.Require, dir: string): NodeJS.Require {
    const self = this;
    const load = (id: string): unknown => {
      if (id.startsWith(".") || path.isAbsolute(id)) {
        let file = path.resolve(dir, id);
        if (path.extname(file) === "") file += ".js";
        const cached = self.sideModules.get(file);
        if (cached) return cached.exports;
        const code = self.sideOutputs.get(file);
        if (code !== undefined) {
          const mod = new Module(file, module) as Module & { _compile(code: string, file: string): void };
          mod.filename = file;
          mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
          const inner = self.wrapRequire(Module.createRequire(file), path.dirname(file));
          mod.require = inner as typeof mod.require;
          self.sideModules.set(file, mod);
          mod._compile(code, file);
          return mod.exports;
        }
      }
      // A package the notebook's folder lacks comes from mtlkit's installation (resolution.ts).
      const file = resolveWithFallback(req.resolve, id);
      return file === id ? req(id) : req(file);
    };
    const resolve = Object.assign(
      (id: string, opts?: { paths?: string[] }) => (opts ? req.resolve(id, opts) : resolveWithFallback(req.resolve, id)),
      { paths: req.resolve.paths },
    );
    return Object.assign(load, {
      resolve,
      cache: req.cache,
      extensions: req.extensions,
      main: req.main,
    }) as NodeJS.Require;
  }
}

/**
 * Hooks that libraries register under `Symbol.for("mtlkit.cellHooks")` (a Set of objects with
 * `before()` and `terminated()`): called as a cell starts and when SIGINT terminated its synchronous
 * run, which skips every finally block (mtlkit's own repairs tfjs's engine: lib/util/engineRecovery.ts).
 */
function runCellHooks(phase: "before" | "terminated", log: (line: string) => void): void {
  const hooks = (globalThis as Record<symbol, unknown>)[Symbol.for("mtlkit.cellHooks")];
  if (!(hooks instanceof Set)) return;
  for (const hook of hooks as Set<Partial<Record<typeof phase, () => void>>>) {
    try {
      hook[phase]?.();
    } catch (e) {
      log(`a cell hook (${phase}) failed: ${(e as Error).stack ?? e}`);
    }
  }
}

/** The error V8 raises when SIGINT ends a script run with breakOnSigint. */
function isTermination(e: unknown): boolean {
  return e instanceof Error && (e as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED";
}

function isInterrupt(e: unknown): boolean {
  return e instanceof InterruptedError || (e instanceof Error && (e as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED");
}

function safeInspect(v: unknown): string {
  try {
    return require("util").inspect(v) as string;
  } catch {
    return String(v);
  }
}

/**
 * Compile a cell's script outside V8's compilation cache, which keeps every script's source (all of
 * a 50 MB cell) for as long as it likes; a cell's script is never compiled twice anyway. The flag
 * is switched off only for this compilation: turning it off for good slows the compiler's warm-up.
 */
function compileUncached(code: string, filename: string): vm.Script {
  v8.setFlagsFromString("--no-compilation-cache");
  try {
    return new vm.Script(code, { filename });
  } finally {
    v8.setFlagsFromString("--compilation-cache");
  }
}

const compilerHint = [
  "The kernel rebuilt its compiler; variables and declarations of earlier cells are kept. Run the cell again;",
  "if this repeats, the kernel's log (stderr) may say more.",
];

/**
 * Test-only fault injection: with MTLKIT_TEST_FAULTS="convert,complete" (any of execute, convert,
 * complete, inspect), that step throws whenever its source contains `mtlkit-fault:<step>`.
 */
function injectFault(step: string, src: string): void {
  const faults = process.env.MTLKIT_TEST_FAULTS;
  if (faults?.split(",").includes(step) && src.includes(`mtlkit-fault:${step}`)) {
    throw new Error(`injected ${step} fault`);
  }
}

function withInjectedFaults(conv: TslabConverter): TslabConverter {
  return {
    convert: (prev, src) => {
      injectFault("convert", src);
      return conv.convert(prev, src);
    },
    complete: (prev, src, pos) => {
      injectFault("complete", src);
      return conv.complete(prev, src, pos);
    },
    inspect: (prev, src, pos) => {
      injectFault("inspect", src);
      return conv.inspect(prev, src, pos);
    },
    close: () => conv.close(),
  };
}

/**
 * Whether a cell's JavaScript awaits at its top level. tslab decides from TypeScript's "await is
 * only allowed in async functions" diagnostic, which some forms never raise: outside an async
 * context `await (f)()` parses as a call of a function named `await`, and `for await` reports
 * another code. Parsed inside an async function, every form is an await expression.
 */
export function hasTopLevelAwait(ts: typeof TS, js: string): boolean {
  const sf = ts.createSourceFile("cell.js", `(async function () {\n${js}\n})`, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const wrapper = (sf.statements[0] as TS.ExpressionStatement).expression;
  const body = ts.isParenthesizedExpression(wrapper) ? wrapper.expression : wrapper;
  let found = false;
  const visit = (node: TS.Node): void => {
    if (found) return;
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) {
      found = true;
      return;
    }
    if (node !== body && ts.isFunctionLike(node)) return; // its own scope: not top level
    ts.forEachChild(node, visit);
  };
  visit(body);
  return found;
}

/** Line `n` (1-based) of `source`, without splitting all of it. */
function sourceLine(source: string, n: number): string | undefined {
  let start = 0;
  for (let i = 1; i < n; i++) {
    const nl = source.indexOf("\n", start);
    if (nl < 0) return undefined;
    start = nl + 1;
  }
  const end = source.indexOf("\n", start);
  return source.slice(start, end < 0 ? undefined : end);
}

const CATEGORY = ["warning", "error", "suggestion", "message"];

/**
 * tslab flattens one TypeScript diagnostic's message chain ("Argument of type … is not
 * assignable…", then "Type … is not assignable…", …) into separate diagnostics at the same place.
 * Consecutive diagnostics with the same span are one error: its head and the chain under it.
 */
function groupDiagnostics(diags: TslabDiagnostic[]): { head: TslabDiagnostic; chain: string[] }[] {
  const groups: { head: TslabDiagnostic; chain: string[] }[] = [];
  const same = (a: TslabDiagnostic, b: TslabDiagnostic) =>
    a.start.offset === b.start.offset && a.end.offset === b.end.offset && (b.fileName === undefined || b.fileName === a.fileName);
  for (const d of diags) {
    const last = groups[groups.length - 1];
    if (last && same(last.head, d)) last.chain.push(d.messageText);
    else groups.push({ head: d, chain: [] });
  }
  return groups;
}

export function formatDiagnostics(diags: TslabDiagnostic[], code: string, label: string): ErrorInfo {
  const traceback: string[] = [];
  const groups = groupDiagnostics(diags);
  for (const { head: d, chain } of groups) {
    const where = d.fileName ? d.fileName : label;
    const kind = CATEGORY[d.category] ?? "error";
    traceback.push(`${where}:${d.start.line + 1}:${d.start.character + 1} - ${kind} TS${d.code}: ${d.messageText}`);
    for (const text of chain) traceback.push(`  ${text}`);
    if (!d.fileName) {
      const src = sourceLine(code, d.start.line + 1);
      if (src !== undefined) {
        const width = d.end.line === d.start.line ? Math.max(1, d.end.character - d.start.character) : 1;
        traceback.push(`  ${src}`, `  ${" ".repeat(d.start.character)}${"~".repeat(width)}`);
      }
    }
  }
  const first = groups[0].head;
  return { ename: "TSError", evalue: `TS${first.code}: ${first.messageText}`, traceback };
}
