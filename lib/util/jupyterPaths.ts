/**
 * Jupyter's data path, computed without Python, in jupyter_core's order (`jupyter_core.paths.jupyter_path`):
 *
 *   1. `JUPYTER_PATH` (its entries, in order);
 *   2. the user's data dir (`JUPYTER_DATA_DIR`, else `$XDG_DATA_HOME/jupyter` or `~/.local/share/jupyter`;
 *      `~/Library/Jupyter` on macOS, `%APPDATA%\jupyter` on Windows), then Python's user base
 *      `site.getuserbase()/share/jupyter` (`PYTHONUSERBASE`, else `~/.local`) when user site-packages are on;
 *   3. the environment: `{sys.prefix}/share/jupyter` of the Python that runs Jupyter, unless it is a system dir
 *      (with `JUPYTER_PREFER_ENV_PATH` set, or in a virtual environment, the environment comes before the user);
 *   4. the system dirs: `/usr/local/share/jupyter`, `/usr/share/jupyter` (`%PROGRAMDATA%\jupyter` on Windows).
 *
 * The doctor, `mtlkit kernel install` and the notebook runner's kernelspec search all use it;
 * test/kernel/jupyter-paths.test.ts compares it with `jupyter --paths --json` where Jupyter is installed.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { which } from "../backends/system";

/** What the data path depends on; each defaults to this process's. */
export interface JupyterSetting {
  env?: Record<string, string | undefined>;
  platform?: NodeJS.Platform;
  home?: string;
  /** `sys.prefix` of the Python that runs Jupyter (see {@link jupyterPythonPrefix}); none: no environment entry. */
  pythonPrefix?: string;
}

const FALSY = new Set(["no", "n", "false", "off", "0", "0.0"]);

/** jupyter_core's `envset`: set and not one of its false words. */
function envSet(env: Record<string, string | undefined>, name: string): boolean {
  const v = env[name];
  return v !== undefined && !FALSY.has(v.toLowerCase());
}

/** The user's Jupyter data dir (where `mtlkit kernel install --user` writes), as jupyter_core's `jupyter_data_dir`. */
export function jupyterDataDir(setting: JupyterSetting = {}): string {
  const env = setting.env ?? process.env;
  const platform = setting.platform ?? process.platform;
  const home = setting.home ?? os.homedir();
  if (env.JUPYTER_DATA_DIR) return env.JUPYTER_DATA_DIR;
  if (platform === "darwin") return path.join(home, "Library", "Jupyter");
  if (platform === "win32") return env.APPDATA ? path.win32.join(env.APPDATA, "jupyter") : path.win32.join(home, ".jupyter", "data");
  return path.join(env.XDG_DATA_HOME || path.join(home, ".local", "share"), "jupyter");
}

/** The system-wide data dirs, lowest priority. */
export function systemJupyterPath(setting: JupyterSetting = {}): string[] {
  const env = setting.env ?? process.env;
  if ((setting.platform ?? process.platform) === "win32") return [path.win32.join(env.PROGRAMDATA ?? "C:\\ProgramData", "jupyter")];
  return ["/usr/local/share/jupyter", "/usr/share/jupyter"];
}

/** A virtual environment's prefix holds pyvenv.cfg; there Python turns user site-packages off unless the venv includes the system's. */
function venvConfig(prefix: string | undefined): string | undefined {
  if (!prefix) return undefined;
  try {
    return fs.readFileSync(path.join(prefix, "pyvenv.cfg"), "utf8");
  } catch {
    return undefined;
  }
}

/** Jupyter's data dirs, highest priority first, as `jupyter --paths` lists them under "data". */
export function jupyterPath(setting: JupyterSetting = {}): string[] {
  const env = setting.env ?? process.env;
  const platform = setting.platform ?? process.platform;
  const home = setting.home ?? os.homedir();
  const sep = platform === "win32" ? ";" : ":";
  const dirSep = platform === "win32" ? "\\" : "/";
  const paths: string[] = [];
  if (env.JUPYTER_PATH) paths.push(...env.JUPYTER_PATH.split(sep).map((p) => p.replace(new RegExp(`\\${dirSep}+$`), "")));

  const user = [jupyterDataDir(setting)];
  const venv = venvConfig(setting.pythonPrefix);
  const userSite = !env.PYTHONNOUSERSITE && (venv === undefined || /^\s*include-system-site-packages\s*=\s*true\s*$/im.test(venv));
  if (userSite && platform !== "darwin" && platform !== "win32") {
    // site.getuserbase() on Linux and other Unixes (macOS and Windows name it by Python version: not known here).
    const userDir = path.join(env.PYTHONUSERBASE || path.join(home, ".local"), "share", "jupyter");
    if (!user.includes(userDir)) user.push(userDir);
  }
  const system = systemJupyterPath(setting);
  const environment = setting.pythonPrefix ? [path.join(setting.pythonPrefix, "share", "jupyter")].filter((p) => !system.includes(p)) : [];
  const preferEnvironment = env.JUPYTER_PREFER_ENV_PATH !== undefined ? envSet(env, "JUPYTER_PREFER_ENV_PATH") : venv !== undefined;
  paths.push(...(preferEnvironment ? [...environment, ...user] : [...user, ...environment]));
  paths.push(...system);
  return paths;
}

/**
 * `sys.prefix` of the Python behind a `jupyter` executable: its `#!` line names the interpreter
 * (`/usr/bin/python3` → `/usr`, `/venv/bin/python` → `/venv`); without one, the executable's own
 * prefix. With no executable, the active environment (`CONDA_PREFIX`, `VIRTUAL_ENV`), if any.
 */
export function jupyterPythonPrefix(
  executable: string | undefined,
  env: Record<string, string | undefined> = process.env,
): string | undefined {
  if (!executable) return env.CONDA_PREFIX || env.VIRTUAL_ENV || undefined;
  let interpreter: string | undefined;
  try {
    const head = fs.readFileSync(executable, { encoding: "latin1" }).slice(0, 512);
    const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(head);
    // `#!/usr/bin/env python3` names no path: the executable's own prefix is the best guess.
    if (shebang && !shebang[1].endsWith("/env")) interpreter = shebang[1];
  } catch {
    // unreadable: fall back to the executable's location
  }
  const bin = path.dirname(interpreter ?? fs.realpathSync(executable));
  return path.dirname(bin);
}

/** The `jupyter` executable on PATH (or in /usr/bin, /usr/local/bin), when Jupyter is installed. */
export function findJupyter(): string | undefined {
  return which("jupyter", ["/usr/bin/jupyter", "/usr/local/bin/jupyter"]);
}

/** This machine's Jupyter data path: {@link jupyterPath} with the prefix of the Python that runs the installed Jupyter. */
export function installedJupyterPath(executable = findJupyter()): string[] {
  return jupyterPath({ pythonPrefix: jupyterPythonPrefix(executable) });
}
