/**
 * The kernel's V8 start-up snapshot: a heap image (node --build-snapshot) holding the TypeScript
 * compiler and the installed declarations a kernel reads (lib.*.d.ts, @types/node, the other
 * packages of the node_modules/@types folders its folder sees and what they import) already parsed
 * and bound, which every kernel otherwise parses before its first cell. The supervisor starts the
 * kernel with `--snapshot-blob FILE` when a valid one exists; the kernel's compiler host then takes
 * those SourceFiles instead of reading and parsing the files (`useSnapshotSourceFiles`).
 *
 * Correctness: the blob's name is keyed by Node (version, arch, binary), the compiler file (path,
 * size, mtime, ctime), the snapshot entry script's content, whether built-in docs are kept, the V8
 * flags and the @types folders; a manifest beside it lists every declaration file with its size,
 * mtime and ctime, checked before the blob is used; and inside the kernel each file is checked
 * again (and every 2 s while in use), with the compiler options that shape parsing and binding,
 * before its SourceFile is taken: anything that differs is read and parsed as usual. A blob that
 * fails to start the kernel is dropped and the kernel restarted without it. Blobs are written to a
 * temporary name and renamed.
 *
 * Built by `mtlkit kernel install`, by `mtlkit run` before its first kernel, by `mtlkit kernel
 * snapshot`, or in the background by a supervisor that found none. MTLKIT_KERNEL_SNAPSHOT=0 turns
 * it off; MTLKIT_KERNEL_DEBUG=1 logs what it does on stderr.
 */
