/**
 * Worker thread that owns the control, stdin and heartbeat sockets, so that
 * they answer while the main thread runs (or blocks in) user code:
 * - heartbeat echoes;
 * - interrupt_request is answered here and turned into SIGINT for this process
 *   (Node's vm breaks synchronous code on SIGINT; the kernel's SIGINT handler
 *   cancels awaited code);
 * - shutdown_request is answered here too: the main thread is asked to exit cleanly and, if it
 *   has not within SHUTDOWN_GRACE_MS (it may be blocked in synchronous code, e.g. execSync), this
 *   thread ends the process and the children in its process group;
 * - other control requests are forwarded to the main thread;
 * - input requests: the main thread blocks on a SharedArrayBuffer (Atomics.wait)
 *   while this thread sends input_request and waits for input_reply.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import { parentPort, workerData } from "worker_threads";
import * as zmq from "zeromq";
import { ConnectionInfo, endpoint } from "./connection";
import { RUN_SIGINT_COMING, RUN_SYNC } from "../engine";
import { NOTICE_FD_ENV } from "../supervision";
import { bindWithRetry, serveHeartbeat, WireSocket } from "./sockets";
import { Header, replyTo, Signer } from "./wire";

export interface WorkerInit {
  info: ConnectionInfo;
  session: string;
  /** [state, byteLength] + payload; state: 0 waiting, 1 got reply, 2 interrupted, 3 too long. */
  inputState: SharedArrayBuffer;
  inputData: SharedArrayBuffer;
  /**
   * Int32 [epoch, workerSigints, lastWorkerSigintEpoch, runState]. epoch counts interrupts: this thread
   * bumps it when an interrupt_request arrives, before replying, and the main thread stamps each
   * shell message with it on arrival, so that an interrupt only reaches cells that arrived before
   * it. workerSigints counts the SIGINTs this thread sent (so that the main thread can tell them
   * from a SIGINT sent from outside). runState is the engine's (Engine.setRunState).
   */
  interruptState: SharedArrayBuffer;
}

/** How long the main thread has to exit by itself after a shutdown_request. */
export const SHUTDOWN_GRACE_MS = 1500;

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
  | { kind: "interrupt"; epoch: number }
  | { kind: "shutdown"; msg: ForwardedMessage }
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

/** Tell the supervisor (if any) that the coming exit is deliberate; written synchronously. */
function noticeSupervisor(what: "shutdown" | "restart"): void {
  const fd = Number(process.env[NOTICE_FD_ENV]);
  if (!Number.isInteger(fd) || fd < 3) return;
  try {
    fs.writeSync(fd, `${what}\n`);
  } catch {
    // the supervisor is gone: nothing to tell
  }
}

/**
 * End the kernel now, with the processes its cells started: under the supervisor the kernel leads
 * its own process group, and a group whose id is our pid can only be ours. Otherwise, only us.
 */
function killOwnGroup(): void {
  try {
    process.kill(-process.pid, "SIGKILL");
  } catch {
    process.kill(process.pid, "SIGKILL");
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

  const interrupts = new Int32Array(init.interruptState);
  if (process.env[NOTICE_FD_ENV]) {
    // Supervised: if the supervisor dies (we are re-parented), nobody can reap us. The main thread
    // notices through its IPC channel unless it is blocked; this thread notices in any case.
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) killOwnGroup();
    }, 1000).unref();
  }
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
      const forwarded: ForwardedMessage = {
        identities: msg.identities,
        header: msg.header,
        parent_header: msg.parent_header,
        metadata: msg.metadata,
        content: msg.content,
      };
      if (msg.header.msg_type === "interrupt_request") {
        // Everything happens before the reply, so a cell the client sends once it has the reply
        // arrives after the new epoch and is never taken for the interrupted one.
        const epoch = Atomics.add(interrupts, 0, 1) + 1;
        finishInput(2);
        port.postMessage({ kind: "interrupt", epoch } satisfies FromWorker);
        // SIGINT only to break a cell's synchronous run, and only once that run has agreed to
        // wait for it (a signal outside a run is unnecessary, and fatal as one starts or ends).
        if (Atomics.compareExchange(interrupts, 3, RUN_SYNC, RUN_SIGINT_COMING) === RUN_SYNC) {
          Atomics.store(interrupts, 2, epoch);
          Atomics.add(interrupts, 1, 1);
          interruptMainThread();
        }
        await control.send(replyTo(msg, "interrupt_reply", { status: "ok" }, init.session));
        continue;
      }
      if (msg.header.msg_type === "shutdown_request") {
        const restart = Boolean((msg.content as { restart?: unknown }).restart);
        await control.send(replyTo(msg, "shutdown_reply", { status: "ok", restart }, init.session));
        noticeSupervisor(restart ? "restart" : "shutdown");
        port.postMessage({ kind: "shutdown", msg: forwarded } satisfies FromWorker);
        setTimeout(() => {
          // Written directly: the main thread, which relays our log, is the one that is stuck.
          const line = `the main thread did not exit within ${SHUTDOWN_GRACE_MS} ms of shutdown_request (busy in synchronous code?): ending the kernel`;
          try {
            fs.writeSync(2, `[mtlkit kernel] ${line}\n`);
          } catch {
            // no stderr: end anyway
          }
          killOwnGroup();
        }, SHUTDOWN_GRACE_MS);
        continue;
      }
      port.postMessage({ kind: "control", msg: forwarded } satisfies FromWorker);
    }
  })();

  port.postMessage({ kind: "ready" } satisfies FromWorker);
}

main().catch((e: Error) => {
  parentPort?.postMessage({ kind: "log", line: `control worker failed: ${e.stack ?? e.message}` } satisfies FromWorker);
  process.exit(1);
});
