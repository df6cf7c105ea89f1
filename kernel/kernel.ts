/**
 * The mtlkit kernel: Jupyter messaging protocol 5.3 over ZeroMQ around the
 * TypeScript engine. Shell and IOPub live on the main thread; control, stdin
 * and heartbeat on a worker thread (protocol/control-worker.ts).
 */
import * as path from "path";
import { randomUUID } from "crypto";
import { Worker } from "worker_threads";
import * as zmq from "zeromq";
import { CommManager } from "./comm";
import { helpers, MimeBundle, PlotlyInliner, toMimeBundle } from "./display";
import { Engine, ErrorInfo, InterruptedError } from "./engine";
import { History } from "./history";
import { ConnectionInfo, endpoint } from "./protocol/connection";
import type { ForwardedMessage, FromWorker, ToWorker, WorkerInit } from "./protocol/control-worker";
import { bindWithRetry, WireSocket } from "./protocol/sockets";
import { encode, Header, JsonObject, Message, PROTOCOL_VERSION, replyTo, Signer } from "./protocol/wire";
import { CrashReport, deserializeMessage, SupervisorLink } from "./supervision";
import { startedFromSnapshot } from "./snapshot";

const VERSION: string = (require("../../package.json") as { version: string }).version;
const INPUT_BYTES = 1 << 20;

export interface KernelOptions {
  historyFile?: string;
  /** Where kernel diagnostics go (default: the real stderr). */
  log?: (line: string) => void;
}

interface DisplayOptions {
  displayId?: string;
  update?: boolean;
  raw?: boolean;
  metadata?: Record<string, unknown>;
}

export class Kernel {
  private readonly session = randomUUID();
  private readonly signer: Signer;
  private readonly shell: WireSocket;
  private readonly iopub: WireSocket;
  private worker!: Worker;
  private readonly engine: Engine;
  private readonly history: History;
  private readonly plotly = new PlotlyInliner();
  private readonly comms: CommManager;
  private executionCount = 0;
  private readonly pending: Message[] = [];
  private wake: (() => void) | null = null;
  /** The request whose outputs are being produced (kept after it ends for late async output). */
  private parent: Message | null = null;
  private allowStdin = false;
  private streamBuf: { name: "stdout" | "stderr"; text: string } | null = null;
  private streamTimer: NodeJS.Immediate | null = null;
  private readonly inputState = new SharedArrayBuffer(8);
  private readonly inputData = new SharedArrayBuffer(INPUT_BYTES);
  /** Shared with the control worker: see WorkerInit.interruptState. */
  private readonly interruptState = new Int32Array(new SharedArrayBuffer(16));
  /** The interrupt epoch current when each shell message arrived. */
  private readonly arrival = new WeakMap<Message, number>();
  /** The latest interrupt's epoch: it reaches only cells that arrived before it. */
  private interruptEpoch = 0;
  /** Worker SIGINTs already accounted for (see onSigint). */
  private workerSigintsSeen = 0;
  /** The execute_request being run. */
  private running: Message | null = null;
  /** Whether the shell request being handled has had its reply. */
  private replied = false;
  private handling: Message | null = null;
  private ackSeq = 0;
  private readonly acks = new Map<number, () => void>();
  private readonly realStdout = process.stdout.write.bind(process.stdout);
  private readonly realStderr = process.stderr.write.bind(process.stderr);
  private readonly log: (line: string) => void;
  private shuttingDown = false;
  private exiting = false;
  private executing = false;
  private realExit: (code?: number) => never = process.exit.bind(process);
  private warmed = false;
  /** execute_reply payloads (the pager) of the running request. */
  private payloads: JsonObject[] = [];
  private warmTimer: NodeJS.Timeout | null = null;
  private link: SupervisorLink | null = null;
  /** Resolves once a client has subscribed to IOPub (seen through XPUB). */
  private readonly subscribed: Promise<void>;
  private markSubscribed!: () => void;

