/**
 * What the kernel and its supervisor (supervisor.ts) tell each other over the
 * IPC channel, and the kernel's side of it. The kernel reports every
 * execute_request it receives, starts and answers, so that after a crash the
 * next kernel can answer the ones left hanging.
 */
import * as v8 from "v8";
import type { Message } from "./protocol/wire";

/**
 * Set by the supervisor for the kernel: the file descriptor on which the kernel's control thread
 * says that an exit is deliberate ("shutdown" or "restart" lines), even while its main thread is
 * blocked and cannot use the IPC channel.
 */
export const NOTICE_FD_ENV = "MTLKIT_SUPERVISOR_NOTICE_FD";

/** A shell message in a form that survives JSON (identities as base64). */
export interface SerializedMessage {
  identities: string[];
  header: Message["header"];
  parent_header: Message["parent_header"];
  metadata: Message["metadata"];
  content: Message["content"];
}

export interface CrashReport {
  cause: "heap" | "died";
  /** One line: what happened, e.g. "it ran out of JavaScript heap memory (limit 64 MiB)". */
  summary: string;
  heapLimitMb: number;
  /** The execute_request that was running when the kernel died, if any. */
  running: { msg: SerializedMessage; executionCount: number } | null;
  /** Execute requests received but not started. */
  queued: SerializedMessage[];
}

export type FromKernel =
  | { kind: "hello"; heapLimitBytes: number }
  | { kind: "received"; msg: SerializedMessage }
  | { kind: "running"; msgId: string; executionCount: number }
  | { kind: "answered"; msgId: string }
  | { kind: "exiting"; code: number };

export type ToKernel = { kind: "crash"; report: CrashReport };

export function serializeMessage(m: Message): SerializedMessage {
  return {
    identities: m.identities.map((b) => Buffer.from(b).toString("base64")),
    header: m.header,
    parent_header: m.parent_header,
    metadata: m.metadata,
    content: m.content,
  };
}

export function deserializeMessage(m: SerializedMessage): Message {
  return { ...m, identities: m.identities.map((s) => Buffer.from(s, "base64")), buffers: [] };
}

/**
 * The kernel's end of the channel; every method is a no-op when the kernel runs
 * without a supervisor (`mtlkit kernel start --no-supervisor`).
 */
export class SupervisorLink {
  private readonly send: ((m: FromKernel) => void) | null;

  constructor(onCrashReport: (r: CrashReport) => void, onSupervisorGone: () => void) {
    const send = process.send?.bind(process);
    this.send = send ? (m) => void send(m) : null;
    if (!this.send) return;
    process.on("message", (m: ToKernel) => {
      if (m?.kind === "crash") onCrashReport(m.report);
    });
    // Without its supervisor nobody can restart or reap this kernel.
    process.on("disconnect", onSupervisorGone);
    this.send({ kind: "hello", heapLimitBytes: v8.getHeapStatistics().heap_size_limit });
  }

  get supervised(): boolean {
    return this.send !== null;
  }

  received(msg: Message): void {
    if (msg.header.msg_type === "execute_request") this.send?.({ kind: "received", msg: serializeMessage(msg) });
  }

  running(msg: Message, executionCount: number): void {
    this.send?.({ kind: "running", msgId: msg.header.msg_id, executionCount });
  }

  answered(msg: Message): void {
    if (msg.header.msg_type === "execute_request") this.send?.({ kind: "answered", msgId: msg.header.msg_id });
  }

  exiting(code: number): void {
    this.send?.({ kind: "exiting", code });
  }
}
