/**
 * Training progress. In a terminal it redraws one line on stderr (a line per epoch when stderr is
 * not a TTY); in a notebook whose kernel installed the `Symbol.for("mtlkit.display")` hook it
 * updates one display in place (update_display_data).
 */
export type DisplayHook = (bundle: Record<string, unknown>, options?: { displayId?: string; update?: boolean }) => void;

export function notebookDisplay(): DisplayHook | undefined {
  const hook = (globalThis as Record<symbol, unknown>)[Symbol.for("mtlkit.display")];
  return typeof hook === "function" ? (hook as DisplayHook) : undefined;
}

export interface ProgressState {
  epoch: number;
  epochs: number;
  step: number;
  stepsPerEpoch: number;
  losses: Record<string, number>;
  validation?: Record<string, number>;
  elapsedSeconds: number;
}

export interface Progress {
  update(state: ProgressState, epochDone: boolean): void;
  close(): void;
}

function describe(state: ProgressState): string {
  const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v.toPrecision(4)}`).join("  ");
  const val = state.validation ? `  | val ${fmt(state.validation)}` : "";
  const rate = state.elapsedSeconds > 0 ? ` ${(state.step / state.elapsedSeconds).toFixed(1)} steps/s` : "";
  return `epoch ${state.epoch + 1}/${state.epochs}  step ${state.step}${rate}  | loss ${fmt(state.losses)}${val}`;
}

function bar(fraction: number, width = 30): string {
  const filled = Math.round(Math.min(Math.max(fraction, 0), 1) * width);
  return "█".repeat(filled) + "░".repeat(width - filled);
}

let displayCounter = 0;

/** A progress reporter for where the code runs; `false` gives a silent one. */
export function createProgress(enabled: boolean): Progress {
  if (!enabled) return { update() {}, close() {} };
  const display = notebookDisplay();
  if (display) {
    const displayId = `mtlkit-progress-${process.pid}-${++displayCounter}-${Date.now()}`;
    let first = true;
    return {
      update(state) {
        const fraction = (state.epoch + (state.step % Math.max(state.stepsPerEpoch, 1)) / Math.max(state.stepsPerEpoch, 1)) / state.epochs;
        const text = describe(state);
        const html = `<div style="font-family:monospace"><progress value="${fraction.toFixed(4)}" max="1" style="width:240px"></progress> ${escapeHtml(text)}</div>`;
        display({ "text/plain": `${bar(fraction)} ${text}`, "text/html": html }, { displayId, update: !first });
        first = false;
      },
      close() {},
    };
  }
  const tty = Boolean(process.stderr.isTTY);
  let lastDraw = 0;
  return {
    update(state, epochDone) {
      const now = Date.now();
      if (tty && !epochDone && now - lastDraw < 100) return;
      lastDraw = now;
      const fraction = (state.epoch + (epochDone ? 1 : (state.step % state.stepsPerEpoch) / state.stepsPerEpoch)) / state.epochs;
      const line = `${bar(fraction, 20)} ${describe(state)}`;
      if (tty) process.stderr.write(`\r\x1b[2K${line}${epochDone ? "\n" : ""}`);
      else if (epochDone) process.stderr.write(`${line}\n`);
    },
    close() {},
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}