import { spawn, spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type * as TS from "typescript";
import { cacheDir } from "./codeCache";

export const SNAPSHOT_FORMAT = 1;
const SNAPSHOT_SYMBOL = Symbol.for("mtlkit.kernelSnapshot");
/** How long a kernel trusts a snapshot file's check before it looks at the file again. */
const RECHECK_MS = 2000;
const ENTRY = path.join(__dirname, "snapshotEntry.js");

/** What the snapshot's heap holds (set by snapshotEntry.ts). */
export interface KernelSnapshot {
  format: number;
  ts: typeof TS;
  tsPath: string;
  tsStat: string;
  key: string;
  files: Map<string, SnapshotFile>;
}

interface SnapshotFile {
  sourceFile: TS.SourceFile;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  languageVersion: number;
  impliedNodeFormat?: number;
}

interface ManifestFile {
  fileName: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A line on stderr with MTLKIT_KERNEL_DEBUG=1 (fd 2 itself: never a cell's captured stderr). */
export function debugLog(line: string): void {
  if (process.env.MTLKIT_KERNEL_DEBUG !== "1") return;
  try {
    fs.writeSync(2, `[mtlkit snapshot] ${line}\n`);
  } catch {
    // no stderr
  }
}

/** How many declaration files this process's programs took from the snapshot, and how many it had to parse again. */
export const snapshotStats = { taken: 0, stale: 0 };

/**
 * Whether snapshots may be used: not when turned off, and not when TSC_* variables are set (the
 * compiler reads them when it loads, which for a snapshot was at build time).
 */
export function snapshotsEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.MTLKIT_KERNEL_SNAPSHOT === "0") return false;
  return !Object.keys(env).some((k) => k.startsWith("TSC_"));
}

function statKey(file: string): string {
  const st = fs.statSync(file);
  return `${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** The TypeScript compiler tslab runs. */
export function typescriptPath(): string {
  const tslabMain = require.resolve("tslab/dist/converter.js");
  return require.resolve("@tslab/typescript-for-tslab", { paths: [path.dirname(tslabMain)] });
}

function keepDocs(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.MTLKIT_KERNEL_DOCS === "1";
}

/**
 * The V8 flags a kernel runs with, which a blob must have been built with (V8 refuses a snapshot
 * made under other flags): the supervisor's heap limit (--heap-mb) and NODE_OPTIONS.
 */
export function kernelNodeFlags(heapMb?: number): string[] {
  return heapMb ? [`--max-old-space-size=${heapMb}`] : [];
}

function entryHash(): string {
  return createHash("sha256").update(fs.readFileSync(ENTRY)).digest("hex");
}

/**
 * The @types folders a kernel in `folder` sees (node_modules/@types there and in every folder above,
 * as TypeScript's default type roots): the installed declarations its compiler reads depend on
 * them, so a blob holds those of one such context.
 */
export function typesContext(folder: string): string[] {
  const roots: string[] = [];
  for (let d = path.resolve(folder); ; d = path.dirname(d)) {
    const atTypes = path.join(d, "node_modules", "@types");
    if (fs.existsSync(atTypes)) roots.push(atTypes);
    if (path.dirname(d) === d) return roots;
  }
}

/**
 * The blob for this Node, compiler, entry script, docs setting, V8 flags and the @types context of
 * `folder` (the kernel's working directory), whether or not it exists.
 */
export function blobPath(env: NodeJS.ProcessEnv = process.env, heapMb?: number, folder: string = process.cwd()): string {
  const tsPath = typescriptPath();
  const key = createHash("sha256")
    .update(
      [
        SNAPSHOT_FORMAT,
        process.version,
        process.arch,
        process.execPath,
        statKey(process.execPath),
        tsPath,
        statKey(tsPath),
        entryHash(),
        keepDocs(env) ? "docs" : "nodocs",
        ...kernelNodeFlags(heapMb),
        env.NODE_OPTIONS ?? "",
        ...typesContext(folder),
      ].join("\0"),
    )
    .digest("hex")
    .slice(0, 16);
  const dir = env.MTLKIT_CACHE_DIR || cacheDir();
  return path.join(dir, `kernel-${key}.blob`);
}

function manifestPath(blob: string): string {
  return blob.replace(/\.blob$/, ".json");
}

/**
 * The blob to start a kernel from, or null (none, stale, or snapshots off). Checks every file the
 * snapshot holds against the file system (a few ms).
 */
export function usableBlob(
  env: NodeJS.ProcessEnv = process.env,
  heapMb?: number,
  folder: string = process.cwd(),
): { blob: string | null; reason: string } {
  if (!snapshotsEnabled(env)) return { blob: null, reason: "snapshots are off" };
  let blob: string;
  try {
    blob = blobPath(env, heapMb, folder);
  } catch (e) {
    return { blob: null, reason: `no compiler: ${(e as Error).message}` };
  }
  if (!fs.existsSync(blob)) return { blob: null, reason: `no snapshot ${blob}` };
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestPath(blob), "utf8")) as { format: number; files: ManifestFile[] };
    if (manifest.format !== SNAPSHOT_FORMAT) return { blob: null, reason: "another snapshot format" };
    for (const f of manifest.files) {
      if (statKey(f.fileName) !== `${f.size}:${f.mtimeMs}:${f.ctimeMs}`) return { blob: null, reason: `${f.fileName} changed` };
    }
  } catch (e) {
    return { blob: null, reason: `manifest unreadable or a file is gone: ${(e as Error).message}` };
  }
  return { blob, reason: "valid" };
}

/**
 * Remove the other blobs in `dir` that can never be used again: a file their manifest lists is gone
 * or changed (an upgraded @types/node, a rebuilt checkout). Blobs of other Node versions or
 * compilers whose files are intact stay (another installation may use them).
 */
export function pruneStaleBlobs(dir: string, keep: string): void {
  for (const name of fs.readdirSync(dir)) {
    const blob = path.join(dir, name);
    if (!/^kernel-[0-9a-f]{16}\.blob$/.test(name) || blob === keep) continue;
    let stale = false;
    try {
      const manifest = JSON.parse(fs.readFileSync(manifestPath(blob), "utf8")) as {
        files: ManifestFile[];
        tsPath?: string;
        tsStat?: string;
        entry?: string;
      };
      // This installation's, from an older build of it or of its compiler: superseded.
      const tsPath = typescriptPath();
      if (manifest.tsPath === tsPath && (manifest.entry !== entryHash() || manifest.tsStat !== statKey(tsPath))) stale = true;
      stale ||= manifest.files.some((f) => {
        try {
          return statKey(f.fileName) !== `${f.size}:${f.mtimeMs}:${f.ctimeMs}`;
        } catch {
          return true;
        }
      });
    } catch {
      stale = true; // no manifest: never usable
    }
    if (stale) {
      debugLog(`removing ${blob}: it can no longer be used`);
      discardBlob(blob);
    }
  }
}

/** Drop a blob that could not start a kernel (the next start builds a fresh one). */
export function discardBlob(blob: string): void {
  for (const f of [blob, manifestPath(blob)]) fs.rmSync(f, { force: true });
}

// ---------------------------------------------------------------------------------------------
// In the kernel

/** Whether this process started from a kernel snapshot (usable or not: snapshotFor decides). */
export function startedFromSnapshot(): boolean {
  return (globalThis as Record<symbol, unknown>)[SNAPSHOT_SYMBOL] !== undefined && snapshotsEnabled();
}

/** The snapshot this process started from, if any (and if usable for `tsPath`), else null. */
export function snapshotFor(tsPath: string): KernelSnapshot | null {
  const snap = (globalThis as Record<symbol, unknown>)[SNAPSHOT_SYMBOL] as KernelSnapshot | undefined;
  if (!snap) return null;
  const why = (() => {
    if (snap.format !== SNAPSHOT_FORMAT) return "another snapshot format";
    if (!snapshotsEnabled()) return "snapshots are off or TSC_* variables are set";
    if (snap.tsPath !== tsPath) return `built for ${snap.tsPath}`;
    try {
      if (statKey(tsPath) !== snap.tsStat) return `${tsPath} changed`;
    } catch {
      return `${tsPath} is gone`;
    }
    // The compiler memoizes the working directory: one it learnt while the snapshot was built
    // would be the builder's (a folder since removed), and every path would resolve from there.
    if (snap.ts.sys.getCurrentDirectory() !== process.cwd()) return "its compiler kept the builder's working directory";
    return null;
  })();
  if (why) {
    debugLog(`not using the snapshot's compiler: ${why}`);
    return null;
  }
  return snap;
}

