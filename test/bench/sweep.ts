/**
 * Sweep speed-up from 1 to N worker processes: the same sweep of small CPU-bound trainings
 * (sweepRun.ts: 8 runs, 4 configurations × 2 seeds) run with 1 worker and with N, alternating,
 * for several rounds. Reported per worker count: the median wall time of the whole sweep (worker
 * start-up, the Trainer check and every run), the CPU time all its processes used, and the
 * speed-up (median of the per-round ratios 1-worker time / N-worker time, measured side by side).
 * Also the runs' critical path in CPU time: the CPU seconds of the runs on the busiest worker
 * process, which is what the runs take on idle cores; its ratio is the speed-up a quiet machine
 * would show for the runs (start-up aside), measurable on a loaded one. Native kernels run one
 * thread per worker in both cases, so the speed-up is the processes' own.
 *
 *   npm run build && node dist/test/bench/sweep.js [--workers=2] [--rounds=3] [--epochs=40] [--json=PATH]
 */
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import * as mtl from "../../lib";
import { writeFileAtomic } from "../../lib/util/fsAtomic";

function flag(name: string, fallback: string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

/** CPU seconds of this process and of its children that have exited (Linux: /proc/self/stat utime, stime, cutime, cstime). */
function cpuSeconds(): number {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i]), 0);
  return ticks / 100;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

interface Timing {
  /** Wall time of the whole sweep. */
  wall: number;
  /** CPU time of all its processes (start-up included). */
  cpu: number;
  /** CPU time of the runs alone, per worker process: the busiest one is the sweep's critical path on idle cores. */
  runCpuByWorker: Map<string, number>;
}

async function timeSweep(workers: number, epochs: number): Promise<Timing> {
  const definition = { run: join(__dirname, "sweepRun.js"), grid: { width: [64, 96, 128, 160], epochs: [epochs] }, seeds: 2 };
  const cpu0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  const result = await mtl.sweep.run(definition, { workers, threadsPerWorker: 1, progress: false });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (result.failed.length > 0) throw new Error(`runs failed: ${result.failed.map((r) => r.error?.message).join("; ")}`);
  const runCpuByWorker = new Map<string, number>();
  for (const r of result.records) runCpuByWorker.set(r.worker, (runCpuByWorker.get(r.worker) ?? 0) + (r.cpuSeconds ?? NaN));
  return { wall, cpu: cpuSeconds() - cpu0, runCpuByWorker };
}

async function main(): Promise<void> {
  const workers = Number(flag("workers", "2"));
  const rounds = Number(flag("rounds", "3"));
  const epochs = Number(flag("epochs", "40"));
  const json = flag("json", "");
  const one: Timing[] = [];
  const many: Timing[] = [];
  const loads: number[] = [];
  await timeSweep(1, 1); // warm the file cache: the first process start reads tfjs from disk
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so a drift in machine load hits both alike.
    const order = r % 2 === 0 ? [1, workers] : [workers, 1];
    for (const w of order) {
      const t = await timeSweep(w, epochs);
      (w === 1 ? one : many).push(t);
      loads.push(loadavg()[0]);
      console.error(`round ${r + 1}: ${w} worker${w === 1 ? "" : "s"}: ${t.wall.toFixed(2)} s wall, ${t.cpu.toFixed(2)} s CPU`);
    }
  }
  const ratios = one.map((t, i) => t.wall / many[i].wall);
  // On idle cores the workers run side by side, so the runs take as long as the busiest worker's share.
  const busiest = (t: Timing) => Math.max(...t.runCpuByWorker.values());
  const cpuRatios = one.map((t, i) => busiest(t) / busiest(many[i]));
  const summary = {
    cores: availableParallelism(),
    runs: 8,
    epochs,
    rounds,
    loadAverage: { min: Math.min(...loads), max: Math.max(...loads) },
    oneWorker: { wallSeconds: median(one.map((t) => t.wall)), cpuSeconds: median(one.map((t) => t.cpu)) },
    [`${workers}Workers`]: { wallSeconds: median(many.map((t) => t.wall)), cpuSeconds: median(many.map((t) => t.cpu)) },
    speedUp: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    runsCriticalPathSpeedUp: { median: median(cpuRatios), min: Math.min(...cpuRatios), max: Math.max(...cpuRatios) },
  };
  console.log(
    `sweep of 8 trainings (4 widths (64–160) × 2 seeds, ${epochs} epochs each), ${rounds} rounds, ${summary.cores} cores, load average ${summary.loadAverage.min.toFixed(1)}–${summary.loadAverage.max.toFixed(1)}`,
  );
  console.log("| workers | median wall s | median CPU s (all processes) | median CPU s of the runs, busiest worker |");
  console.log("|---:|---:|---:|---:|");
  console.log(
    `| 1 | ${summary.oneWorker.wallSeconds.toFixed(2)} | ${summary.oneWorker.cpuSeconds.toFixed(2)} | ${median(one.map(busiest)).toFixed(2)} |`,
  );
  console.log(
    `| ${workers} | ${median(many.map((t) => t.wall)).toFixed(2)} | ${median(many.map((t) => t.cpu)).toFixed(2)} | ${median(many.map(busiest)).toFixed(2)} |`,
  );
  console.log(
    `wall-time speed-up 1 → ${workers} workers: ${summary.speedUp.median.toFixed(2)}× (per-round ratios ${ratios.map((x) => x.toFixed(2)).join(", ")})`,
  );
  console.log(
    `critical-path speed-up of the runs (CPU time of the busiest worker): ${summary.runsCriticalPathSpeedUp.median.toFixed(2)}× (per round ${cpuRatios.map((x) => x.toFixed(2)).join(", ")})`,
  );
  if (json) writeFileAtomic(json, JSON.stringify(summary, null, 2), 0o644);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
