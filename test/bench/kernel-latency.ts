/**
 * Kernel latency benchmark (not a timed test): for mtlkit, tslab and IPython in
 * the same run, the time from launch to the first kernel_info_reply ("ready"),
 * the first cell after ready (mtlkit builds its compiler then), and the median
 * and p90 round trip of a trivial cell (request -> execute_reply).
 *
 *   npm run build && node dist/test/bench/kernel-latency.js [--cells N] [--runs R] [--startup-variants]
 *
 * It also reports the CPU time the kernel's processes (the launched process and its descendants) used
 * from launch to the first result, which a busy machine distorts less than the wall clock. mtlkit's
 * start-up snapshot (kernel/snapshot.ts) is built first if missing, so that every run measures it;
 * --startup-variants adds the kernel without it (and without the code cache and doc stripping).
 *
 * MTLKIT_BENCH_KERNELS=name1,name2 adds installed kernelspecs (e.g. an older build) to the same run.
 * Needs the mtlkit kernelspec or none (the built-in one is used), tslab from
 * node_modules, and /usr/bin/python3 with ipykernel (skipped with a note when absent).
 */
import * as fs from "fs";
import * as path from "path";
import * as os from "os";
import { KernelClient } from "../../kernel/runner/client";
import { FoundKernelSpec, findKernelSpec } from "../../kernel/runner/kernelspec";

const REPO = path.resolve(__dirname, "..", "..", "..");

interface Row {
  kernel: string;
  ready: number[];
  firstCell: number[];
  /** CPU seconds of the kernel's process tree from launch to the first result. */
  cpu: number[];
  roundTrips: number[];
}

const TICK = 100; // USER_HZ: /proc's clock ticks per second on Linux

/** CPU seconds (user + system) used so far by `pid` and its descendants, from /proc; NaN elsewhere. */
function treeCpuSeconds(pid: number | undefined): number {
  if (pid === undefined || os.platform() !== "linux") return Number.NaN;
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
      // after the command: state ppid … utime (14th field overall, index 11 here) stime
      stats.set(Number(name), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  let ticks = 0;
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop() as number;
    ticks += stats.get(p)?.ticks ?? 0;
    for (const [child, st] of stats) if (st.ppid === p) todo.push(child);
  }
  return ticks / TICK;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))];
}

function specs(): { label: string; spec: FoundKernelSpec; code: string }[] {
  const out: { label: string; spec: FoundKernelSpec; code: string }[] = [
    { label: "mtlkit", spec: findKernelSpec("mtlkit"), code: "1 + 1" },
  ];
  if (process.argv.includes("--startup-variants")) {
    // The same kernel without its start-up shortcuts (kernel/README.md "Start-up"), measured in the same run.
    const base = findKernelSpec("mtlkit");
    out.push({
      label: "mtlkit, no snapshot",
      code: "1 + 1",
      spec: { ...base, env: { ...base.env, MTLKIT_KERNEL_SNAPSHOT: "0" } },
    });
    out.push({
      label: "mtlkit, no snapshot, no code cache, full built-in docs",
      code: "1 + 1",
      spec: { ...base, env: { ...base.env, MTLKIT_KERNEL_SNAPSHOT: "0", MTLKIT_CODE_CACHE: "0", MTLKIT_KERNEL_DOCS: "1" } },
    });
  }
  // Other installed kernelspecs to measure in the same run (e.g. an older build of mtlkit), comma-separated.
  for (const name of (process.env.MTLKIT_BENCH_KERNELS ?? "").split(",").filter(Boolean)) {
    out.push({ label: name, spec: findKernelSpec(name), code: "1 + 1" });
  }
  const tslab = path.join(REPO, "node_modules", ".bin", "tslab");
  if (fs.existsSync(tslab)) {
    out.push({
      label: "tslab 1.0.22",
      code: "1 + 1",
      spec: {
        name: "tslab",
        dir: REPO,
        argv: [tslab, "kernel", "--config-path", "{connection_file}"],
        display_name: "tslab",
        language: "typescript",
        interrupt_mode: "signal",
        env: {},
      },
    });
  }
  try {
    out.push({ label: "IPython (python3)", spec: findKernelSpec("python3"), code: "1 + 1" });
  } catch {
    console.error("note: no python3 kernelspec; IPython is left out");
  }
  return out;
}

async function measure(label: string, spec: FoundKernelSpec, code: string, cells: number, row: Row): Promise<void> {
  const client = new KernelClient(spec, path.join(REPO, "notebooks"));
  const t0 = performance.now();
  try {
    await client.start();
    row.ready.push((performance.now() - t0) / 1000);
    const first = await client.execute(code);
    row.firstCell.push(first.replyMs / 1000);
    row.cpu.push(treeCpuSeconds(client.pid));
    for (let i = 0; i < cells; i++) {
      const r = await client.execute(code);
      row.roundTrips.push(r.replyMs);
    }
  } catch (e) {
    console.error(`${label}: ${(e as Error).message.split("\n")[0]}`);
  } finally {
    await client.shutdown();
  }
}

async function main(): Promise<void> {
  const cells = arg("cells", 30);
  const runs = arg("runs", 3);
  const rows = new Map<string, Row>();
  // mtlkit's start-up snapshot, as `mtlkit kernel install` builds it: every run then measures it.
  const { ensureSnapshot } = await import("../../kernel/snapshot");
  const blob = ensureSnapshot(undefined, path.join(REPO, "notebooks"));
  console.error(blob ? `mtlkit start-up snapshot: ${blob}` : "note: no mtlkit start-up snapshot (off or failed)");
  const kernels = specs();
  const load0 = os.loadavg()[0];
  for (let run = 0; run < runs; run++) {
    for (const k of kernels) {
      const row = rows.get(k.label) ?? { kernel: k.label, ready: [], firstCell: [], cpu: [], roundTrips: [] };
      rows.set(k.label, row);
      await measure(k.label, k.spec, k.code, cells, row);
    }
  }
  const lines = [
    `| kernel | ready (s, median of ${runs}) | first cell after ready (s) | launch to first result (s, median, min–max) | CPU to first result (s) | trivial cell round trip median (ms) | p90 (ms) |`,
    "|---|---|---|---|---|---|---|",
  ];
  for (const r of rows.values()) {
    if (r.ready.length === 0) {
      lines.push(`| ${r.kernel} | failed | | | | | |`);
      continue;
    }
    const total = r.ready.map((x, i) => x + (r.firstCell[i] ?? Number.NaN));
    lines.push(
      `| ${r.kernel} | ${quantile(r.ready, 0.5).toFixed(2)} | ${quantile(r.firstCell, 0.5).toFixed(2)} | ` +
        `${quantile(total, 0.5).toFixed(2)} (${Math.min(...total).toFixed(2)}–${Math.max(...total).toFixed(2)}) | ${quantile(r.cpu, 0.5).toFixed(2)} | ` +
        `${quantile(r.roundTrips, 0.5).toFixed(1)} | ${quantile(r.roundTrips, 0.9).toFixed(1)} |`,
    );
  }
  console.log(lines.join("\n"));
  console.log(
    `\nload average (1 min): ${load0.toFixed(2)} at the start, ${os.loadavg()[0].toFixed(2)} at the end (${os.cpus().length} CPUs)`,
  );
  console.log("targets: mtlkit ready <= 1.5 s, launch to first result <= 1.0 s, round trip median <= 50 ms");
}

void main();