  constructor(
    private readonly info: ConnectionInfo,
    opts: KernelOptions = {},
  ) {
    this.signer = new Signer(info.signature_scheme, info.key);
    this.log = opts.log ?? ((line) => void this.realStderr(`[mtlkit kernel] ${line}\n`));
    this.shell = new WireSocket(new zmq.Router({ linger: 0 }), this.signer, this.log);
    // XPUB rather than PUB: it tells us when a client subscribes, which a kernel
    // restarted after a crash waits for before reporting what happened.
    this.iopub = new WireSocket(new zmq.XPublisher({ linger: 0 }), this.signer, this.log);
    this.subscribed = new Promise((r) => (this.markSubscribed = r));
    this.engine = new Engine(process.cwd());
    this.engine.setRunState(this.interruptState, 3);
    this.history = new History(opts.historyFile);
    this.comms = new CommManager((type, content) => this.publish(type, content));
  }

  async start(): Promise<void> {
    await bindWithRetry(this.shell.socket as zmq.Router, endpoint(this.info, "shell"));
    await bindWithRetry(this.iopub.socket as zmq.XPublisher, endpoint(this.info, "iopub"));
    void this.watchSubscriptions();
    const worker = this.startWorker();
    if (startedFromSnapshot()) {
      // From the start-up snapshot (snapshot.ts) the compiler is built in about 0.2 s: build it
      // now, while the control thread boots on another core, instead of after kernel_info.
      this.warmed = true;
      try {
        this.engine.warm();
      } catch (e) {
        this.log(`building the compiler failed; the first cell tries again: ${(e as Error).message}`);
      }
    }
    await worker;
    this.captureStreams();
    this.installGlobals();
    process.on("SIGINT", () => this.onSigint());
    this.trapExit();
    process.on("unhandledRejection", (reason) => this.reportAsync("Unhandled promise rejection", reason));
    process.on("uncaughtException", (err) => this.reportAsync("Uncaught exception", err));
    this.publish("status", { execution_state: "starting" }, null);
    this.link = new SupervisorLink(
      (report) => void this.reportCrash(report),
      () => {
        this.log("the supervisor is gone; exiting");
        this.realExit(1);
      },
    );
    void this.readShell();
    void this.processShell();
    // Creating the compiler blocks for about a second: do it once the client has
    // seen the kernel answer (first kernel_info_reply), or after a short idle wait.
    this.warmTimer = setTimeout(() => this.warmUp(), 1000);
  }

  private warmUp(): void {
    if (this.warmTimer) clearTimeout(this.warmTimer);
    this.warmTimer = null;
    if (this.warmed) return;
    this.warmed = true;
    setTimeout(() => this.engine.warm(), 20);
  }

  private startWorker(): Promise<void> {
    const init: WorkerInit = {
      info: this.info,
      session: this.session,
      inputState: this.inputState,
      inputData: this.inputData,
      interruptState: this.interruptState.buffer as SharedArrayBuffer,
    };
    this.worker = new Worker(path.join(__dirname, "protocol", "control-worker.js"), { workerData: init });
    return new Promise((resolve, reject) => {
      this.worker.on("message", (m: FromWorker) => {
        switch (m.kind) {
          case "ready":
            resolve();
            break;
          case "log":
            this.log(m.line);
            break;
          case "ack":
            this.acks.get(m.ack)?.();
            this.acks.delete(m.ack);
            break;
          case "interrupt":
            this.interruptAt(m.epoch);
            break;
          case "shutdown":
            void this.shutdown(fromForwarded(m.msg), null);
            break;
          case "control":
            void this.handleControl(fromForwarded(m.msg));
            break;
        }
      });
      this.worker.on("error", (e) => {
        this.log(`control worker error: ${e.stack ?? e.message}`);
        reject(e);
      });
      this.worker.on("exit", (code) => {
        if (!this.shuttingDown) {
          this.log(`control worker exited (${code}); the kernel cannot continue`);
          this.realExit(1);
        }
      });
    });
  }

