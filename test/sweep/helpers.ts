/** Shared by the sweep tests: fixture paths, the worker processes a sweep owner started, waiting. */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const root = join(__dirname, "..", "..");
export const fixtures = join(__dirname, "fixtures");
export const runsModule = join(fixtures, "runs.js");
export const trainModule = join(fixtures, "train.js");
export const cli = join(root, "dist", "kernel", "cli.js");

/** Pids of live processes whose arguments carry --sweep-owner=OWNER (the worker processes of that owner). */
export function workerProcessesOf(owner: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(join("/proc", entry, "cmdline"), "utf8").split("\0");
      if (!args.includes(`--sweep-owner=${owner}`)) continue;
      const status = readFileSync(join("/proc", entry, "status"), "utf8");
      if (/^State:\s+Z/m.test(status)) continue; // a zombie has exited
      out.push(Number(entry));
    } catch {
      // the process ended while being read
    }
  }
  return out;
}

/** Polls `condition` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return condition();
}

/** The records in a results file (lines after the header); none while the file does not exist. */
export function recordsIn(
  file: string,
): Array<{ run: string; status: string; worker: string; label: string; error?: { kind: string; message: string } }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}
