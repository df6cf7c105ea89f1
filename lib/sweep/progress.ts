/**
 * A sweep's progress: runs done, running and failed, and the time left. In a notebook (the mtlkit
 * kernel's display hook) one display is updated in place (update_display_data, at most every
 * 100 ms, always ending on the final state); in a terminal one line is redrawn on stderr, and
 * where stderr is not a terminal (CI logs, files) one line is written per finished run.
 */
import { escapeHtml } from "../display/table";
import { notebookDisplay, PROGRESS_INTERVAL_MS, throttled } from "../train/progress";

/** Where a sweep stands, as its progress display shows it (and `describeProgress` words it). */
export interface SweepProgressState {
  /** Runs in the sweep. */
  total: number;
  /** Runs with a result: finished earlier (found in the results file) or now. */
  done: number;
  /** Of `done`, how many failed. */
  failed: number;
  /** Runs running now. */
  running: number;
  /** Of `done`, how many were found finished in the results file. */
  resumed: number;
  /** Seconds since this call started. */
  elapsedSeconds: number;
  /** Estimated from this session's pace; undefined until a run finished. */
  secondsLeft?: number;
  /** Where the runs run, e.g. "2 worker processes" or "queue redis://…". */
  where: string;
}

export interface SweepProgress {
  /** Redraws with this state; `event` is one finished run's line (for logs). */
  update(state: SweepProgressState, event?: string): void;
  close(): void;
}

/** "1 min 05 s", "12 s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** One line: "12/40 done (1 failed), 2 running · 35 s elapsed, about 1 min 20 s left · 2 worker processes". */
export function describeProgress(s: SweepProgressState): string {
  const failed = s.failed > 0 ? ` (${s.failed} failed)` : "";
  const resumed = s.resumed > 0 ? `, ${s.resumed} from the results file` : "";
  const left =
    s.done >= s.total ? "" : s.secondsLeft === undefined ? ", time left: after the first run" : `, about ${duration(s.secondsLeft)} left`;
  return `${s.done}/${s.total} done${failed}${resumed}, ${s.running} running · ${duration(s.elapsedSeconds)} elapsed${left} · ${s.where}`;
}

function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

let counter = 0;

export function createSweepProgress(enabled: boolean): SweepProgress {
  if (!enabled) return { update() {}, close() {} };
  const display = notebookDisplay();
  if (display) {
    const displayId = `mtlkit-sweep-${process.pid}-${++counter}-${Date.now()}`;
    let first = true;
    const redraw = throttled((s: SweepProgressState) => {
      const fraction = s.total > 0 ? s.done / s.total : 1;
      const text = describeProgress(s);
      const html =
        `<div style="font-family:monospace"><progress value="${fraction.toFixed(4)}" max="1" style="width:240px"></progress> ` +
        `sweep: ${escapeHtml(text)}</div>`;
      display({ "text/plain": `${bar(fraction, 30)} sweep: ${text}`, "text/html": html }, { displayId, update: !first });
      first = false;
    }, PROGRESS_INTERVAL_MS);
    return { update: (s) => redraw.offer(s), close: () => redraw.flush() };
  }
  const tty = Boolean(process.stderr.isTTY);
  if (!tty) {
    return {
      update(s, event) {
        if (event) process.stderr.write(`[${s.done}/${s.total}] ${event}\n`);
      },
      close() {},
    };
  }
  let last: SweepProgressState | undefined;
  const draw = (s: SweepProgressState) =>
    process.stderr.write(`\r\x1b[2K${bar(s.total ? s.done / s.total : 1, 20)} ${describeProgress(s)}`);
  const redraw = throttled(draw, PROGRESS_INTERVAL_MS);
  return {
    update(s, event) {
      last = s;
      // Failures get a line of their own, so they stay on screen.
      if (event?.startsWith("failed")) process.stderr.write(`\r\x1b[2K${event}\n`);
      redraw.offer(s, Boolean(event));
    },
    close() {
      redraw.flush();
      if (last) process.stderr.write("\n");
    },
  };
}