  /**
   * process.exit() from a cell: zeromq aborts the process if it exits with sockets
   * open, so close them (the worker's too) first, then exit with the code asked for.
   * The cell stops here: the call throws so that no more of it runs.
   */
  private trapExit(): void {
    const realExit = process.exit.bind(process);
    process.exit = ((code?: number | string | null) => {
      if (this.exiting) throw new Error("the kernel is exiting");
      this.exiting = true;
      const status = typeof code === "number" ? code : Number(code ?? process.exitCode ?? 0) || 0;
      this.flushStreams();
      this.link?.exiting(status);
      this.shell.closeNow();
      this.iopub.closeNow();
      this.shuttingDown = true;
      const done = () => realExit(status);
      this.worker.once("exit", done);
      this.worker.postMessage({ kind: "close" } satisfies ToWorker);
      setTimeout(() => void this.worker.terminate(), 1000).unref();
      throw new Error(`process.exit(${status}) called: the kernel is exiting`);
    }) as typeof process.exit;
    this.realExit = realExit;
  }

  /** Interrupt the running or next queued cell (with no cell to run, none is). */
  private interrupt(): void {
    if (this.executing || this.pending.some((m) => m.header.msg_type === "execute_request")) this.engine.interrupt();
  }

  /**
   * Every interrupt is counted in `globalThis[Symbol.for("mtlkit.interrupt")].generation`, which
   * mtlkit's long loops (Trainer.fit…) check at each step boundary: a fit that no cell awaits any
   * more (started without await, or in an earlier cell) stops there too instead of training on in
   * the background.
   */
  private countInterrupt(): void {
    const g = globalThis as Record<symbol, { generation: number } | undefined>;
    const counter = (g[Symbol.for("mtlkit.interrupt")] ??= { generation: 0 });
    counter.generation++;
  }

  /**
   * An interrupt of epoch `epoch` stops the running cell, or the next queued one, only if that
   * cell arrived before the interrupt: a cell sent after the interrupt_reply is never hit.
   */
  private interruptAt(epoch: number): void {
    this.countInterrupt();
    this.interruptEpoch = Math.max(this.interruptEpoch, epoch);
    const target = this.running ?? this.pending.find((m) => m.header.msg_type === "execute_request");
    if (target && this.arrivedBefore(target, epoch)) this.interrupt();
  }

  private arrivedBefore(msg: Message, epoch: number): boolean {
    return (this.arrival.get(msg) ?? 0) < epoch;
  }

  /**
   * SIGINT: either the control worker's (it has already sent the interrupt as a message, with its
   * epoch) or one from outside (interrupt_mode "signal", Ctrl-C), which opens a new epoch now.
   */
  private onSigint(): void {
    const sent = Atomics.load(this.interruptState, 1);
    if (sent > this.workerSigintsSeen) {
      this.workerSigintsSeen = sent;
      this.interruptAt(Atomics.load(this.interruptState, 2));
    } else {
      this.interruptAt(Atomics.add(this.interruptState, 0, 1) + 1);
    }
  }

  // ---- sending ---------------------------------------------------------------------------

  private publish(msgType: string, content: JsonObject, parent: Message | null = this.parent): void {
    if (msgType !== "stream") this.flushStreams();
    const msg = replyTo(parent, msgType, content, this.session, [Buffer.from(msgType)]);
    // Queued, never dropped: a display's stale updates coalesce while a slow client catches up.
    this.iopub.publish(msg);
  }

  private reply(req: Message, msgType: string, content: JsonObject): Promise<void> {
    if (req === this.handling) this.replied = true;
    return this.shell.send(replyTo(req, msgType, content, this.session));
  }

  private sendControl(req: Message, msgType: string, content: JsonObject): Promise<void> {
    const frames = encode(replyTo(req, msgType, content, this.session), this.signer);
    const ack = ++this.ackSeq;
    return new Promise((resolve) => {
      this.acks.set(ack, resolve);
      this.worker.postMessage({ kind: "send", channel: "control", frames, ack } satisfies ToWorker);
    });
  }

  // ---- streams -----------------------------------------------------------------------------

