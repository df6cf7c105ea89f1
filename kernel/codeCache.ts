/**
 * Loads a large CommonJS module (the TypeScript compiler, 9 MB of JavaScript)
 * with a V8 code cache, so that a new kernel neither recompiles it nor lazily
 * compiles the functions the previous kernel already ran: part of the first
 * cell's wait. Node 20 has no built-in compile cache for modules (22.1+ does).
 *
 * The cache lives in $MTLKIT_CACHE_DIR or ~/.cache/mtlkit (XDG_CACHE_HOME),
 * keyed by the file's path, size and mtime, Node's version and architecture;
 * V8 itself rejects data made with other flags or another source, and a
 * rejected or missing cache is rewritten once the module has been used
 * (`saveLater`). Any failure falls back to a plain require.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import Module from "module";
import * as os from "os";
import * as path from "path";
import * as vm from "vm";
import { writeFileAtomic } from "./fsutil";

export function cacheDir(): string {
  if (process.env.MTLKIT_CACHE_DIR) return process.env.MTLKIT_CACHE_DIR;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "mtlkit");
}

export interface CachedModule {
  exports: unknown;
  /** Whether V8 accepted cached code. */
  hit: boolean;
  /** Write the cache (after the module did its start-up work) if it was missing or rejected. */
  saveLater(delayMs: number): void;
}

function cacheFile(file: string): string {
  const st = fs.statSync(file);
  const key = createHash("sha256").update([file, st.size, st.mtimeMs, process.version, process.arch].join("\0")).digest("hex").slice(0, 16);
  return path.join(cacheDir(), `${path.basename(file, ".js")}-${key}.v8cache`);
}

/** require(file) through a vm.Script with V8 cached data; a plain require when anything goes wrong. */
export function requireWithCodeCache(file: string): CachedModule {
  if (process.env.MTLKIT_CODE_CACHE === "0" || require.cache[file]) {
    return { exports: require(file), hit: false, saveLater() {} };
  }
  let store: string;
  let cached: Buffer | undefined;
  let script: vm.Script;
  try {
    store = cacheFile(file);
    try {
      cached = fs.readFileSync(store);
    } catch {
      cached = undefined;
    }
    script = new vm.Script(Module.wrap(fs.readFileSync(file, "utf8")), { filename: file, cachedData: cached });
  } catch {
    return { exports: require(file), hit: false, saveLater() {} };
  }
  const hit = cached !== undefined && !script.cachedDataRejected;
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
  require.cache[file] = mod;
  try {
    const wrapper = script.runInThisContext() as (...a: unknown[]) => void;
    wrapper.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
    mod.loaded = true;
  } catch (e) {
    delete require.cache[file];
    throw e;
  }
  return {
    exports: mod.exports,
    hit,
    saveLater(delayMs) {
      if (hit) return;
      setTimeout(() => {
        try {
          fs.mkdirSync(path.dirname(store), { recursive: true, mode: 0o700 });
          writeFileAtomic(store, script.createCachedData(), 0o600);
        } catch {
          // a read-only home or a full disk: the next kernel compiles as before
        }
      }, delayMs).unref();
    },
  };
}