/** Put the snapshot's compiler module in the require cache, as if `require(tsPath)` had loaded it. */
export function installSnapshotCompiler(snap: KernelSnapshot): void {
  const Module = require("module") as typeof import("module");
  const mod = new Module(snap.tsPath, module);
  mod.filename = snap.tsPath;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(snap.tsPath));
  mod.exports = snap.ts;
  mod.loaded = true;
  require.cache[snap.tsPath] = mod;
}

type GetSourceFile = (
  fileName: string,
  opts: TS.ScriptTarget | TS.CreateSourceFileOptions,
  ...rest: unknown[]
) => TS.SourceFile | undefined;
type GetSourceFileByPath = (
  fileName: string,
  p: TS.Path,
  opts: TS.ScriptTarget | TS.CreateSourceFileOptions,
  ...rest: unknown[]
) => TS.SourceFile | undefined;

/**
 * The compiler options that shape how a declaration file is parsed and bound; two programs with the
 * same key (and the same text) get the same SourceFile, as TypeScript's document registry assumes.
 */
export function parseBindKey(ts: typeof TS, options: TS.CompilerOptions, docs = keepDocs()): string {
  const decls = (ts as unknown as { optionDeclarations: { name: string; affectsSourceFile?: boolean; affectsBindDiagnostics?: boolean }[] })
    .optionDeclarations;
  const names = new Set(decls.filter((o) => o.affectsSourceFile || o.affectsBindDiagnostics).map((o) => o.name));
  for (const n of [
    "target",
    "module",
    "moduleDetection",
    "moduleResolution",
    "jsx",
    "strict",
    "alwaysStrict",
    "preserveConstEnums",
    "isolatedModules",
    "verbatimModuleSyntax",
  ])
    names.add(n);
  const parts = [...names].sort().map((n) => `${n}=${JSON.stringify(options[n] ?? null)}`);
  return [ts.version, docs ? "docs" : "nodocs", ...parts].join(";");
}

/** What a kernel's compiler host saw, for the snapshot builder (see recordSourceFiles). */
export interface RecordedFiles {
  options: TS.CompilerOptions;
  files: Map<string, { sourceFile: TS.SourceFile; languageVersion: number; impliedNodeFormat?: number }>;
}

let recorder: RecordedFiles | null = null;

/** Start recording the declaration files the next programs read (the snapshot builder does this). */
export function recordSourceFiles(): RecordedFiles {
  recorder = { options: {}, files: new Map() };
  return recorder;
}

/** The ES library's and Node's declarations (lib.*.d.ts, @types/node). */
export function isBuiltinDeclarations(file: string, tsLibDir: string): boolean {
  if (!file.endsWith(".d.ts")) return false;
  return (file.startsWith(tsLibDir) && path.basename(file).startsWith("lib.")) || /[\\/]@types[\\/]node[\\/]/.test(file);
}

/**
 * Files worth keeping in a snapshot: installed declarations (under a node_modules folder: the ES
 * library's, Node's, the type packages of an @types folder and what they import), never a
 * notebook's own code.
 */
export function isSnapshotCandidate(file: string): boolean {
  return file.endsWith(".d.ts") && /[\\/]node_modules[\\/]/.test(file);
}

