/** Find installed kernelspecs the way jupyter_client does, without Python. */
import * as fs from "fs";
import * as path from "path";
import { installedJupyterPath } from "../../lib/util/jupyterPaths";
import { DEFAULT_KERNEL_NAME, kernelSpec } from "../install";

export interface FoundKernelSpec {
  name: string;
  dir: string;
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal" | "message";
  env: Record<string, string>;
}

/** Jupyter data dirs in priority order: JUPYTER_PATH, user, environment, system (lib/util/jupyterPaths.ts). */
export function jupyterPath(): string[] {
  return installedJupyterPath();
}

export function findKernelSpec(name: string): FoundKernelSpec {
  const searched: string[] = [];
  for (const base of jupyterPath()) {
    const dir = path.join(base, "kernels", name);
    const file = path.join(dir, "kernel.json");
    searched.push(dir);
    if (!fs.existsSync(file)) continue;
    const spec = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<FoundKernelSpec>;
    if (!Array.isArray(spec.argv) || spec.argv.length === 0) throw new Error(`${file}: argv is missing`);
    return {
      name,
      dir,
      argv: spec.argv.map(String),
      display_name: spec.display_name ?? name,
      language: spec.language ?? "",
      interrupt_mode: spec.interrupt_mode === "message" ? "message" : "signal",
      env: spec.env ?? {},
    };
  }
  // Not installed: this very package's kernel is runnable anyway.
  if (name === DEFAULT_KERNEL_NAME) return ownKernelSpec();
  throw new Error(`no kernelspec named "${name}" (looked in ${searched.join(", ")}); try \`mtlkit kernel install\``);
}

/**
 * This installation's own kernel, launched from this package's compiled CLI, whatever
 * kernelspecs (perhaps another checkout's "mtlkit") are installed.
 */
export function ownKernelSpec(): FoundKernelSpec {
  // From dist/kernel/runner that is dist/kernel/cli.js; from the TypeScript sources (tests), the build's.
  const candidates = [path.join(__dirname, "..", "cli.js"), path.join(__dirname, "..", "..", "dist", "kernel", "cli.js")];
  const cli = candidates.find((c) => fs.existsSync(c));
  if (!cli) throw new Error(`mtlkit's kernel is not built (looked for ${candidates.join(", ")}); run \`npm run build\``);
  return { name: DEFAULT_KERNEL_NAME, dir: path.dirname(cli), ...kernelSpec(cli) };
}
