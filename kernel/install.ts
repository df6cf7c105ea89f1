/**
 * `mtlkit kernel install|uninstall`: write or remove the kernelspec
 * (kernel.json + logos) in a Jupyter data directory, without Python.
 */
import * as fs from "fs";
import * as path from "path";
import { jupyterDataDir } from "../lib/util/jupyterPaths";
import { writeFileAtomic } from "./fsutil";
import { logoPng } from "./logo";

export const DEFAULT_KERNEL_NAME = "mtlkit";
export const DISPLAY_NAME = "TypeScript (mtlkit)";

export interface Location {
  user?: boolean;
  sysPrefix?: boolean;
  prefix?: string;
  jupyterDir?: string;
}

export class InstallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InstallError";
  }
}

/** Jupyter's per-user data dir, as jupyter_core computes it (lib/util/jupyterPaths.ts). */
export function userDataDir(): string {
  return jupyterDataDir();
}

/** The data dir a location option designates (default: the user's). */
export function dataDir(loc: Location): string {
  const chosen = [loc.user, loc.sysPrefix, loc.prefix !== undefined, loc.jupyterDir !== undefined].filter(Boolean);
  if (chosen.length > 1) throw new InstallError("choose one of --user, --sys-prefix, --prefix DIR, --jupyter-dir DIR");
  if (loc.jupyterDir !== undefined) return path.resolve(loc.jupyterDir);
  if (loc.prefix !== undefined) return path.resolve(loc.prefix, "share", "jupyter");
  if (loc.sysPrefix) {
    const env = process.env.CONDA_PREFIX || process.env.VIRTUAL_ENV;
    if (!env) {
      throw new InstallError(
        "--sys-prefix needs an active Python environment (CONDA_PREFIX or VIRTUAL_ENV is not set); use --prefix DIR instead",
      );
    }
    return path.join(env, "share", "jupyter");
  }
  return userDataDir();
}

export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "message" | "signal";
  env: Record<string, string>;
  metadata: Record<string, unknown>;
}

export interface InstallOptions {
  /** The kernel's JavaScript heap limit in MiB (default: Node's own). */
  heapMb?: number;
}

export function kernelSpec(cliPath: string = path.join(__dirname, "cli.js"), opts: InstallOptions = {}): KernelSpec {
  const version = (require("../../package.json") as { version: string }).version;
  const heap = opts.heapMb !== undefined ? ["--heap-mb", String(opts.heapMb)] : [];
  return {
    argv: [process.execPath, cliPath, "kernel", "start", ...heap, "--connection-file", "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    interrupt_mode: "message",
    env: { MTLKIT_KERNEL: "1", NODE_NO_WARNINGS: "1" },
    metadata: { mtlkit: { version }, debugger: false },
  };
}

/** Install the kernelspec; returns its directory. */
export function install(loc: Location, name = DEFAULT_KERNEL_NAME, opts: InstallOptions = {}): string {
  if (!/^[a-zA-Z0-9._-]+$/.test(name)) throw new InstallError(`invalid kernel name "${name}" (use letters, digits, . _ -)`);
  const cli = path.join(__dirname, "cli.js");
  if (!fs.existsSync(cli)) throw new InstallError(`${cli} does not exist: build mtlkit first (npm run build)`);
  const dir = path.join(dataDir(loc), "kernels", name);
  fs.mkdirSync(dir, { recursive: true });
  writeFileAtomic(path.join(dir, "kernel.json"), JSON.stringify(kernelSpec(cli, opts), null, 2) + "\n");
  writeFileAtomic(path.join(dir, "logo-32x32.png"), logoPng(32));
  writeFileAtomic(path.join(dir, "logo-64x64.png"), logoPng(64));
  return dir;
}

/** Remove the kernelspec; returns the removed directory or null if there was none. */
export function uninstall(loc: Location, name = DEFAULT_KERNEL_NAME): string | null {
  const dir = path.join(dataDir(loc), "kernels", name);
  if (!fs.existsSync(path.join(dir, "kernel.json"))) return null;
  fs.rmSync(dir, { recursive: true, force: true });
  return dir;
}
