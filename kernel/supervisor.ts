/**
 * The kernel supervisor: the process Jupyter launches. It runs the real kernel
 * as a child process and, when that child dies unexpectedly (the JavaScript
 * heap exhausted, a native crash, a kill from outside), starts a fresh one on
 * the same ports. The fresh kernel answers the cell that was running with an
 * error saying what happened, and the cells queued behind it with "aborted",
 * so a frontend never waits for a reply that cannot come.
 *
 * V8 aborts the whole process when the heap is exhausted; no JavaScript runs
 * after that, so the only place that can report it is another process.
 */
import { ChildProcess, spawn } from "child_process";
import * as path from "path";
import { buildSnapshotInBackground, debugLog, discardBlob, kernelNodeFlags, snapshotsEnabled, usableBlob } from "./snapshot";
import { NOTICE_FD_ENV } from "./supervision";
import type { CrashReport, FromKernel, SerializedMessage, ToKernel } from "./supervision";

export interface SupervisorOptions {
  /** V8 old-space limit for the kernel, in MiB (node's --max-old-space-size); default: node's own. */
  heapMb?: number;
  /** Crashes allowed within `crashWindowMs` before giving up (default 5 in 60 s). */
  maxCrashes?: number;
  crashWindowMs?: number;
  log?: (line: string) => void;
}

const STDERR_TAIL = 16_384;
/** The kernel's extra pipe on which its control thread says "shutdown"/"restart" (see control-worker.ts). */
const NOTICE_FD = 4;
/** After a shutdown notice, how long the kernel may take to exit before its group is killed. */
const SHUTDOWN_KILL_MS = 4000;

export class Supervisor {
  private child: ChildProcess | null = null;
  private stderrTail = "";
  private heapLimitBytes = 0;
  /** Execute requests the kernel has received and not yet answered, in order. */
  private unanswered: { msg: SerializedMessage; executionCount?: number; running: boolean }[] = [];
  private deliberateExit: number | null = null;
  private crashes: number[] = [];
  /** Handed to the next kernel once it says hello (its listener is in place by then). */
  private pendingReport: CrashReport | null = null;
  private stopping = false;
  /** The start-up snapshot (snapshot.ts) the kernel runs from, once checked; null: none. */
  private blob: string | null | undefined;
  /** Whether the current kernel said hello (a kernel from a snapshot that dies before is restarted without it). */
  private helloSeen = false;
  private heldStderr: Buffer[] = [];
  private readonly log: (line: string) => void;

  constructor(
    private readonly connectionFile: string,
    private readonly opts: SupervisorOptions = {},
  ) {
    this.log = opts.log ?? ((line) => void process.stderr.write(`[mtlkit supervisor] ${line}\n`));
  }

  start(): void {
    // Signals meant for the kernel: Jupyter's "signal" interrupt mode and polite termination.
    process.on("SIGINT", () => this.child?.kill("SIGINT"));
    process.on("SIGTERM", () => {
      this.stopping = true;
      if (this.child) this.child.kill("SIGTERM");
      else process.exit(143);
    });
    this.watchParent();
    this.spawnKernel(null);
  }

  /**
   * When the process that launched us dies without shutting the kernel down (a killed Jupyter
   * server or test runner), we are re-parented: end the kernel, its group and ourselves, as
   * ipykernel does when its parent (JPY_PARENT_PID) is gone.
   */
  private watchParent(): void {
    const parent = process.ppid;
    if (parent <= 1) return;
    setInterval(() => {
      if (process.ppid === parent) return;
      this.log("the process that started the kernel is gone; stopping");
      this.stopping = true;
      if (this.child) killGroup(this.child, "outlived its launcher", this.log);
      else process.exit(0);
    }, 1000).unref();
  }

  private spawnKernel(crash: CrashReport | null): void {
    const cli = path.join(__dirname, "cli.js");
    const nodeArgs = kernelNodeFlags(this.opts.heapMb);
    if (this.blob === undefined) {
      const { blob, reason } = usableBlob(process.env, this.opts.heapMb);
      debugLog(blob ? `starting the kernel from ${blob}` : `starting the kernel without a snapshot: ${reason}`);
      this.blob = blob;
      // None yet (or a stale one): build it for the next kernel, once this one has had time to start.
      if (!blob && snapshotsEnabled()) setTimeout(() => buildSnapshotInBackground(this.opts.heapMb), 10_000).unref();
    }
    if (this.blob) nodeArgs.push("--snapshot-blob", this.blob);
    this.helloSeen = false;
    this.heldStderr = [];
    const child = spawn(
      process.execPath,
      [...nodeArgs, cli, "kernel", "start", "--no-supervisor", "--connection-file", this.connectionFile],
      // Its own process group: a signal Jupyter sends to ours (killpg) reaches the kernel once,
      // forwarded by us, not twice. If we die, the kernel exits when the IPC channel closes.
      // fd 4: deliberate-exit notices from the kernel's control thread, which works even when the
      // kernel's main thread is blocked and cannot use the IPC channel.
      { stdio: ["ignore", "inherit", "pipe", "ipc", "pipe"], env: { ...process.env, [NOTICE_FD_ENV]: String(NOTICE_FD) }, detached: true },
    );
    this.child = child;
    (child.stdio[NOTICE_FD] as NodeJS.ReadableStream | null)?.on("data", (d: Buffer) => {
      if (!/^(shutdown|restart)$/m.test(d.toString("utf8"))) return;
      this.deliberateExit ??= 0;
      // The kernel ends itself; should it not, end it and everything its cells started.
      setTimeout(() => {
        if (this.child === child) killGroup(child, "did not exit after shutdown_request", this.log);
      }, SHUTDOWN_KILL_MS).unref();
    });
    this.stderrTail = "";
    this.unanswered = [];
    this.deliberateExit = null;
    child.stderr!.on("data", (d: Buffer) => {
      // From a snapshot, what the kernel says before its hello waits: if the snapshot fails, it is only logged.
      if (this.blob && !this.helloSeen) this.heldStderr.push(d);
      else process.stderr.write(d);
      this.stderrTail = (this.stderrTail + d.toString("utf8")).slice(-STDERR_TAIL);
    });
    child.on("message", (m: FromKernel) => this.onKernelMessage(m));
    child.on("error", (e) => this.log(`cannot start the kernel: ${e.message}`));
    child.on("exit", (code, signal) => this.onKernelExit(code, signal, child));
    this.pendingReport = crash;
  }

