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

/** The root of the mtlkit package this kernel belongs to: the nearest folder with a package.json above this file. */
export const MTLKIT_ROOT = packageRoot(__dirname);

function packageRoot(from: string): string {
  for (let d = from; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, "package.json"))) return d;
    if (path.dirname(d) === d) return path.resolve(from, "..", "..");
  }
}

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

const BUILTINS = new Set(Module.builtinModules);

/** A package to look for elsewhere: bare and not one of Node's own modules, which no folder provides. */
function worthFallback(id: string): boolean {
  return isBareSpecifier(id) && !BUILTINS.has(id);
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
    if (!isNotFound(e) || !worthFallback(id)) throw e;
    try {
      return requireFromMtlkit().resolve(id);
    } catch {
      throw e;
    }
  }
}

/**
 * For the type-checker, mtlkit's installation appears as the file system root's
 * `node_modules` (`/node_modules/<package>` for packages not really there).
 * TypeScript looks for a package in every `node_modules` from the importing
 * file's folder up to the root, so the notebook's folder and its ancestors still
 * win and mtlkit's installation comes last: the rule `require` follows. A path
 * translation rather than a custom resolver, because the watch program drops
 * its resolution cache (and re-resolves every file at every cell) when given one.
 * `@types` is left alone: it would add every type package there to each program.
 */
export class MtlkitModulesView {
  readonly root: string;
  private readonly dirs = new Map<string, string | null>();

  constructor(
    cwd: string,
    private readonly exists: (p: string) => boolean,
  ) {
    this.root = path.join(path.parse(path.resolve(cwd)).root, "node_modules");
  }

  /** The real path behind a virtual one, or null when `p` is not virtual (or really exists). */
  toReal(p: string): string | null {
    if (!p.startsWith(this.root + path.sep)) return null;
    const rest = p.slice(this.root.length + 1);
    const parts = rest.split(/[\\/]/);
    const name = parts[0].startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
    if (!name || name.startsWith("@types") || (parts[0].startsWith("@") && parts.length < 2)) return null;
    const dir = this.packageDir(name);
    return dir ? path.join(dir, rest.slice(name.length)) : null;
  }

  /** Whether `p` is the virtual `node_modules` folder itself (so that TypeScript looks inside). */
  isRoot(p: string): boolean {
    return p === this.root;
  }

  /** Where mtlkit's installation has package `name` (mtlkit itself: its root), unless the real root has it. */
  private packageDir(name: string): string | null {
    const cached = this.dirs.get(name);
    if (cached !== undefined) return cached;
    let dir: string | null = null;
    if (!this.exists(path.join(this.root, name))) {
      if (name === ownPackage()?.name) dir = MTLKIT_ROOT;
      else {
        const lookIn = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(MTLKIT_ROOT);
        dir = lookIn.map((d) => path.join(d, name)).find((d) => d !== path.join(this.root, name) && this.exists(d)) ?? null;
      }
    }
    this.dirs.set(name, dir);
    return dir;
  }
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
