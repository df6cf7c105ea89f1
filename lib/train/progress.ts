/**
 * Training progress. In a terminal it redraws one line on stderr (a line per epoch when stderr is
 * not a TTY); in a notebook whose kernel installed the `Symbol.for("mtlkit.display")` hook it
 * updates one display in place (update_display_data).
 *
 * A fast loop calls `update` thousands of times a second; a frontend cannot take that (Jupyter's
 * server drops IOPub messages past ~1000/s, and the drops include the cell's result). So the
 * display redraws at most every `PROGRESS_INTERVAL_MS`, and `close` draws the last state it was
 * given when that was held back: the display always ends on the final state.
 */
export type DisplayHook = (bundle: Record<string, unknown>, options?: { displayId?: string; update?: boolean }) => void;

export function notebookDisplay(): DisplayHook | undefined {
  const hook = (globalThis as Record<symbol, unknown>)[Symbol.for("mtlkit.display")];
  return typeof hook === "function" ? (hook as DisplayHook) : undefined;
}

/** The shortest time between two redraws of a progress display (at most 10 a second). */
export const PROGRESS_INTERVAL_MS = 100;

export interface ProgressState {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  losses: Record<string, number>;
  validation?: Record<string, number>;
  elapsedSeconds: number;
  /** Share of the run done, 0..1 (1 once the last step and epoch are done); else estimated from epoch and step. */
  fraction?: number;
}

export interface Progress {
  update(state: ProgressState, epochDone: boolean): void;
  /** Ends the display on the last state given to `update`. */
  close(): void;
}

function describe(state: ProgressState): string {
  const fmt = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
      .join("  ");
  const val = state.validation ? `  | val ${fmt(state.validation)}` : "";
  const rate = state.elapsedSeconds > 0 ? ` ${(state.step / state.elapsedSeconds).toFixed(1)} steps/s` : "";
  return `epoch ${state.epoch + 1}/${state.epochs}  step ${state.step}${rate}  | loss ${fmt(state.losses)}${val}`;
}

/** The share done: the trainer's own count when it gives one, else from the epoch and step. */
export function progressFraction(state: ProgressState, epochDone: boolean): number {
  if (state.fraction !== undefined) return state.fraction;
  const perEpoch = Math.max(state.stepsPerEpoch, 1);
  return (state.epoch + (epochDone ? 1 : (state.step % perEpoch) / perEpoch)) / state.epochs;
}

function bar(fraction: number, width = 30): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

/**
 * Calls `draw` at most once per `intervalMs`; `flush` draws the newest held-back state.
 * `now` is injectable for tests.
 */
export function throttled<T>(
  draw: (value: T) => void,
  intervalMs: number,
  now: () => number = Date.now,
): { offer(value: T, force?: boolean): void; flush(): void } {
  let last = -Infinity;
  let held: { value: T } | null = null;
  return {
    offer(value, force = false) {
      const t = now();
      if (!force && t - last < intervalMs) {
        held = { value };
        return;
      }
      held = null;
      last = t;
      draw(value);
    },
    flush() {
      if (!held) return;
      const { value } = held;
      held = null;
      last = now();
      draw(value);
    },
  };
}

let displayCounter = 0;

/** A progress reporter for where the code runs; `false` gives a silent one. */
export function createProgress(enabled: boolean): Progress {
  if (!enabled) return { update() {}, close() {} };
  const display = notebookDisplay();
  if (display) {
    const displayId = `mtlkit-progress-${process.pid}-${++displayCounter}-${Date.now()}`;
    let first = true;
    const redraw = throttled(({ state, epochDone }: { state: ProgressState; epochDone: boolean }) => {
      const fraction = progressFraction(state, epochDone);
      const text = describe(state);
      const html = `<div style="font-family:monospace"><progress value="${fraction.toFixed(4)}" max="1" style="width:240px"></progress> ${escapeHtml(text)}</div>`;
      display({ "text/plain": `${bar(fraction)} ${text}`, "text/html": html }, { displayId, update: !first });
      first = false;
    }, PROGRESS_INTERVAL_MS);
    return {
      update: (state, epochDone) => redraw.offer({ state, epochDone }),
      close: () => redraw.flush(),
    };
  }
  const tty = Boolean(process.stderr.isTTY);
  let lineOpen = false; // a step line is drawn without its newline
  const redraw = throttled(({ state, epochDone }: { state: ProgressState; epochDone: boolean }) => {
    const line = `${bar(progressFraction(state, epochDone), 20)} ${describe(state)}`;
    process.stderr.write(`\r\x1b[2K${line}${epochDone ? "\n" : ""}`);
    lineOpen = !epochDone;
  }, PROGRESS_INTERVAL_MS);
  return {
    update(state, epochDone) {
      if (tty) redraw.offer({ state, epochDone }, epochDone);
      else if (epochDone) process.stderr.write(`${bar(progressFraction(state, true), 20)} ${describe(state)}\n`);
    },
    close: () => {
      if (!tty) return;
      redraw.flush();
      if (lineOpen) process.stderr.write("\n");
      lineOpen = false;
    },
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}
