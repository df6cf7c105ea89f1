/**
 * Ending a kernel for good. A kernel stuck in native code ignores interrupts and
 * shutdown requests, and mtlkit's supervisor runs the real kernel in a process
 * group of its own, so killing the process the runner started is not enough:
 * the kernel and whatever it spawned (a shell, `sleep`) would live on as
 * orphans. This kills every process group found under the launched process.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";

export interface ProcessEntry {
  pid: number;
  ppid: number;
  pgid: number;
  /** Dead, waiting only for its parent to reap it. */
  zombie: boolean;
}

/** Every process on the machine with its parent and process group (Linux /proc, else `ps`). */
export function listProcesses(): ProcessEntry[] {
  if (fs.existsSync("/proc/self/stat")) {
    const out: ProcessEntry[] = [];
    for (const name of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]), zombie: fields[0] === "Z" });
    }
    return out;
  }
  const text = execFileSync("ps", ["-A", "-o", "pid=,ppid=,pgid=,stat="], { encoding: "utf8" });
  return text
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length === 4 && f.slice(0, 3).every((x) => Number.isInteger(Number(x))))
    .map(([pid, ppid, pgid, stat]) => ({ pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), zombie: stat.startsWith("Z") }));
}

/** `root` and all its descendants. */
export function processTree(root: number, all: ProcessEntry[] = listProcesses()): ProcessEntry[] {
  const children = new Map<number, ProcessEntry[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const self = all.find((p) => p.pid === root);
  const found: ProcessEntry[] = self ? [self] : [];
  for (let i = 0; i < found.length; i++) found.push(...(children.get(found[i].pid) ?? []));
  return found;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // already gone
  }
}

/**
 * SIGKILL `root`, its descendants and every process in their process groups
 * (never this process's own group), plus `knownGroups` seen earlier (in case
 * `root` is already gone and its children were reparented), then check until none is left.
 * Resolves with the pids still alive after `waitMs` (normally none).
 */
export async function killProcessTree(root: number, knownGroups: Iterable<number> = [], waitMs = 5000): Promise<number[]> {
  const all = listProcesses();
  const ownGroup = all.find((p) => p.pid === process.pid)?.pgid;
  const tree = processTree(root, all);
  const groups = new Set([...tree.map((p) => p.pgid), ...knownGroups].filter((g) => g > 1 && g !== ownGroup));
  const pids = new Set(tree.map((p) => p.pid));
  // The launched process first, so that a supervisor cannot start a replacement kernel.
  signal(root, "SIGKILL");
  const deadline = Date.now() + waitMs;
  for (;;) {
    for (const g of groups) signal(-g, "SIGKILL");
    for (const pid of pids) signal(pid, "SIGKILL");
    // Children reparented to init keep their group: look them up by group, not by parent.
    const alive = listProcesses().filter((p) => pids.has(p.pid) || groups.has(p.pgid));
    const living = alive.filter((p) => !p.zombie);
    if (living.length === 0) return [];
    if (Date.now() > deadline) return living.map((p) => p.pid);
    for (const p of living) pids.add(p.pid);
    await new Promise((r) => setTimeout(r, 50));
  }
}