  private captureStreams(): void {
    const hook =
      (name: "stdout" | "stderr", real: typeof process.stdout.write) =>
      (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
        if (!this.parent) return (real as (...a: unknown[]) => boolean)(chunk, encoding, cb);
        const text =
          typeof chunk === "string"
            ? chunk
            : Buffer.from(chunk as Uint8Array).toString((typeof encoding === "string" ? encoding : "utf8") as BufferEncoding);
        this.stream(name, text);
        const done = typeof encoding === "function" ? encoding : cb;
        if (typeof done === "function") process.nextTick(done as () => void);
        return true;
      };
    process.stdout.write = hook("stdout", this.realStdout) as typeof process.stdout.write;
    process.stderr.write = hook("stderr", this.realStderr) as typeof process.stderr.write;
  }

  private stream(name: "stdout" | "stderr", text: string): void {
    if (this.streamBuf && this.streamBuf.name !== name) this.flushStreams();
    if (!this.streamBuf) this.streamBuf = { name, text: "" };
    this.streamBuf.text += text;
    if (this.streamBuf.text.length > 1 << 16) this.flushStreams();
    else this.streamTimer ??= setImmediate(() => this.flushStreams());
  }

  private flushStreams(): void {
    if (this.streamTimer) {
      clearImmediate(this.streamTimer);
      this.streamTimer = null;
    }
    const buf = this.streamBuf;
    this.streamBuf = null;
    if (buf?.text) this.publish("stream", { name: buf.name, text: buf.text });
  }

  private reportAsync(what: string, err: unknown): void {
    const e = this.engine.describeError(err);
    if (this.parent) {
      this.publish("stream", { name: "stderr", text: `${what}: ${e.traceback.join("\n")}\n` });
    } else {
      this.log(`${what}: ${e.traceback.join("\n")}`);
    }
  }

  // ---- globals for notebook code -----------------------------------------------------------

  private sendDisplay(bundle: MimeBundle, opts: DisplayOptions): void {
    const data = this.plotly.enrich(bundle);
    const content: JsonObject = { data, metadata: opts.metadata ?? {}, transient: {} };
    if (opts.displayId) content.transient = { display_id: opts.displayId };
    this.publish(opts.update && opts.displayId ? "update_display_data" : "display_data", content);
  }

  private installGlobals(): void {
    const g = globalThis as Record<string | symbol, unknown>;
    const display = (value: unknown, opts: DisplayOptions = {}) => {
      const displayId = opts.displayId ?? (opts.update ? undefined : randomUUID());
      const bundle = opts.raw ? (value as MimeBundle) : (toMimeBundle(value) ?? { "text/plain": "undefined" });
      this.sendDisplay(bundle, { ...opts, displayId });
    };
    const handle = (displayId: string, fresh: boolean) => {
      let shown = !fresh;
      return {
        displayId,
        update: (value: unknown, o: DisplayOptions = {}) => {
          display(value, { ...o, displayId, update: shown });
          shown = true;
        },
      };
    };
    g.display = display;
    g.newDisplay = () => handle(randomUUID(), true);
    g[Symbol.for("mtlkit.display")] = (bundle: Record<string, unknown>, opts: { displayId?: string; update?: boolean } = {}) =>
      this.sendDisplay(bundle, opts);
    Object.assign(g, helpers);
    g.page = (value: unknown) => {
      const bundle = toMimeBundle(value) ?? { "text/plain": "undefined" };
      this.payloads.push({ source: "page", data: bundle, start: 0 });
    };
    g.clearOutput = (wait = false) => this.publish("clear_output", { wait });
    g.prompt = (message = "", defaultValue?: string) => this.prompt(message, defaultValue);
    g.comms = {
      registerTarget: (name: string, onOpen: Parameters<CommManager["registerTarget"]>[1]) => this.comms.registerTarget(name, onOpen),
      open: (target: string, data?: unknown) => this.comms.open(target, data),
    };
  }

