/**
 * A Jupyter client over ZeroMQ: launches a kernel from its kernelspec, talks the
 * signed wire protocol on shell/iopub/control/stdin, watches the heartbeat
 * through the process, and reports a kernel that dies.
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { randomUUID } from "crypto";
import * as zmq from "zeromq";
import { ConnectionInfo, endpoint, newConnectionInfo, writeConnectionFile } from "../protocol/connection";
import { WireSocket } from "../protocol/sockets";
import { Header, JsonObject, Message, newHeader, Signer } from "../protocol/wire";
import { FoundKernelSpec } from "./kernelspec";
import { killProcessTree, processTree } from "./processTree";

export class KernelDiedError extends Error {
  /** IOPub messages the running cell had produced before the kernel died. */
  partialMessages: Message[] = [];

  constructor(message: string) {
    super(message);
    this.name = "KernelDiedError";
  }
}

export class CellTimeoutError extends Error {
  /** IOPub messages the stuck cell had produced. */
  partialMessages: Message[] = [];

  constructor(message: string) {
    super(message);
    this.name = "CellTimeoutError";
  }
}

export interface ExecuteResult {
  reply: JsonObject;
  /** IOPub messages of this request, after execute_input and before idle. */
  messages: Message[];
  timedOut: boolean;
  /** Milliseconds from sending the request to its execute_reply. */
  replyMs: number;
}

interface Waiter {
  msgId: string;
  messages: Message[];
  reply: JsonObject | null;
  idle: boolean;
  done: () => void;
  onMessage?: (m: Message) => void;
}

export class KernelClient {
  private proc: ChildProcess | null = null;
  private info!: ConnectionInfo;
  private signer!: Signer;
  private shell!: WireSocket;
  private control!: WireSocket;
  private iopub!: WireSocket;
  private readonly session = randomUUID();
  private readonly waiters = new Map<string, Waiter>();
  private readonly replies = new Map<string, (m: Message) => void>();
  private connectionFile = "";
  private died: KernelDiedError | null = null;
  private onDeath: ((e: KernelDiedError) => void)[] = [];
  /** Process groups seen under the kernel process (a supervised kernel has its own). */
  private readonly groups = new Set<number>();
  stderr = "";

  constructor(
    readonly spec: FoundKernelSpec,
    private readonly cwd: string,
    /** How long the shell and control sockets wait between reconnection attempts (ZeroMQ's default, 100 ms). */
    private readonly opts: { reconnectIntervalMs?: number } = {},
  ) {}

