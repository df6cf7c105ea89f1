/** The display of listCheckpoints(dir): each checkpoint's step, epoch and time, read from its manifest. */
import { readFileSync } from "fs";
import { join } from "path";
import { MimeBundle, tablesBundle } from "./table";
import type { Cell } from "./table";

export function checkpointsBundle(dir: string, names: readonly string[]): MimeBundle {
  const rows: Cell[][] = names.map((name, i) => {
    let step = "?";
    let epoch = "?";
    let created = "unreadable manifest";
    try {
      const m = JSON.parse(readFileSync(join(dir, name, "manifest.json"), "utf8")) as { step: number; epoch: number; createdAt: string };
      step = String(m.step);
      epoch = String(m.epoch);
      created = m.createdAt;
    } catch {
      // shown as such: listing must not fail on one bad folder
    }
    return [i === 0 ? `${name} (newest)` : name, step, epoch, created];
  });
  return tablesBundle([
    {
      title: `${names.length} checkpoint${names.length === 1 ? "" : "s"} in ${dir}`,
      headers: ["checkpoint", "step", "epoch", "created"],
      rows,
      numeric: [false, true, true, false],
    },
  ]);
}
