/**
 * Module resolution for notebooks in any folder: a bare import (`"mtlkit"`,
 * `"@tensorflow/tfjs"`, `"danfojs-node"`) is looked up from the notebook's folder
 * first, as Node does, and only when that fails from mtlkit's own installation.
 * A package installed next to the notebook therefore still wins, and a notebook
 * elsewhere gets the very modules mtlkit itself runs on (one tfjs engine, one
 * backend registry). The same rule serves the runtime `require` and the
 * type-checker, so what type-checks is what runs.
 */
import * as fs from "fs";
import Module from "module";
import * as path from "path";
import type * as TS from "typescript";

/** The root of the mtlkit package this kernel belongs to (this file is dist/kernel/resolution.js). */
export const MTLKIT_ROOT = path.resolve(__dirname, "..", "..");

interface OwnPackage {
  name: string;
  /** Absolute path of the package's declaration entry point. */
  types: string;
}

let own: OwnPackage | null | undefined;

/** mtlkit's name and declaration entry, read from its package.json. */
export function ownPackage(): OwnPackage | null {
  if (own !== undefined) return own;
  try {
    const json = JSON.parse(fs.readFileSync(path.join(MTLKIT_ROOT, "package.json"), "utf8")) as {
      name?: string;
      types?: string;
    };
    own = json.name && json.types ? { name: json.name, types: path.join(MTLKIT_ROOT, json.types) } : null;
  } catch {
    own = null;
  }
  return own;
}

/** A bare specifier names a package (not "./x", "../x", "/abs" or "node:fs"). */
export function isBareSpecifier(id: string): boolean {
  return !(id.startsWith(".") || path.isAbsolute(id) || id.startsWith("node:"));
}

let mtlkitRequire: NodeJS.Require | null = null;

/** `require` as seen from mtlkit's package root: it resolves "mtlkit" itself (exports) and mtlkit's dependencies. */
export function requireFromMtlkit(): NodeJS.Require {
  mtlkitRequire ??= Module.createRequire(path.join(MTLKIT_ROOT, "package.json"));
  return mtlkitRequire;
}

function isNotFound(e: unknown): boolean {
  return (e as { code?: string } | null)?.code === "MODULE_NOT_FOUND";
}

/**
 * Where `id` resolves for a notebook whose local resolver is `local`: locally if
 * it can, else from mtlkit's installation; throws the local error when neither can.
 */
export function resolveWithFallback(local: NodeJS.RequireResolve, id: string): string {
  try {
    return local(id);
  } catch (e) {
    if (!isNotFound(e) || !isBareSpecifier(id)) throw e;
    try {
      return requireFromMtlkit().resolve(id);
    } catch {
      throw e;
    }
  }
}

/**
 * A `resolveModuleNames` for the watch compiler host: TypeScript's own
 * resolution from the importing file, then, for bare names it cannot find,
 * the same resolution from inside mtlkit's package root. mtlkit's own name maps
 * to its declarations (TypeScript's node10 resolution has no self-reference).
 */
export function fallbackModuleResolver(
  ts: typeof TS,
  host: TS.ModuleResolutionHost,
  currentDirectory: string,
): (moduleNames: string[], containingFile: string, reused: unknown, redirected: TS.ResolvedProjectReference | undefined, options: TS.CompilerOptions) => (TS.ResolvedModuleFull | undefined)[] {
  const canonical = (f: string) => (ts.sys.useCaseSensitiveFileNames ? f : f.toLowerCase());
  let cache: TS.ModuleResolutionCache | null = null;
  const fallbackFile = path.join(MTLKIT_ROOT, "__notebook__.ts");
  return (moduleNames, containingFile, _reused, redirected, options) => {
    cache ??= ts.createModuleResolutionCache(currentDirectory, canonical, options);
    return moduleNames.map((name) => {
      const local = ts.resolveModuleName(name, containingFile, options, host, cache!, redirected).resolvedModule;
      if (local || !isBareSpecifier(name)) return local;
      const pkg = ownPackage();
      if (pkg && name === pkg.name && host.fileExists(pkg.types)) {
        return { resolvedFileName: pkg.types, extension: ts.Extension.Dts, isExternalLibraryImport: true };
      }
      return ts.resolveModuleName(name, fallbackFile, options, host, cache!, redirected).resolvedModule;
    });
  };
}

/**
 * The directory holding `@types/node` as mtlkit's installation sees it (through
 * tslab, which depends on it), for notebooks whose own folder has no Node types.
 */
export function nodeTypesRoot(): string | null {
  for (const from of [path.dirname(requireFromMtlkit().resolve("tslab/package.json")), MTLKIT_ROOT]) {
    try {
      const pj = require.resolve("@types/node/package.json", { paths: [from] });
      return path.dirname(path.dirname(pj));
    } catch {
      // not installed there
    }
  }
  return null;
}
