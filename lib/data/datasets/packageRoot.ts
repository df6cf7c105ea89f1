/** The folder of mtlkit's own package.json, found by walking up from this file (lib/ or dist/lib/). */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { MtlError } from "../../errors";

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        if (JSON.parse(readFileSync(pkg, "utf8")).name === "mtlkit") return (cached = dir);
      } catch {
        // Not ours or unreadable: keep walking up.
      }
    }
    const up = dirname(dir);
    if (up === dir)
      throw new MtlError("mtlkit's data files", `mtlkit's package.json was not found above ${__dirname} (a broken install?).`);
    dir = up;
  }
}
