/**
 * Old tree against new tree, interleaved: runs `train-throughput.js` of two built trees (each a
 * checkout with dist/) as alternating child processes, one bench round per process, swapping which
 * goes first every round, and prints per backend and model the ratio new/old of samples/s, taken
 * per round, as median (min–max), with both trees' medians. Arguments after the two trees go to
 * train-throughput unchanged (e.g. --backends=wasm,wasm+native --no-torch --clock=cpu).
 *
 *   node dist/test/bench/old-vs-new.js OLD_TREE NEW_TREE [--pairs=N] [--json=PATH] [bench flags…]
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

interface BenchJson {
  results: Array<{ backend: string; models: Array<{ model: string; samplesPerSec: { median: number } }> }>;
}

function rates(file: string): Map<string, number> {
  const data = JSON.parse(fs.readFileSync(file, "utf8")) as BenchJson;
  const out = new Map<string, number>();
  for (const r of data.results) for (const m of r.models) out.set(`${r.backend} | ${m.model}`, m.samplesPerSec.median);
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function main(): void {
  const args = process.argv.slice(2);
  const trees = args.filter((a) => !a.startsWith("--"));
  if (trees.length !== 2) throw new Error("old-vs-new: give two built trees: OLD_TREE NEW_TREE [--pairs=N] [--json=PATH] [bench flags]");
  const own = new Map(args.filter((a) => /^--(pairs|json)=/.test(a)).map((a) => a.slice(2).split("=") as [string, string]));
  const pairs = Number(own.get("pairs") ?? 6);
  const benchFlags = args.filter((a) => a.startsWith("--") && !/^--(pairs|json)=/.test(a));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-old-vs-new-"));
  const runs: Record<"old" | "new", Array<Map<string, number>>> = { old: [], new: [] };
  for (let p = 0; p < pairs; p++) {
    const order: Array<"old" | "new"> = p % 2 === 0 ? ["old", "new"] : ["new", "old"];
    for (const which of order) {
      const tree = which === "old" ? trees[0] : trees[1];
      const json = path.join(dir, `${which}-${p}.json`);
      execFileSync(
        process.execPath,
        [path.join(tree, "dist/test/bench/train-throughput.js"), "--rounds=1", ...benchFlags, `--json=${json}`],
        {
          stdio: ["ignore", "ignore", "inherit"],
        },
      );
      runs[which].push(rates(json));
      process.stderr.write(`pair ${p + 1}/${pairs}: ${which} done\n`);
    }
  }
  const rows: Array<{ key: string; old: number; new: number; ratio: number; min: number; max: number; ratios: number[] }> = [];
  for (const key of runs.new[0].keys()) {
    const ratios = runs.new.map((r, p) => r.get(key)! / runs.old[p].get(key)!).filter((v) => Number.isFinite(v));
    if (ratios.length === 0) continue;
    rows.push({
      key,
      old: median(runs.old.map((r) => r.get(key)!)),
      new: median(runs.new.map((r) => r.get(key)!)),
      ratio: median(ratios),
      min: Math.min(...ratios),
      max: Math.max(...ratios),
      ratios,
    });
  }
  console.log(`| backend | model | old samples/s | new samples/s | new/old (median, min–max over ${pairs} pairs) |`);
  console.log("|---|---|---:|---:|---:|");
  for (const r of rows) {
    const [backend, model] = r.key.split(" | ");
    console.log(
      `| ${backend} | ${model} | ${r.old.toFixed(0)} | ${r.new.toFixed(0)} | ${r.ratio.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)}) |`,
    );
  }
  const out = own.get("json");
  if (out) fs.writeFileSync(out, JSON.stringify({ trees, pairs, benchFlags, rows }, null, 2));
  fs.rmSync(dir, { recursive: true, force: true });
}

main();