  /** Synchronous input: send input_request and block until the worker has the reply. */
  private prompt(message: string, defaultValue?: string): string | null {
    if (!this.parent || !this.allowStdin) {
      throw new Error("prompt(): this frontend does not accept input (allow_stdin is false)");
    }
    this.flushStreams();
    const state = new Int32Array(this.inputState);
    Atomics.store(state, 0, 0);
    const req = replyTo(this.parent, "input_request", { prompt: String(message), password: false }, this.session);
    req.identities = this.parent.identities;
    this.worker.postMessage({ kind: "input", frames: encode(req, this.signer) } satisfies ToWorker);
    Atomics.wait(state, 0, 0);
    const code = Atomics.load(state, 0);
    if (code === 2) throw new InterruptedError("interrupted while waiting for input");
    if (code === 3) throw new Error("prompt(): the reply is larger than 1 MiB");
    const len = Atomics.load(state, 1);
    const value = Buffer.from(new Uint8Array(this.inputData, 0, len)).toString("utf8");
    return value === "" && defaultValue !== undefined ? defaultValue : value;
  }

  // ---- shell -------------------------------------------------------------------------------

  private async readShell(): Promise<void> {
    for await (const msg of this.shell.messages()) {
      this.arrival.set(msg, Atomics.load(this.interruptState, 0));
      this.link?.received(msg);
      this.pending.push(msg);
      this.wake?.();
    }
  }

  private async processShell(): Promise<void> {
    for (;;) {
      const msg = this.pending.shift();
      if (!msg) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      this.publish("status", { execution_state: "busy" }, msg);
      this.handling = msg;
      this.replied = false;
      try {
        await this.handleShell(msg);
      } catch (e) {
        this.log(`error handling ${msg.header.msg_type}: ${(e as Error).stack ?? e}`);
        // Whatever failed, the request gets its one reply: a client must never wait forever.
        if (!this.replied) await this.replyFailure(msg, e);
      } finally {
        this.handling = null;
      }
      this.link?.answered(msg);
      this.flushStreams();
      this.publish("status", { execution_state: "idle" }, msg);
    }
  }