function createOptions(opts: TS.ScriptTarget | TS.CreateSourceFileOptions): { languageVersion: number; impliedNodeFormat?: number } {
  return typeof opts === "number"
    ? { languageVersion: opts }
    : { languageVersion: opts.languageVersion, impliedNodeFormat: opts.impliedNodeFormat };
}

/**
 * Hook a watch compiler host so that its programs take the snapshot's SourceFiles for built-in
 * declarations whose file and options are unchanged (and record what they read for a builder).
 * Other files, and any that changed, go through the host as before.
 */
export function useSnapshotSourceFiles(
  ts: typeof TS,
  host: { createProgram: (...a: never[]) => unknown },
  snap: KernelSnapshot | null,
): void {
  const create = host.createProgram as unknown as (
    roots: unknown,
    options: TS.CompilerOptions,
    compilerHost?: TS.CompilerHost,
    ...rest: unknown[]
  ) => unknown;
  const hooked = new WeakSet<object>();
  let reported = false;
  (host as { createProgram: unknown }).createProgram = (
    roots: unknown,
    options: TS.CompilerOptions,
    compilerHost?: TS.CompilerHost,
    ...rest: unknown[]
  ) => {
    if (compilerHost && !hooked.has(compilerHost)) {
      hooked.add(compilerHost);
      hookCompilerHost(compilerHost, options);
    }
    try {
      return create(roots, options, compilerHost, ...rest);
    } finally {
      if (snap && !reported) {
        reported = true;
        debugLog(
          `first program: ${snapshotStats.taken} declaration files from the snapshot, ${snapshotStats.stale} changed and parsed again`,
        );
      }
    }
  };

  function hookCompilerHost(ch: TS.CompilerHost, options: TS.CompilerOptions): void {
    const useSnap = snap !== null && parseBindKey(ts, options) === snap.key;
    if (snap && !useSnap) debugLog("not using the snapshot's declarations: the compiler options differ");
    // Each file's verdict, with when it was made: a file the snapshot answers for is looked at again
    // after RECHECK_MS, as the compiler's own file watchers would notice an edit mid-session.
    const checked = new Map<string, { sf: TS.SourceFile | null; at: number }>();
    const unchanged = (fileName: string, entry: SnapshotFile): boolean => {
      try {
        return statKey(fileName) === `${entry.size}:${entry.mtimeMs}:${entry.ctimeMs}`;
      } catch {
        return false;
      }
    };
    const fromSnapshot = (fileName: string, opts: TS.ScriptTarget | TS.CreateSourceFileOptions): TS.SourceFile | undefined => {
      if (!useSnap) return undefined;
      const entry = snap.files.get(fileName);
      if (!entry) return undefined;
      const now = Date.now();
      const known = checked.get(fileName);
      if (known && (known.sf === null || now - known.at < RECHECK_MS)) return known.sf ?? undefined;
      const want = createOptions(opts);
      const ok =
        want.languageVersion === entry.languageVersion && want.impliedNodeFormat === entry.impliedNodeFormat && unchanged(fileName, entry);
      if (!ok) {
        snapshotStats.stale++;
        debugLog(`${fileName} changed since the snapshot: parsed again`);
      } else if (!known) {
        snapshotStats.taken++;
        (entry.sourceFile as TS.SourceFile & { version?: string }).version ??= `snapshot:${entry.size}:${entry.mtimeMs}`;
      }
      const sf = ok ? entry.sourceFile : null;
      checked.set(fileName, { sf, at: now });
      return sf ?? undefined;
    };
    const record = (fileName: string, opts: TS.ScriptTarget | TS.CreateSourceFileOptions, sf: TS.SourceFile | undefined) => {
      // (tslab's virtual files, such as the previous cells' declarations, do not exist on disk)
      if (!recorder || !sf || !isSnapshotCandidate(fileName) || !fs.existsSync(fileName)) return sf;
      recorder.options = options;
      recorder.files.set(fileName, { sourceFile: sf, ...createOptions(opts) });
      return sf;
    };
    const getSourceFile = ch.getSourceFile.bind(ch) as GetSourceFile;
    ch.getSourceFile = ((fileName, opts, ...rest) => {
      const sf = fromSnapshot(fileName, opts);
      if (sf) return sf;
      return record(fileName, opts, getSourceFile(fileName, opts, ...rest));
    }) as GetSourceFile as TS.CompilerHost["getSourceFile"];
    const byPath = ch.getSourceFileByPath?.bind(ch) as GetSourceFileByPath | undefined;
    if (byPath) {
      ch.getSourceFileByPath = ((fileName, p, opts, ...rest) => {
        const sf = fromSnapshot(fileName, opts);
        if (sf) return sf;
        return record(fileName, opts, byPath(fileName, p, opts, ...rest));
      }) as GetSourceFileByPath as TS.CompilerHost["getSourceFileByPath"];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Building

interface RecordedSpec {
  key: string;
  options: TS.CompilerOptions;
  files: {
    fileName: string;
    text: string;
    size: number;
    mtimeMs: number;
    ctimeMs: number;
    languageVersion: number;
    impliedNodeFormat?: number;
  }[];
}

/**
 * Record, in this process, what a kernel's compiler reads in `folder`: the declaration files worth
 * a snapshot (the text as the kernel serves it, file identity, parse options) and the options key.
 * (`mtlkit kernel snapshot --record FOLDER --out FILE`; one folder per process, as a kernel.)
 */
export async function recordHere(folder: string, out: string): Promise<void> {
  const rec = recordSourceFiles();
  process.chdir(folder);
  const { Engine } = await import("./engine");
  const engine = new Engine(folder);
  engine.warm();
  engine.close();
  const { loadTslab } = await import("./tslab-hooks");
  const ts = loadTslab("").ts;
  const files = [...rec.files].map(([fileName, f]) => {
    const st = fs.statSync(fileName);
    return {
      fileName,
      text: f.sourceFile.text,
      size: st.size,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
      languageVersion: f.languageVersion,
      impliedNodeFormat: f.impliedNodeFormat,
    };
  });
  const spec: RecordedSpec = { key: parseBindKey(ts, rec.options), options: rec.options, files };
  fs.writeFileSync(out, JSON.stringify(spec), { mode: 0o600 });
}

/**
 * Build the snapshot for kernels in `folder` now: a kernel's compiler there (in a process of its
 * own) records the installed declarations it reads; then `node --build-snapshot` parses them into
 * a blob, written atomically with its manifest. Returns the blob's path.
 */
export async function buildSnapshotHere(heapMb?: number, folder: string = process.cwd()): Promise<string> {
  const blob = blobPath(process.env, heapMb, folder);
  await buildBlob([folder], blob, heapMb);
  return blob;
}

/**
 * Record what kernels in `folders` read (each in a process of its own, as a kernel) and build a
 * blob of it at `blob` (temporary name, then renamed), with its manifest beside it.
 */
export async function buildBlob(folders: string[], blob: string, heapMb?: number): Promise<void> {
  const dir = path.dirname(blob);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-snapshot-"));
  const tmpSpec = path.join(work, "spec.json");
  const tmpBlob = path.join(dir, `.${path.basename(blob)}.${randomBytes(6).toString("hex")}.tmp`);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith("TSC_")) delete env[k];
  try {
    const cli = path.join(__dirname, "cli.js");
    let merged: RecordedSpec | null = null;
    for (const [i, folder] of folders.map((f) => path.resolve(f)).entries()) {
      const out = path.join(work, `record-${i}.json`);
      const r = spawnSync(process.execPath, [cli, "kernel", "snapshot", "--record", folder, "--out", out], { env, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`recording in ${folder} failed: ${(r.stderr || String(r.signal)).trim().slice(-2000)}`);
      const spec = JSON.parse(fs.readFileSync(out, "utf8")) as RecordedSpec;
      if (!merged) merged = spec;
      else if (spec.key === merged.key) {
        const have = new Set(merged.files.map((f) => f.fileName));
        merged.files.push(...spec.files.filter((f) => !have.has(f.fileName)));
      }
    }
    if (!merged || merged.files.length === 0) throw new Error("the compiler read no declaration files");
    const tsPath = typescriptPath();
    fs.writeFileSync(tmpSpec, JSON.stringify({ format: SNAPSHOT_FORMAT, tsPath, tsStat: statKey(tsPath), ...merged }), { mode: 0o600 });
    const r = spawnSync(process.execPath, [...kernelNodeFlags(heapMb), "--snapshot-blob", tmpBlob, "--build-snapshot", ENTRY], {
      env: { ...env, MTLKIT_SNAPSHOT_SPEC: tmpSpec },
      encoding: "utf8",
      cwd: work,
    });
    if (r.status !== 0 || !fs.existsSync(tmpBlob))
      throw new Error(`node --build-snapshot failed (${r.status ?? r.signal}): ${(r.stderr || "").trim().slice(-2000)}`);
    const manifest = {
      format: SNAPSHOT_FORMAT,
      tsPath,
      tsStat: statKey(tsPath),
      entry: entryHash(),
      files: merged.files.map(({ fileName, size, mtimeMs, ctimeMs }) => ({ fileName, size, mtimeMs, ctimeMs })),
    };
    const { writeFileAtomic } = await import("./fsutil");
    // Manifest first: a blob is only used with a manifest that lists its files.
    writeFileAtomic(manifestPath(blob), JSON.stringify(manifest), 0o600);
    fs.chmodSync(tmpBlob, 0o600);
    fs.renameSync(tmpBlob, blob);
    debugLog(`built ${blob} (${merged.files.length} declaration files)`);
    pruneStaleBlobs(dir, blob);
  } finally {
    for (const f of [tmpBlob, work]) fs.rmSync(f, { recursive: true, force: true });
  }
}

function snapshotArgs(heapMb: number | undefined, folder: string): string[] {
  return [...(heapMb ? ["--heap-mb", String(heapMb)] : []), "--folder", path.resolve(folder)];
}

/** Build the snapshot in a child process (`mtlkit kernel snapshot`) and wait; false if it failed. */
export function buildSnapshotSync(heapMb?: number, folder: string = process.cwd(), timeoutMs = 240_000): boolean {
  const cli = path.join(__dirname, "cli.js");
  const r = spawnSync(process.execPath, [cli, "kernel", "snapshot", ...snapshotArgs(heapMb, folder)], {
    stdio: ["ignore", "ignore", "pipe"],
    encoding: "utf8",
    timeout: timeoutMs,
  });
  if (r.status !== 0) debugLog(`building the snapshot failed: ${(r.stderr || String(r.signal)).trim().slice(-2000)}`);
  return r.status === 0;
}

/** Make sure a valid snapshot exists (building one if not); never throws. */
export function ensureSnapshot(heapMb?: number, folder: string = process.cwd()): string | null {
  try {
    const u = usableBlob(process.env, heapMb, folder);
    if (u.blob || !snapshotsEnabled()) return u.blob;
    debugLog(`${u.reason}: building one`);
    buildSnapshotSync(heapMb, folder);
    return usableBlob(process.env, heapMb, folder).blob;
  } catch (e) {
    debugLog(`no snapshot: ${(e as Error).message}`);
    return null;
  }
}

const LOCK_STALE_MS = 5 * 60_000;

function lockPath(blob: string): string {
  return `${blob}.lock`;
}

function lockHeld(lock: string): boolean {
  try {
    return Date.now() - fs.statSync(lock).mtimeMs < LOCK_STALE_MS;
  } catch {
    return false;
  }
}

/**
 * Build the snapshot unless another process is building it (a lock file beside the blob, ignored
 * after 5 min), in which case wait for that one (up to `waitMs`). Returns the usable blob or null.
 */
export async function buildSnapshotLocked(heapMb?: number, folder: string = process.cwd(), waitMs = 180_000): Promise<string | null> {
  const blob = blobPath(process.env, heapMb, folder);
  fs.mkdirSync(path.dirname(blob), { recursive: true, mode: 0o700 });
  const lock = lockPath(blob);
  if (lockHeld(lock)) {
    const end = Date.now() + waitMs;
    while (lockHeld(lock) && Date.now() < end) await new Promise((r) => setTimeout(r, 200));
    return usableBlob(process.env, heapMb, folder).blob;
  }
  fs.rmSync(lock, { force: true });
  try {
    fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
  } catch {
    return buildSnapshotLocked(heapMb, folder, waitMs); // another process took it just now
  }
  try {
    return await buildSnapshotHere(heapMb, folder);
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * Start building the snapshot in the background (a detached, low-priority `mtlkit kernel snapshot`),
 * unless another process is building it already.
 */
export function buildSnapshotInBackground(heapMb?: number, folder: string = process.cwd()): void {
  try {
    if (lockHeld(lockPath(blobPath(process.env, heapMb, folder)))) return;
    const cli = path.join(__dirname, "cli.js");
    const child = spawn(process.execPath, [cli, "kernel", "snapshot", ...snapshotArgs(heapMb, folder)], {
      stdio: "ignore",
      detached: true,
    });
    try {
      if (child.pid) os.setPriority(child.pid, 15);
    } catch {
      // priority is a nicety
    }
    child.unref();
    debugLog(`building the snapshot in the background (pid ${child.pid})`);
  } catch (e) {
    debugLog(`cannot build the snapshot in the background: ${(e as Error).message}`);
  }
}
