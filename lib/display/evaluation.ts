/** The display of evaluate() / trainer.evaluate(): every metric of every task, ↑ or ↓ better. */
import type { Evaluation } from "../eval/evaluate";
import { fmt, MimeBundle, tablesBundle } from "./table";

export function evaluationBundle(ev: Evaluation): MimeBundle {
  const tasks = Object.values(ev.tasks);
  const rows = ev.rows.map((r, i) => [
    i === 0 || ev.rows[i - 1].task !== r.task ? r.task : "",
    r.metric,
    fmt(r.value),
    r.higherIsBetter ? "↑" : "↓",
  ]);
  const examples = tasks
    .map(
      (t) =>
        `${t.task}: ${t.labelled !== undefined && t.labelled < t.rows ? `${t.labelled} of ${t.rows} rows labelled` : `${t.rows} rows`} (${t.kind})`,
    )
    .join("; ");
  return tablesBundle([
    {
      title: `Evaluation of ${tasks.length} task${tasks.length === 1 ? "" : "s"}`,
      headers: ["task", "metric", "value", "better"],
      rows,
      numeric: [false, false, true, false],
      notes: [examples, "Per-class scores and confusion matrices: .tasks[name]; all rows: .toDataFrame()"],
    },
  ]);
}
