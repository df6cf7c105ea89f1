/**
 * Kernel latency benchmark (not a timed test): for mtlkit, tslab and IPython in
 * the same run, the time from launch to the first kernel_info_reply ("ready"),
 * the first cell after ready (mtlkit builds its compiler then), and the median
 * and p90 round trip of a trivial cell (request -> execute_reply).
 *
 *   npm run build && node dist/test/bench/kernel-latency.js [--cells N] [--runs R] [--startup-variants]
 *
 * MTLKIT_BENCH_KERNELS=name1,name2 adds installed kernelspecs (e.g. an older build) to the same run.
 * Needs the mtlkit kernelspec or none (the built-in one is used), tslab from
 * node_modules, and /usr/bin/python3 with ipykernel (skipped with a note when absent).
 */
import * as fs from "fs";
import * as path from "path";
import { KernelClient } from "../../kernel/runner/client";
import { FoundKernelSpec, findKernelSpec } from "../../kernel/runner/kernelspec";

const REPO = path.resolve(__dirname, "..", "..", "..");

interface Row {
  kernel: string;
  ready: number[];
  firstCell: number[];
  roundTrips: number[];
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
      label: "mtlkit, no code cache, full built-in docs",
      code: "1 + 1",
      spec: { ...base, env: { ...base.env, MTLKIT_CODE_CACHE: "0", MTLKIT_KERNEL_DOCS: "1" } },
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
  const kernels = specs();
  for (let run = 0; run < runs; run++) {
    for (const k of kernels) {
      const row = rows.get(k.label) ?? { kernel: k.label, ready: [], firstCell: [], roundTrips: [] };
      rows.set(k.label, row);
      await measure(k.label, k.spec, k.code, cells, row);
    }
  }
  const lines = [
    `| kernel | ready (s, median of ${runs}) | first cell after ready (s) | trivial cell round trip median (ms) | p90 (ms) |`,
    "|---|---|---|---|---|",
  ];
  for (const r of rows.values()) {
    if (r.ready.length === 0) {
      lines.push(`| ${r.kernel} | failed | | | |`);
      continue;
    }
    lines.push(
      `| ${r.kernel} | ${quantile(r.ready, 0.5).toFixed(2)} | ${quantile(r.firstCell, 0.5).toFixed(2)} | ` +
        `${quantile(r.roundTrips, 0.5).toFixed(1)} | ${quantile(r.roundTrips, 0.9).toFixed(1)} |`,
    );
  }
  console.log(lines.join("\n"));
  console.log("\ntargets: mtlkit ready <= 1.5 s, round trip median <= 50 ms");
}

void main();