  private async handleShell(msg: Message): Promise<void> {
    const c = msg.content as Record<string, unknown>;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        await this.reply(msg, "kernel_info_reply", this.kernelInfo());
        this.warmUp();
        return;
      case "execute_request":
        return this.execute(msg);
      case "complete_request":
        return this.complete(msg, String(c.code ?? ""), Number(c.cursor_pos ?? 0));
      case "inspect_request":
        return this.inspect(msg, String(c.code ?? ""), Number(c.cursor_pos ?? 0));
      case "is_complete_request":
        return this.reply(msg, "is_complete_reply", this.engine.isComplete(String(c.code ?? "")));
      case "history_request":
        return this.reply(msg, "history_reply", { status: "ok", history: this.history.query(c) });
      case "comm_info_request":
        return this.reply(msg, "comm_info_reply", {
          status: "ok",
          comms: this.comms.info(typeof c.target_name === "string" ? c.target_name : undefined),
        });
      case "comm_open":
      case "comm_msg":
      case "comm_close":
        return this.withParent(msg, () => {
          if (msg.header.msg_type === "comm_open") this.comms.handleOpen(c);
          else if (msg.header.msg_type === "comm_msg") this.comms.handleMsg(c);
          else this.comms.handleClose(c);
        });
      case "shutdown_request":
        return this.shutdown(msg, (req, type, content) => this.reply(req, type, content));
      default:
        this.log(`ignoring unknown shell message ${msg.header.msg_type}`);
    }
  }

  /** The error reply to a request whose handler threw (nothing for messages that have no reply). */
  private async replyFailure(msg: Message, e: unknown): Promise<void> {
    const type = msg.header.msg_type;
    if (!type.endsWith("_request")) return;
    const error = {
      ename: "KernelError",
      evalue: `the kernel failed to handle ${type}: ${e instanceof Error ? e.message : String(e)}`,
      traceback: [] as string[],
    };
    error.traceback = [`${error.ename}: ${error.evalue}`, "The kernel goes on; its log (stderr) has the details."];
    try {
      if (type === "execute_request") {
        this.publish("error", error, msg);
        await this.reply(msg, "execute_reply", { status: "error", execution_count: this.executionCount, ...error, user_expressions: {} });
      } else {
        await this.reply(msg, type.replace(/_request$/, "_reply"), { status: "error", ...error });
      }
    } catch (e2) {
      this.log(`cannot send the error reply to ${type}: ${(e2 as Error).message}`);
    }
  }

  private withParent(msg: Message, f: () => void): void {
    const prev = this.parent;
    this.parent = msg;
    try {
      f();
    } catch (e) {
      this.reportAsync(`error in ${msg.header.msg_type} handler`, e);
    } finally {
      this.flushStreams();
      this.parent = prev;
    }
  }

  kernelInfo(): JsonObject {
    const ts = this.engine.typescriptVersion;
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "mtlkit",
      implementation_version: VERSION,
      language_info: {
        name: "typescript",
        version: ts,
        mimetype: "text/typescript",
        file_extension: ".ts",
        pygments_lexer: "typescript",
        codemirror_mode: { name: "javascript", typescript: true },
      },
      banner: `mtlkit ${VERSION} — TypeScript ${ts} (tslab engine) on Node.js ${process.version}`,
      help_links: [{ text: "mtlkit", url: "https://github.com/mtlkit/mtlkit" }],
      debugger: false,
    };
  }

  private async execute(msg: Message): Promise<void> {
    const c = msg.content as {
      code?: string;
      silent?: boolean;
      store_history?: boolean;
      user_expressions?: Record<string, string>;
      allow_stdin?: boolean;
      stop_on_error?: boolean;
    };
    const code = String(c.code ?? "");
    const silent = Boolean(c.silent);
    const storeHistory = silent ? false : c.store_history !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    this.link?.running(msg, count);
    // Late output of the cell (timers, callbacks) is still addressed to it, so it stays the
    // parent after it ends; but without its content, or a large cell's source would stay alive.
    this.parent = { ...msg, content: {} };
    this.allowStdin = Boolean(c.allow_stdin);
    this.payloads = [];
    if (!silent) this.publish("execute_input", { code, execution_count: count });

    // An interrupt meant for an earlier cell must not stop this one.
    if (!this.arrivedBefore(msg, this.interruptEpoch)) this.engine.clearInterrupt();
    this.executing = true;
    this.running = msg;
    const outcome = await this.engine.execute(code, `Cell [${count}]`, { keepSource: storeHistory }).finally(() => {
      this.executing = false;
      this.running = null;
      this.engine.clearInterrupt();
      // Our SIGINTs for this cell were taken by it (a script interrupted by SIGINT consumes the
      // signal, so onSigint never sees it); none may count against a later cell.
      this.workerSigintsSeen = Atomics.load(this.interruptState, 1);
    });
    let resultText: string | null = null;
    if (outcome.status === "ok" && outcome.hasValue && !silent) {
      try {
        const bundle = this.plotly.enrich(toMimeBundle(outcome.value)!);
        resultText = typeof bundle["text/plain"] === "string" ? bundle["text/plain"] : null;
        this.publish("execute_result", { execution_count: count, data: bundle, metadata: {} });
      } catch (e) {
        this.reportAsync("cannot display the result", e);
      }
    }
    if (outcome.status === "error") this.publish("error", errorContent(outcome));
    const userExpressions = await this.userExpressions(c.user_expressions ?? {});
    this.flushStreams();
    if (storeHistory) this.history.add(count, code, resultText);

    if (outcome.status === "error") {
      // stop_on_error aborts the execute requests that arrived before this reply is sent; for an
      // interrupted cell, only those that arrived before the interrupt too.
      const interrupted = outcome.ename === "Interrupted";
      const doomed = c.stop_on_error !== false ? await this.queuedNow(interrupted ? this.interruptEpoch : Infinity) : [];
      await this.reply(msg, "execute_reply", {
        status: "error",
        execution_count: count,
        ...errorContent(outcome),
        user_expressions: userExpressions,
      });
      await this.abort(doomed);
    } else {
      await this.reply(msg, "execute_reply", {
        status: "ok",
        execution_count: count,
        payload: this.payloads,
        user_expressions: userExpressions,
      });
    }
  }

  private async userExpressions(exprs: Record<string, string>): Promise<JsonObject> {
    const out: JsonObject = {};
    for (const [name, expr] of Object.entries(exprs)) {
      const r = await this.engine.execute(String(expr), `user_expressions[${JSON.stringify(name)}]`);
      if (r.status === "error") out[name] = { status: "error", ...errorContent(r) };
      else
        out[name] = { status: "ok", data: toMimeBundle(r.hasValue ? r.value : undefined) ?? { "text/plain": "undefined" }, metadata: {} };
    }
    return out;
  }

  /**
   * The execute requests queued now that arrived before interrupt epoch `before`. First lets the
   * reader pull what is already waiting on the socket (until the queue stops growing), so that
   * "queued" means everything the client sent before it could see the reply that follows.
   */
  private async queuedNow(before: number): Promise<Message[]> {
    for (let seen = -1, i = 0; seen !== this.pending.length && i < 100; i++) {
      seen = this.pending.length;
      await new Promise((r) => setImmediate(r));
    }
    return this.pending.filter((m) => m.header.msg_type === "execute_request" && this.arrivedBefore(m, before));
  }

  /** Answer `doomed` (execute requests taken out of the queue) with "aborted" (stop_on_error). */
  private async abort(doomed: Message[]): Promise<void> {
    for (const m of doomed) {
      const i = this.pending.indexOf(m);
      if (i < 0) continue;
      this.pending.splice(i, 1);
      this.publish("status", { execution_state: "busy" }, m);
      await this.shell.send(replyTo(m, "execute_reply", { status: "aborted", execution_count: this.executionCount }, this.session));
      this.link?.answered(m);
      this.publish("status", { execution_state: "idle" }, m);
    }
  }

  private async complete(msg: Message, code: string, cursorCp: number): Promise<void> {
    const cursor = cpToUtf16(code, cursorCp);
    let r = { matches: [] as string[], start: cursor, end: cursor };
    try {
      r = this.engine.complete(code, cursor);
    } catch (e) {
      this.log(`completion failed: ${(e as Error).message}`);
    }
    await this.reply(msg, "complete_reply", {
      status: "ok",
      matches: r.matches,
      cursor_start: utf16ToCp(code, r.start),
      cursor_end: utf16ToCp(code, r.end),
      metadata: {},
    });
  }

  private async inspect(msg: Message, code: string, cursorCp: number): Promise<void> {
    let info: { text: string; markdown: string } | null = null;
    try {
      info = this.engine.inspect(code, cpToUtf16(code, cursorCp));
    } catch (e) {
      this.log(`inspect failed: ${(e as Error).message}`);
    }
    await this.reply(msg, "inspect_reply", {
      status: "ok",
      found: info !== null,
      data: info ? { "text/plain": info.text, "text/markdown": info.markdown } : {},
      metadata: {},
    });
  }

  // ---- control -----------------------------------------------------------------------------

  private async handleControl(msg: Message): Promise<void> {
    const send = (req: Message, type: string, content: JsonObject) => this.sendControl(req, type, content);
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        this.publish("status", { execution_state: "busy" }, msg);
        await send(msg, "kernel_info_reply", this.kernelInfo());
        this.publish("status", { execution_state: "idle" }, msg);
        return;
      case "shutdown_request":
        return this.shutdown(msg, send);
      default:
        this.log(`ignoring control message ${msg.header.msg_type}`);
    }
  }

  /**
   * shutdown_request (restart or not: the client starts the new kernel). On control, the worker
   * has replied already and ends the process itself if this thread cannot (send is null).
   */
  private async shutdown(msg: Message, send: ((req: Message, type: string, content: JsonObject) => Promise<void>) | null): Promise<void> {
    const restart = Boolean((msg.content as { restart?: unknown }).restart);
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (send) await send(msg, "shutdown_reply", { status: "ok", restart });
    this.publish("status", { execution_state: "idle" }, msg);
    this.flushStreams();
    this.link?.exiting(0);
    await this.close();
    this.realExit(0);
  }

  // ---- after a crash -----------------------------------------------------------------------

  private async watchSubscriptions(): Promise<void> {
    try {
      for await (const [frame] of this.iopub.socket as zmq.XPublisher) {
        if (frame?.[0] === 1) this.markSubscribed();
      }
    } catch {
      // closed
    }
  }

  /**
   * This kernel replaces one that died: answer the cell it was running with an
   * error that says what happened, and abort the cells queued behind it.
   */
  private async reportCrash(report: CrashReport): Promise<void> {
    this.log(`restarted after a crash: ${report.summary}`);
    // Clients reconnect to the new sockets by themselves; publish once one listens again.
    await Promise.race([this.subscribed, new Promise((r) => setTimeout(r, 5000))]);
    if (report.running) {
      const req = deserializeMessage(report.running.msg);
      const error = crashError(report, report.running.executionCount);
      this.publish("status", { execution_state: "busy" }, req);
      this.publish("error", error, req);
      await this.replyWhenRoutable(req, "execute_reply", {
        status: "error",
        execution_count: report.running.executionCount,
        ...error,
        user_expressions: {},
      });
      this.publish("status", { execution_state: "idle" }, req);
    }
    for (const q of report.queued) {
      const req = deserializeMessage(q);
      this.publish("status", { execution_state: "busy" }, req);
      await this.replyWhenRoutable(req, "execute_reply", { status: "aborted", execution_count: report.running?.executionCount ?? 0 });
      this.publish("status", { execution_state: "idle" }, req);
    }
  }

  /** A reply to a client that may not have reconnected to this (restarted) kernel yet. */
  private async replyWhenRoutable(req: Message, msgType: string, content: JsonObject): Promise<void> {
    const delivered = await this.shell.sendWhenRoutable(replyTo(req, msgType, content, this.session), 10_000);
    if (!delivered) this.log(`could not deliver ${msgType} for ${req.header.msg_id}: the client did not reconnect`);
  }

  async close(): Promise<void> {
    this.shuttingDown = true;
    this.engine.close();
    const workerGone = new Promise((r) => this.worker.once("exit", r));
    this.worker.postMessage({ kind: "close" } satisfies ToWorker);
    await Promise.race([Promise.all([this.iopub.close(), this.shell.close(), workerGone]), new Promise((r) => setTimeout(r, 1000))]);
  }
}