  private onKernelMessage(m: FromKernel): void {
    switch (m.kind) {
      case "hello":
        this.helloSeen = true;
        for (const d of this.heldStderr.splice(0)) process.stderr.write(d);
        this.heapLimitBytes = m.heapLimitBytes;
        if (this.pendingReport) this.child?.send({ kind: "crash", report: this.pendingReport } satisfies ToKernel);
        this.pendingReport = null;
        break;
      case "received":
        this.unanswered.push({ msg: m.msg, running: false });
        break;
      case "running": {
        const entry = this.unanswered.find((u) => u.msg.header.msg_id === m.msgId);
        if (entry) {
          entry.running = true;
          entry.executionCount = m.executionCount;
        }
        break;
      }
      case "answered":
        this.unanswered = this.unanswered.filter((u) => u.msg.header.msg_id !== m.msgId);
        break;
      case "exiting":
        this.deliberateExit = m.code;
        break;
    }
  }

  private onKernelExit(code: number | null, signal: NodeJS.Signals | null, child: ChildProcess): void {
    this.child = null;
    // Processes the kernel's cells started (`sleep` under execSync, servers…) die with it.
    killGroup(child, null, this.log);
    if (this.deliberateExit !== null || this.stopping) {
      process.exit(this.deliberateExit ?? code ?? 0);
    }
    if (this.blob && !this.helloSeen) {
      // A snapshot that cannot start the kernel (damaged, or wrong for this Node): drop it and start without.
      const said = Buffer.concat(this.heldStderr.splice(0)).toString("utf8").trim().slice(-2000);
      debugLog(`the kernel did not start from ${this.blob} (${signal ?? code}): discarding it. ${said}`);
      discardBlob(this.blob);
      this.blob = null;
      this.spawnKernel(this.pendingReport);
      return;
    }
    const report = this.crashReport(code, signal);
    this.log(`the kernel died: ${report.summary}`);
    const now = Date.now();
    const window = this.opts.crashWindowMs ?? 60_000;
    this.crashes = this.crashes.filter((t) => now - t < window);
    this.crashes.push(now);
    if (this.crashes.length > (this.opts.maxCrashes ?? 5)) {
      this.log(`giving up: ${this.crashes.length} crashes within ${window / 1000} s`);
      process.exit(1);
    }
    this.spawnKernel(report);
  }

  private crashReport(code: number | null, signal: NodeJS.Signals | null): CrashReport {
    const heapExhausted = /JavaScript heap out of memory|Reached heap limit/.test(this.stderrTail);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const limitMb = Math.round(this.heapLimitBytes / 2 ** 20);
    const summary = heapExhausted
      ? `it ran out of JavaScript heap memory (limit ${limitMb} MiB)`
      : `the kernel process ended unexpectedly (${how})`;
    const running = this.unanswered.find((u) => u.running);
    // A replacement that died before it could report its predecessor's crash: carry that over,
    // or the cell it was about would never get a reply.
    const undelivered = this.pendingReport;
    if (undelivered?.running) return { ...undelivered, queued: [...undelivered.queued, ...this.unanswered.map((u) => u.msg)] };
    return {
      cause: heapExhausted ? "heap" : "died",
      summary,
      heapLimitMb: limitMb,
      running: running ? { msg: running.msg, executionCount: running.executionCount ?? 0 } : null,
      queued: [...(undelivered?.queued ?? []), ...this.unanswered.filter((u) => !u.running).map((u) => u.msg)],
    };
  }
}

/** SIGKILL the kernel's process group (the kernel leads its own: spawned detached). */
function killGroup(child: ChildProcess, why: string | null, log: (line: string) => void): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, "SIGKILL");
    if (why) log(`killed the kernel's process group: it ${why}`);
  } catch {
    // the group is gone already
  }
}
