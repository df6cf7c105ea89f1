/**
 * Loads tslab's converter with three adjustments to the TypeScript compiler it
 * drives, made by wrapping the `@tslab/typescript-for-tslab` module object that
 * tslab requires (its exports are read-only getters, so we put a Proxy in front
 * of it in the require cache before tslab's converter is loaded):
 *
 * - `createWatchCompilerHost`: adds inline source maps (runtime errors then point
 *   at the cell's TypeScript lines), the kernel's global declarations (`display`,
 *   `prompt`…) as a root file, and a `paths` entry so that a notebook inside a
 *   package can import that package by name. Node resolves this "self-reference"
 *   at run time through package.json `exports`; TypeScript's `node10` resolution,
 *   which tslab uses, does not, so we map the name to the package's `types`.
 * - `transpileModule` (tslab's ES module -> CommonJS step): carries the source map
 *   through, composing CommonJS -> ES module -> TypeScript.
 *   It also finds Node's types in mtlkit's installation if the folder has none.
 * - `sys.readFile`/`fileExists`/`directoryExists`/`realpath`: serve the virtual
 *   declarations file, and show mtlkit's installation as the root's node_modules
 *   so that bare imports the notebook's folder lacks resolve there (resolution.ts).
 */
import * as fs from "fs";
import * as path from "path";
import type * as TS from "typescript";
import { requireWithCodeCache } from "./codeCache";
import { MtlkitModulesView, nodeTypesRoot } from "./resolution";
import { installSnapshotCompiler, isBuiltinDeclarations as isBuiltin, snapshotFor, useSnapshotSourceFiles } from "./snapshot";
import { compose, decodeMappings, LineMap, splitInlineMap } from "./sourcemap";

export const GLOBALS_FILE = "/__mtlkit__/kernel-globals.d.ts";

export interface TslabConverter {
  convert(
    prevDecl: string,
    src: string,
  ): {
    output?: string;
    declOutput?: string;
    diagnostics: TslabDiagnostic[];
    lastExpressionVar?: string;
    hasToplevelAwait?: boolean;
    sideOutputs?: { path: string; data: string }[];
  };
  inspect(prevDecl: string, src: string, position: number): TS.QuickInfo | undefined;
  complete(prevDecl: string, src: string, position: number): { start: number; end: number; candidates: string[] };
  close(): void;
}

export interface TslabDiagnostic {
  start: { offset: number; line: number; character: number };
  end: { offset: number; line: number; character: number };
  messageText: string;
  category: number;
  code: number;
  fileName?: string;
}

export interface Tslab {
  ts: typeof TS;
  createConverter(options?: { isJS?: boolean; isBrowser?: boolean }): TslabConverter;
  isCompleteCode(src: string): { completed: boolean; indent?: string };
  /** The composed CommonJS -> TypeScript line map of a converted output, if any. */
  takeSourceMap(output: string): LineMap | null;
}

/** The nearest package.json at or above `dir` with a name and a types entry. */
export function findEnclosingPackage(dir: string): { name: string; root: string; types: string } | null {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const pj = path.join(d, "package.json");
    if (fs.existsSync(pj)) {
      try {
        const json = JSON.parse(fs.readFileSync(pj, "utf8")) as {
          name?: string;
          types?: string;
          typings?: string;
          exports?: unknown;
        };
        const dotExport = (json.exports as Record<string, unknown> | undefined)?.["."];
        const exportTypes = dotExport && typeof dotExport === "object" ? (dotExport as Record<string, unknown>).types : undefined;
        const types = typeof exportTypes === "string" ? exportTypes : (json.types ?? json.typings);
        if (json.name && types) return { name: json.name, root: d, types: path.resolve(d, types) };
      } catch {
        // unreadable package.json: keep looking upward
      }
      return null;
    }
    if (path.dirname(d) === d) return null;
  }
}

/**
 * The ES library's and Node's declarations (lib.*.d.ts, @types/node): every
 * kernel parses all of them before its first cell, and their doc comments are
 * a large share of that parse.
 */
function isBuiltinDeclarations(file: string, tsLibDir: string): boolean {
  return isBuiltin(file, tsLibDir);
}

/**
 * Drops the /** doc comments *\/ that start a line (keeping their line breaks, so
 * that line numbers stay): quick info then shows these built-ins' signatures
 * without their prose. MTLKIT_KERNEL_DOCS=1 keeps them, at a slower start.
 */