/** The error a restarted kernel gives for the cell its predecessor died in. */
export function crashError(report: CrashReport, executionCount: number): { ename: string; evalue: string; traceback: string[] } {
  const cell = executionCount > 0 ? `Cell [${executionCount}]` : "This cell";
  const lost = "The kernel was restarted: variables and imports from earlier cells are gone; run the notebook again from the top.";
  const evalue =
    report.cause === "heap"
      ? `${cell} exhausted the JavaScript heap (limit ${report.heapLimitMb} MiB). ${lost}`
      : `${cell} was running when ${report.summary}. ${lost}`;
  const hint =
    report.cause === "heap"
      ? "To use less memory: dispose tensors (tf.tidy), keep fewer objects alive. To give the kernel more: mtlkit kernel install --heap-mb N."
      : "The kernel's log (stderr) may say more.";
  return { ename: "KernelRestarted", evalue, traceback: [`KernelRestarted: ${evalue}`, hint] };
}

function errorContent(e: ErrorInfo): JsonObject {
  return { ename: e.ename, evalue: e.evalue, traceback: e.traceback };
}

function fromForwarded(m: ForwardedMessage): Message {
  return {
    identities: m.identities.map((b) => Buffer.from(b)),
    header: m.header as Header,
    parent_header: m.parent_header,
    metadata: m.metadata,
    content: m.content,
    buffers: [],
  };
}

/** Jupyter cursor positions count Unicode code points; JavaScript strings count UTF-16 units. */
export function cpToUtf16(s: string, cp: number): number {
  let i = 0;
  for (let n = 0; n < cp && i < s.length; n++) i += (s.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  return i;
}

export function utf16ToCp(s: string, idx: number): number {
  return [...s.slice(0, Math.max(0, idx))].length;
}
