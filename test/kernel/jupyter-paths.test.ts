/**
 * One Jupyter data path (lib/util/jupyterPaths.ts) for the doctor, the installer and the runner,
 * checked against jupyter_core itself (`python3 -m jupyter --paths --json`) under several environments,
 * and against its rules where Jupyter is not installed.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { findJupyter, jupyterDataDir, jupyterPath, jupyterPythonPrefix } from "../../lib/util/jupyterPaths";
import { userDataDir } from "../../kernel/install";
import { jupyterPath as runnerPath } from "../../kernel/runner/kernelspec";
import { doctor } from "../../lib/doctor";
import { PYTHON, requireTool } from "./helpers";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-jpaths-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** jupyter_core's answer under `env` (this process's environment without the variables it sets), or undefined without Jupyter. */
function jupyterSays(env: Record<string, string | undefined>): string[] | undefined {
  const r = spawnSync(PYTHON, ["-m", "jupyter", "--paths", "--json"], { env: withEnv(env), encoding: "utf8" });
  if (r.status !== 0) return undefined;
  return (JSON.parse(r.stdout) as { data: string[] }).data;
}

const VARIABLES = ["JUPYTER_PATH", "JUPYTER_DATA_DIR", "XDG_DATA_HOME", "JUPYTER_PREFER_ENV_PATH", "PYTHONUSERBASE", "PYTHONNOUSERSITE"];
function withEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...process.env };
  for (const k of VARIABLES) delete out[k];
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

const installed = fs.existsSync(PYTHON) && spawnSync(PYTHON, ["-m", "jupyter", "--paths", "--json"], { stdio: "ignore" }).status === 0;
const run = requireTool("Jupyter (jupyter_core, for `python3 -m jupyter --paths`)", installed);

describe.runIf(run)("the Jupyter data path agrees with jupyter_core", () => {
  // The Python that answers is /usr/bin/python3's, so its sys.prefix is the prefix to compare with.
  const pythonPrefix = jupyterPythonPrefix(fs.existsSync("/usr/bin/jupyter") ? "/usr/bin/jupyter" : undefined) ?? "/usr";
  const cases: Array<[string, Record<string, string | undefined>]> = [
    ["this machine's environment", {}],
    [
      "JUPYTER_PATH with two entries (one with a trailing slash)",
      { JUPYTER_PATH: [path.join(tmp, "a"), `${path.join(tmp, "b")}/`].join(path.delimiter) },
    ],
    ["XDG_DATA_HOME (the user dir and Python's user base differ)", { XDG_DATA_HOME: path.join(tmp, "xdg") }],
    ["JUPYTER_DATA_DIR", { JUPYTER_DATA_DIR: path.join(tmp, "data") }],
    ["PYTHONUSERBASE", { PYTHONUSERBASE: path.join(tmp, "userbase") }],
    ["PYTHONNOUSERSITE", { PYTHONNOUSERSITE: "1", XDG_DATA_HOME: path.join(tmp, "xdg") }],
    ["JUPYTER_PREFER_ENV_PATH", { JUPYTER_PREFER_ENV_PATH: "1", JUPYTER_PATH: path.join(tmp, "a") }],
  ];
  for (const [name, env] of cases) {
    it(name, () => {
      const expected = jupyterSays(env);
      expect(expected).toBeDefined();
      expect(jupyterPath({ env: withEnv(env), pythonPrefix })).toEqual(expected);
    });
  }

  it("a virtual environment's prefix comes first and user site-packages are off there", () => {
    // The rule jupyter_core 5 follows (4.x puts the user first unless JUPYTER_PREFER_ENV_PATH is set).
    const venv = path.join(tmp, "venv");
    fs.mkdirSync(venv, { recursive: true });
    fs.writeFileSync(path.join(venv, "pyvenv.cfg"), "home = /usr/bin\ninclude-system-site-packages = false\n");
    const env = { HOME: "/home/u" };
    expect(jupyterPath({ env, home: "/home/u", platform: "linux", pythonPrefix: venv })).toEqual([
      path.join(venv, "share", "jupyter"),
      "/home/u/.local/share/jupyter",
      "/usr/local/share/jupyter",
      "/usr/share/jupyter",
    ]);
  });
});

describe("one Jupyter data path for every user of it", () => {
  it("the installer writes to the first user dir; the runner and the doctor search the same path", async () => {
    expect(userDataDir()).toBe(jupyterDataDir());
    const here = jupyterPath({ pythonPrefix: jupyterPythonPrefix(findJupyter()) });
    expect(runnerPath()).toEqual(here);
    expect(here).toContain(jupyterDataDir());
    const report = await doctor({ webgpuTimeoutMs: 2000 });
    expect(report.jupyter.dataDirs).toEqual(here);
  }, 120_000);

  it("reads sys.prefix from the executable's #! line", () => {
    const exe = path.join(tmp, "bin", "jupyter");
    fs.mkdirSync(path.dirname(exe), { recursive: true });
    fs.writeFileSync(exe, "#!/opt/envs/x/bin/python3.11\nimport sys\n");
    expect(jupyterPythonPrefix(exe, {})).toBe("/opt/envs/x");
    fs.writeFileSync(exe, "#!/usr/bin/env python3\n");
    expect(jupyterPythonPrefix(exe, {})).toBe(tmp);
    expect(jupyterPythonPrefix(undefined, { VIRTUAL_ENV: "/venv" })).toBe("/venv");
    expect(jupyterPythonPrefix(undefined, {})).toBeUndefined();
  });

  it("follows jupyter_core's rules on macOS and Windows too", () => {
    expect(jupyterPath({ env: { JUPYTER_PATH: "/p/" }, home: "/Users/u", platform: "darwin", pythonPrefix: "/opt/homebrew" })).toEqual([
      "/p",
      "/Users/u/Library/Jupyter",
      "/opt/homebrew/share/jupyter",
      "/usr/local/share/jupyter",
      "/usr/share/jupyter",
    ]);
    expect(jupyterDataDir({ env: { APPDATA: "C:\\Users\\u\\AppData\\Roaming" }, platform: "win32", home: "C:\\Users\\u" })).toBe(
      "C:\\Users\\u\\AppData\\Roaming\\jupyter",
    );
    expect(
      jupyterPath({
        env: { APPDATA: "C:\\A", PROGRAMDATA: "C:\\PD", JUPYTER_PATH: "C:\\x\\;D:\\y" },
        platform: "win32",
        home: "C:\\Users\\u",
      }),
    ).toEqual(["C:\\x", "D:\\y", "C:\\A\\jupyter", "C:\\PD\\jupyter"]);
  });
});