export function withoutDocComments(text: string): string {
  return text.replace(/^[ \t]*\/\*\*[\s\S]*?\*\//gm, (m) => "\n".repeat(m.split("\n").length - 1));
}

/**
 * Makes the compiler's file and directory watchers unable to kill the kernel. Their callbacks run
 * from Node's event loop, outside any cell: when a watched file changes (a module the notebook
 * imports, a declaration file rebuilt under node_modules or dist) TypeScript schedules a rebuild
 * through tslab's single-timer `setTimeout`, which throws "Unexpected pending rebuildTimer" when a
 * second rebuild is asked for before tslab fired the first. Uncaught, that ended the kernel with
 * SIGABRT in the middle of a notebook. Dropping the failed notification loses nothing: the pending
 * rebuild runs at the next cell, and the program re-reads changed files then.
 */
export function guardWatchCallbacks(sys: Pick<TS.System, "watchFile" | "watchDirectory">, report: (error: unknown) => void): void {
  const guard =
    <A extends unknown[]>(cb: (...args: A) => void) =>
    (...args: A) => {
      try {
        cb(...args);
      } catch (e) {
        report(e);
      }
    };
  const { watchFile, watchDirectory } = sys;
  if (watchFile) sys.watchFile = (p, cb, ...rest) => watchFile.call(sys, p, guard(cb), ...rest);
  if (watchDirectory) sys.watchDirectory = (p, cb, ...rest) => watchDirectory.call(sys, p, guard(cb), ...rest);
}

let loaded: Tslab | null = null;

export function loadTslab(globalsDts: string): Tslab {
  if (loaded) return loaded;
  const tslabMain = require.resolve("tslab/dist/converter.js");
  const tsPath = require.resolve("@tslab/typescript-for-tslab", { paths: [path.dirname(tslabMain)] });
  // From the start-up snapshot (snapshot.ts) when this process has a valid one, else with the code cache.
  const snap = snapshotFor(tsPath);
  if (snap) installSnapshotCompiler(snap);
  const loadedTs = snap ? { exports: snap.ts, saveLater() {} } : requireWithCodeCache(tsPath);
  const ts = loadedTs.exports as typeof TS;
  const maps = new Map<string, LineMap>();

  const sys = ts.sys as TS.System & Record<string, unknown>;
  const { readFile, fileExists, directoryExists, realpath, watchFile } = sys;
  const libDir = path.dirname(tsPath) + path.sep;
  const keepDocs = process.env.MTLKIT_KERNEL_DOCS === "1";
  // Packages the notebook's folder lacks, seen from mtlkit's installation (resolution.ts).
  const view = new MtlkitModulesView(process.cwd(), (p) => fs.existsSync(p));
  const real = (p: string) => view.toReal(p) ?? p;
  sys.readFile = (p, enc) => {
    if (p === GLOBALS_FILE) return globalsDts;
    const text = readFile.call(sys, real(p), enc);
    return text !== undefined && !keepDocs && isBuiltinDeclarations(p, libDir) ? withoutDocComments(text) : text;
  };
  sys.fileExists = (p) => p === GLOBALS_FILE || fileExists.call(sys, real(p));
  sys.directoryExists = (p) => view.isRoot(p) || directoryExists.call(sys, real(p));
  if (realpath) sys.realpath = (p) => realpath.call(sys, real(p));
  if (watchFile) {
    sys.watchFile = (p, cb, interval, opts) => (p === GLOBALS_FILE ? { close() {} } : watchFile.call(sys, real(p), cb, interval, opts));
  }
  guardWatchCallbacks(sys, (e) =>
    process.stderr.write(
      `mtlkit kernel: a file-change notification failed and was dropped (${e instanceof Error ? e.message : String(e)}); the next cell reads the files again.\n`,
    ),
  );

  const createWatchCompilerHost = ((rootFiles: string[], options: TS.CompilerOptions, ...rest: unknown[]) => {
    const extra: TS.CompilerOptions = { inlineSourceMap: true, sourceMap: false };
    const pkg = findEnclosingPackage(process.cwd());
    if (pkg && fs.existsSync(pkg.types)) {
      extra.paths = { ...(options.paths ?? {}), [pkg.name]: [pkg.types] };
    }
    const typeRoots = options.typeRoots ?? [];
    if (!typeRoots.some((r) => fs.existsSync(path.join(r, "node", "package.json")))) {
      const nodeRoot = nodeTypesRoot();
      if (nodeRoot) extra.typeRoots = [...typeRoots, nodeRoot];
    }
    const create = ts.createWatchCompilerHost as unknown as (...a: unknown[]) => { createProgram: (...a: never[]) => unknown };
    const host = create([...rootFiles, GLOBALS_FILE], { ...options, ...extra }, ...rest);
    // Built-in declarations parsed in the snapshot, when their files and options are unchanged.
    useSnapshotSourceFiles(ts, host, snap);
    return host;
  }) as unknown as typeof ts.createWatchCompilerHost;

  const transpileModule = (input: string, opts: TS.TranspileOptions): TS.TranspileOutput => {
    if (opts.fileName !== "custom.js") return ts.transpileModule(input, opts);
    const { code, map: inner } = splitInlineMap(input);
    if (!inner) return ts.transpileModule(input, opts);
    const out = ts.transpileModule(code, {
      ...opts,
      compilerOptions: { ...opts.compilerOptions, sourceMap: true, inlineSourceMap: false },
    });
    const text = out.outputText.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
    if (out.sourceMapText) {
      const outer = decodeMappings((JSON.parse(out.sourceMapText) as { mappings: string }).mappings);
      maps.set(text, compose(outer, inner));
    }
    return { ...out, outputText: text };
  };

  const proxy = new Proxy(ts, {
    get(target, key, receiver) {
      if (key === "createWatchCompilerHost") return createWatchCompilerHost;
      if (key === "transpileModule") return transpileModule;
      return Reflect.get(target, key, receiver);
    },
  });
  const cached = require.cache[tsPath];
  if (!cached) throw new Error(`mtlkit kernel: ${tsPath} is not in the require cache`);
  if (require.cache[tslabMain]) {
    throw new Error("mtlkit kernel: tslab's converter was loaded before the kernel could hook it");
  }
  const original = cached.exports;
  cached.exports = proxy;
  let converterModule: {
    createConverter: Tslab["createConverter"];
    isCompleteCode: Tslab["isCompleteCode"];
  };
  try {
    converterModule = require(tslabMain);
  } finally {
    cached.exports = original;
  }
  loaded = {
    ts,
    createConverter(options) {
      const conv = converterModule.createConverter(options);
      // By now the compiler's start-up code has run: cache it for the next kernel.
      loadedTs.saveLater(1000);
      return conv;
    },
    isCompleteCode: converterModule.isCompleteCode,
    takeSourceMap(output) {
      const m = maps.get(output) ?? null;
      maps.clear();
      return m;
    },
  };
  return loaded;
}
