/**
 * Worker thread that owns the control, stdin and heartbeat sockets, so that
 * they answer while the main thread runs (or blocks in) user code:
 * - heartbeat echoes;
 * - interrupt_request is answered here and turned into SIGINT for this process
 *   (Node's vm breaks synchronous code on SIGINT; the kernel's SIGINT handler
 *   cancels awaited code);
 * - other control requests are forwarded to the main thread;
 * - input requests: the main thread blocks on a SharedArrayBuffer (Atomics.wait)
 *   while this thread sends input_request and waits for input_reply.
 */
import { spawnSync } from "child_process";
import { parentPort, workerData } from "worker_threads";
import * as zmq from "zeromq";
import { ConnectionInfo, endpoint } from "./connection";
import { bindWithRetry, serveHeartbeat, WireSocket } from "./sockets";
import { Header, replyTo, Signer } from "./wire";

export interface WorkerInit {
  info: ConnectionInfo;
  session: string;
  /** [state, byteLength] + payload; state: 0 waiting, 1 got reply, 2 interrupted, 3 too long. */
  inputState: SharedArrayBuffer;
  inputData: SharedArrayBuffer;
}

export interface ForwardedMessage {
  identities: Uint8Array[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
}

export type ToWorker =
  | { kind: "send"; channel: "control"; frames: Uint8Array[]; ack?: number }
  | { kind: "input"; frames: Uint8Array[] }
  | { kind: "close" };

export type FromWorker =
  | { kind: "ready" }
  | { kind: "control"; msg: ForwardedMessage }
  | { kind: "interrupt" }
  | { kind: "ack"; ack: number }
  | { kind: "log"; line: string };

/**
 * SIGINT this process from outside: a kill(2) made by this thread is taken by this
 * thread, and Node's vm then does not break the main thread's script; a signal
 * from another process does. `kill` is in procps/coreutils; Node itself is the fallback.
 */
function interruptMainThread(): void {
  // (Observed: with stdio "ignore" the signal did not break the script; keep the default pipes.)
  const r = spawnSync("kill", ["-INT", String(process.pid)]);
  if (r.error || r.status !== 0) {
    spawnSync(process.execPath, ["-e", `process.kill(${process.pid}, "SIGINT")`], { stdio: "ignore" });
  }
}

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const signer = new Signer(init.info.signature_scheme, init.info.key);
  const log = (line: string) => port.postMessage({ kind: "log", line } satisfies FromWorker);
  const control = new WireSocket(new zmq.Router({ linger: 0 }), signer, log);
  const stdin = new WireSocket(new zmq.Router({ linger: 0 }), signer, log);
  const hb = new zmq.Reply({ linger: 0 });
  await bindWithRetry(control.socket as zmq.Router, endpoint(init.info, "control"));
  await bindWithRetry(stdin.socket as zmq.Router, endpoint(init.info, "stdin"));
  await bindWithRetry(hb, endpoint(init.info, "hb"));
  void serveHeartbeat(hb);

  const state = new Int32Array(init.inputState);
  const data = new Uint8Array(init.inputData);
  let awaitingInput = false;

  const finishInput = (code: number, value = "") => {
    if (!awaitingInput) return;
    awaitingInput = false;
    const bytes = Buffer.from(value, "utf8");
    if (bytes.length > data.length) {
      code = 3;
    } else {
      data.set(bytes);
    }
    Atomics.store(state, 1, code === 1 ? bytes.length : 0);
    Atomics.store(state, 0, code);
    Atomics.notify(state, 0);
  };

  port.on("message", (m: ToWorker) => {
    if (m.kind === "send") {
      void control.sendFrames(m.frames.map((f) => Buffer.from(f))).then(() => {
        if (m.ack !== undefined) port.postMessage({ kind: "ack", ack: m.ack } satisfies FromWorker);
      });
    } else if (m.kind === "input") {
      awaitingInput = true;
      void stdin.sendFrames(m.frames.map((f) => Buffer.from(f)));
    } else if (m.kind === "close") {
      void Promise.all([control.close(), stdin.close()]).then(() => {
        hb.close();
        port.close();
      });
    }
  });

  void (async () => {
    for await (const msg of stdin.messages()) {
      if (msg.header.msg_type === "input_reply") {
        const value = (msg.content as { value?: unknown }).value;
        finishInput(1, typeof value === "string" ? value : "");
      }
    }
  })();

  void (async () => {
    for await (const msg of control.messages()) {
      if (msg.header.msg_type === "interrupt_request") {
        await control.send(replyTo(msg, "interrupt_reply", { status: "ok" }, init.session));
        finishInput(2);
        port.postMessage({ kind: "interrupt" } satisfies FromWorker);
        interruptMainThread();
        continue;
      }
      port.postMessage({
        kind: "control",
        msg: {
          identities: msg.identities,
          header: msg.header,
          parent_header: msg.parent_header,
          metadata: msg.metadata,
          content: msg.content,
        },
      } satisfies FromWorker);
    }
  })();

  port.postMessage({ kind: "ready" } satisfies FromWorker);
}

main().catch((e: Error) => {
  parentPort?.postMessage({ kind: "log", line: `control worker failed: ${e.stack ?? e.message}` } satisfies FromWorker);
  process.exit(1);
});