  get exited(): KernelDiedError | null {
    return this.died;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Where the kernel listens and the key its messages are signed with. */
  get connection(): ConnectionInfo {
    return this.info;
  }

  async start(readyTimeoutMs = 60_000): Promise<void> {
    this.info = await newConnectionInfo(this.spec.name);
    this.signer = new Signer(this.info.signature_scheme, this.info.key);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mtlkit-run-"));
    fs.chmodSync(dir, 0o700);
    this.connectionFile = path.join(dir, `kernel-${this.session}.json`);
    writeConnectionFile(this.connectionFile, this.info);
    const argv = this.spec.argv.map((a) => a.replace("{connection_file}", this.connectionFile).replace("{resource_dir}", this.spec.dir));
    this.proc = spawn(argv[0], argv.slice(1), {
      cwd: this.cwd,
      env: { ...process.env, ...this.spec.env, JPY_PARENT_PID: String(process.pid) },
      stdio: ["ignore", "pipe", "pipe"],
      // A process group of its own, as jupyter_client does: a Ctrl-C meant for the runner does not
      // interrupt the kernel, and killTree can end the kernel's whole group without hitting ours.
      detached: process.platform !== "win32",
    });
    this.proc.stdout?.on("data", () => {});
    this.proc.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
    this.proc.on("error", (e) => this.markDead(`cannot start kernel ${this.spec.name}: ${e.message}`));
    this.proc.on("exit", (code, signal) =>
      this.markDead(`kernel ${this.spec.name} died (${signal ? `signal ${signal}` : `exit code ${code}`})`),
    );

    const reconnect = this.opts.reconnectIntervalMs !== undefined ? { reconnectInterval: this.opts.reconnectIntervalMs } : {};
    this.shell = new WireSocket(new zmq.Dealer({ linger: 0, routingId: this.session, ...reconnect }), this.signer);
    this.control = new WireSocket(new zmq.Dealer({ linger: 0, routingId: this.session, ...reconnect }), this.signer);
    const sub = new zmq.Subscriber({ linger: 0 });
    sub.subscribe();
    this.iopub = new WireSocket(sub, this.signer);
    (this.shell.socket as zmq.Dealer).connect(endpoint(this.info, "shell"));
    (this.control.socket as zmq.Dealer).connect(endpoint(this.info, "control"));
    sub.connect(endpoint(this.info, "iopub"));
    void this.readLoop(this.shell);
    void this.readLoop(this.control);
    void this.readIopub();
    await this.waitReady(readyTimeoutMs);
    this.noteGroups();
  }

  /** Remember the kernel's process groups while its process tree is intact. */
  private noteGroups(): void {
    if (!this.proc?.pid || process.platform === "win32") return;
    try {
      for (const p of processTree(this.proc.pid)) this.groups.add(p.pgid);
    } catch {
      // no process table to read: killTree still kills what it finds then
    }
  }

  private markDead(message: string): void {
    if (this.died) return;
    this.died = new KernelDiedError(message + (this.stderr ? `\n--- kernel stderr ---\n${this.stderr.trim()}` : ""));
    for (const f of this.onDeath) f(this.died);
    this.onDeath = [];
  }

  private async readLoop(sock: WireSocket): Promise<void> {
    try {
      for await (const m of sock.messages()) {
        const id = (m.parent_header as Header).msg_id;
        const cb = id ? this.replies.get(id) : undefined;
        if (cb) {
          this.replies.delete(id);
          cb(m);
        }
      }
    } catch {
      // closed
    }
  }

  private async readIopub(): Promise<void> {
    try {
      for await (const m of this.iopub.messages()) {
        const id = (m.parent_header as Header).msg_id;
        const w = id ? this.waiters.get(id) : undefined;
        if (!w) continue;
        if (m.header.msg_type === "status") {
          if ((m.content as { execution_state?: string }).execution_state === "idle") {
            w.idle = true;
            if (w.reply) w.done();
          }
          continue;
        }
        if (m.header.msg_type === "execute_input") continue;
        w.messages.push(m);
        w.onMessage?.(m);
      }
    } catch {
      // closed
    }
  }

  private request(sock: WireSocket, msgType: string, content: JsonObject): { msgId: string; reply: Promise<Message> } {
    const header = newHeader(msgType, this.session, os.userInfo().username);
    const reply = new Promise<Message>((resolve, reject) => {
      this.replies.set(header.msg_id, resolve);
      this.onDeath.push(reject);
      if (this.died) reject(this.died);
    });
    reply.catch(() => {}); // callers that stop waiting must not leave an unhandled rejection
    void sock.send({ identities: [], header, parent_header: {}, metadata: {}, content, buffers: [] });
    return { msgId: header.msg_id, reply };
  }

  /** Send kernel_info_request until one is answered (the IOPub subscription settles meanwhile). */
  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.died) throw this.died;
      const { msgId, reply } = this.request(this.shell, "kernel_info_request", {});
      const got = await Promise.race([reply, sleep(Math.min(1000, Math.max(0, deadline - Date.now()))).then(() => null)]);
      if (got) return;
      this.replies.delete(msgId);
    }
    throw new KernelDiedError(`kernel ${this.spec.name} did not answer kernel_info within ${timeoutMs / 1000} s`);
  }

  async kernelInfo(): Promise<JsonObject> {
    return (await this.request(this.shell, "kernel_info_request", {}).reply).content;
  }

  /**
   * Execute code; resolves once both the reply and the idle status arrived.
   * After `timeoutMs` the kernel is interrupted; if it still does not answer
   * within `graceMs`, the promise rejects with CellTimeoutError.
   */
  async execute(
    code: string,
    opts: { timeoutMs?: number; graceMs?: number; stopOnError?: boolean; silent?: boolean } = {},
  ): Promise<ExecuteResult> {
    if (this.died) throw this.died;
    const { msgId, reply } = this.request(this.shell, "execute_request", {
      code,
      silent: opts.silent ?? false,
      store_history: !opts.silent,
      user_expressions: {},
      allow_stdin: false,
      stop_on_error: opts.stopOnError ?? true,
    });
    const sentAt = performance.now();
    let replyMs = NaN;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const w: Waiter = { msgId, messages: [], reply: null, idle: false, done: () => resolveDone() };
    this.waiters.set(msgId, w);
    void reply.then(
      (m) => {
        replyMs = performance.now() - sentAt;
        w.reply = m.content;
        if (w.idle) w.done();
        else setTimeout(() => w.done(), 2000); // tolerate a lost idle status
      },
      () => {},
    );
    const death = new Promise<never>((_, reject) => {
      this.onDeath.push(reject);
      if (this.died) reject(this.died);
    });
    death.catch(() => {});
    let timedOut = false;
    try {
      if (opts.timeoutMs) {
        const first = await Promise.race([done.then(() => "done" as const), sleep(opts.timeoutMs).then(() => "timeout" as const), death]);
        if (first === "timeout") {
          timedOut = true;
          await this.interrupt();
          const grace = opts.graceMs ?? 10_000;
          const after = await Promise.race([done.then(() => "done" as const), sleep(grace).then(() => "stuck" as const), death]);
          if (after === "stuck") {
            const stuck = new CellTimeoutError(
              `cell timed out after ${opts.timeoutMs / 1000} s and did not stop within ${grace / 1000} s of the interrupt`,
            );
            stuck.partialMessages = w.messages;
            throw stuck;
          }
        }
      } else {
        await Promise.race([done, death]);
      }
    } catch (e) {
      if (e instanceof KernelDiedError) {
        const withOutputs = new KernelDiedError(e.message);
        withOutputs.partialMessages = w.messages;
        throw withOutputs;
      }
      throw e;
    } finally {
      this.waiters.delete(msgId);
    }
    return { reply: w.reply ?? {}, messages: w.messages, timedOut, replyMs };
  }

  /** complete_request: the kernel's completions at `cursorPos` (UTF-16 offset) in `code`. */
  async complete(code: string, cursorPos: number): Promise<JsonObject> {
    return (await this.request(this.shell, "complete_request", { code, cursor_pos: cursorPos }).reply).content;
  }

  /** Interrupt as the kernelspec says: interrupt_request on control, or SIGINT. */
  async interrupt(): Promise<void> {
    if (this.spec.interrupt_mode === "message") {
      const { reply } = this.request(this.control, "interrupt_request", {});
      await Promise.race([reply.catch(() => null), sleep(5000)]);
    } else {
      this.proc?.kill("SIGINT");
    }
  }

  /** Ask the kernel to shut down; kill it if it does not exit in time. Always cleans up. */
  async shutdown(): Promise<void> {
    try {
      if (!this.died && this.proc) {
        const exited = new Promise<void>((r) => this.proc!.once("exit", () => r()));
        const { reply } = this.request(this.control, "shutdown_request", { restart: false });
        await Promise.race([reply.catch(() => null), sleep(3000)]);
        await Promise.race([exited, sleep(3000)]);
        if (!this.died) await this.killTree();
      }
    } finally {
      await this.closeConnection();
    }
  }

  /**
   * Kill the kernel outright: its process, everything under it and their process
   * groups, then close the sockets. Resolves with pids that survived (normally none).
   */
  async killTree(): Promise<number[]> {
    if (!this.proc?.pid) return [];
    if (process.platform === "win32") {
      this.proc.kill("SIGKILL");
      return [];
    }
    this.noteGroups();
    const left = await killProcessTree(this.proc.pid, this.groups);
    await this.closeConnection();
    return left;
  }

  private async closeConnection(): Promise<void> {
    for (const s of [this.shell, this.control, this.iopub]) await s?.close().catch(() => {});
    if (this.connectionFile) fs.rmSync(path.dirname(this.connectionFile), { recursive: true, force: true });
  }

  kill(): void {
    this.proc?.kill("SIGKILL");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
