/**
 * The entry of the kernel's V8 start-up snapshot (snapshot.ts builds it):
 *
 *   MTLKIT_SNAPSHOT_SPEC=spec.json node --snapshot-blob OUT --build-snapshot snapshotEntry.js
 *
 * It loads the TypeScript compiler and parses and binds the built-in declarations the spec lists
 * (lib.*.d.ts, @types/node: the text, options and file identity a real kernel recorded), so that a
 * kernel started from the blob finds them in its heap instead of parsing them again. At run time the
 * blob's main function runs the script named on the command line (the kernel's cli.js), as node would.
 *
 * Node runs this file alone: it may require Node's own modules only (no import/export either).
 */

interface SnapshotSpecFile {
  fileName: string;
  text: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  languageVersion: number;
  impliedNodeFormat?: number;
}

interface SnapshotSpecJson {
  format: number;
  tsPath: string;
  tsStat: string;
  key: string;
  options: Record<string, unknown>;
  files: SnapshotSpecFile[];
}

(() => {
  const fs = require("fs") as typeof import("fs");
  const path = require("path") as typeof import("path");
  const v8 = require("v8") as typeof import("v8");
  const spec = JSON.parse(fs.readFileSync(process.env.MTLKIT_SNAPSHOT_SPEC as string, "utf8")) as SnapshotSpecJson;

  // The compiler, as require() would load it (CommonJS wrapper, its real file name and folder).
  const mod = { exports: {} as Record<string, unknown> };
  const source = fs.readFileSync(spec.tsPath, "utf8");
  const wrapper = new Function("exports", "require", "module", "__filename", "__dirname", `${source}\n//# sourceURL=${spec.tsPath}`);
  wrapper(mod.exports, require, mod, spec.tsPath, path.dirname(spec.tsPath));
  const ts = mod.exports as unknown as typeof import("typescript") & {
    getSetExternalModuleIndicator(o: object): (file: unknown) => void;
    bindSourceFile(file: unknown, o: object): void;
  };

  const setExternalModuleIndicator = ts.getSetExternalModuleIndicator(spec.options);
  const files = new Map<
    string,
    { sourceFile: unknown; size: number; mtimeMs: number; ctimeMs: number; languageVersion: number; impliedNodeFormat?: number }
  >();
  for (const f of spec.files) {
    const sourceFile = ts.createSourceFile(f.fileName, f.text, {
      languageVersion: f.languageVersion,
      impliedNodeFormat: f.impliedNodeFormat as never,
      setExternalModuleIndicator,
    } as never);
    ts.bindSourceFile(sourceFile, spec.options);
    files.set(f.fileName, {
      sourceFile,
      size: f.size,
      mtimeMs: f.mtimeMs,
      ctimeMs: f.ctimeMs,
      languageVersion: f.languageVersion,
      impliedNodeFormat: f.impliedNodeFormat,
    });
  }
  // Run the checker and the emitter once on a throwaway program of their own (not on the files
  // above), so that the snapshot holds their compiled code and the first cell does not compile it.
  // Its host is ours alone: the compiler's own (ts.sys) would memoize this process's working
  // directory, which a kernel must not inherit (snapshot.ts checks that it did not).
  const warmName = "/__mtlkit_warm__/cell.ts";
  const warmText =
    "export const a: number = 1;\nexport async function f(x: string) { return [x, ...[1, 2]].map((y) => String(y)); }\nclass C { m() { return a; } }\nf('x'); new C().m(); a;\n";
  const warmOptions = {
    ...spec.options,
    noLib: true,
    types: [],
    typeRoots: [],
    paths: undefined,
    rootDir: undefined,
    outDir: "/__mtlkit_warm__/out",
  };
  const warmHost: import("typescript").CompilerHost = {
    getSourceFile: (name, opts) => (name === warmName ? ts.createSourceFile(name, warmText, opts) : undefined),
    getDefaultLibFileName: () => "/__mtlkit_warm__/lib.d.ts",
    writeFile: () => {},
    getCurrentDirectory: () => "/__mtlkit_warm__",
    getCanonicalFileName: (f) => f,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => "\n",
    fileExists: (f) => f === warmName,
    readFile: (f) => (f === warmName ? warmText : undefined),
    directoryExists: () => false,
    getDirectories: () => [],
  };
  const warmProgram = ts.createProgram([warmName], warmOptions as never, warmHost);
  ts.getPreEmitDiagnostics(warmProgram);
  warmProgram.emit();
  ts.transpileModule(warmText, {
    fileName: "custom.js",
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: spec.options.target as never, sourceMap: true },
  });

  (globalThis as Record<symbol, unknown>)[Symbol.for("mtlkit.kernelSnapshot")] = {
    format: spec.format,
    ts,
    tsPath: spec.tsPath,
    tsStat: spec.tsStat,
    key: spec.key,
    files,
  };

  // Node takes Error.stackTraceLimit out while the snapshot is built and puts it back at run time
  // only if it is absent; the compiler's file checks (which save and restore it) left it defined as
  // undefined, and errors would then carry no stack frames (cells' tracebacks no lines).
  if (Error.stackTraceLimit === undefined) delete (Error as { stackTraceLimit?: number }).stackTraceLimit;

  v8.startupSnapshot.setDeserializeMainFunction(() => {
    if (typeof Error.stackTraceLimit !== "number") Error.stackTraceLimit = 10; // V8's default
    // Like `node script.js args`: argv[1] is the script; children forked without the blob.
    const Module = require("module") as typeof import("module");
    const at = process.execArgv.findIndex((a) => a === "--snapshot-blob" || a.startsWith("--snapshot-blob="));
    if (at >= 0) process.execArgv.splice(at, process.execArgv[at].includes("=") ? 1 : 2);
    const script = process.argv[1];
    if (!script) {
      process.stderr.write("mtlkit kernel snapshot: no script to run\n");
      process.exit(2);
    }
    const file = path.resolve(script);
    process.argv[1] = file;
    Module.createRequire(file)(file);
  });
})();
