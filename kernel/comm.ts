/** Comms (messaging spec "Custom messages"): targets, open comms, and their messages. */
import { randomUUID } from "crypto";

export type CommSend = (msgType: "comm_open" | "comm_msg" | "comm_close", content: Record<string, unknown>) => void;

export class Comm {
  private msgHandlers: ((data: unknown) => void)[] = [];
  private closeHandlers: ((data: unknown) => void)[] = [];
  closed = false;

  constructor(
    readonly commId: string,
    readonly targetName: string,
    private readonly sendFn: CommSend,
    private readonly onClosed: (id: string) => void,
  ) {}

  send(data: unknown): void {
    if (this.closed) throw new Error(`comm ${this.commId} (${this.targetName}) is closed`);
    this.sendFn("comm_msg", { comm_id: this.commId, data: data ?? {} });
  }

  close(data?: unknown): void {
    if (this.closed) return;
    this.sendFn("comm_close", { comm_id: this.commId, data: data ?? {} });
    this.handleClose(data);
  }

  onMsg(h: (data: unknown) => void): void {
    this.msgHandlers.push(h);
  }

  onClose(h: (data: unknown) => void): void {
    this.closeHandlers.push(h);
  }

  handleMsg(data: unknown): void {
    for (const h of this.msgHandlers) h(data);
  }

  handleClose(data: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed(this.commId);
    for (const h of this.closeHandlers) h(data);
  }
}

export class CommManager {
  private readonly targets = new Map<string, (comm: Comm, data: unknown) => void>();
  private readonly comms = new Map<string, Comm>();

  constructor(private readonly send: CommSend) {}

  registerTarget(name: string, onOpen: (comm: Comm, data: unknown) => void): void {
    this.targets.set(name, onOpen);
  }

  /** Open a comm from the kernel side. */
  open(targetName: string, data?: unknown): Comm {
    const comm = this.make(randomUUID(), targetName);
    this.send("comm_open", { comm_id: comm.commId, target_name: targetName, data: data ?? {} });
    return comm;
  }

  /** comm_open from the frontend; unknown targets are closed right away (as IPython does). */
  handleOpen(content: { comm_id?: string; target_name?: string; data?: unknown }): void {
    const id = String(content.comm_id ?? "");
    const target = String(content.target_name ?? "");
    const onOpen = this.targets.get(target);
    if (!id) return;
    if (!onOpen) {
      this.send("comm_close", { comm_id: id, data: {} });
      return;
    }
    onOpen(this.make(id, target), content.data ?? {});
  }

  handleMsg(content: { comm_id?: string; data?: unknown }): void {
    this.comms.get(String(content.comm_id))?.handleMsg(content.data ?? {});
  }

  handleClose(content: { comm_id?: string; data?: unknown }): void {
    this.comms.get(String(content.comm_id))?.handleClose(content.data ?? {});
  }

  /** comm_info_reply.comms, optionally only those of one target. */
  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const [id, c] of this.comms) {
      if (!targetName || c.targetName === targetName) out[id] = { target_name: c.targetName };
    }
    return out;
  }

  private make(id: string, target: string): Comm {
    const comm = new Comm(id, target, this.send, (cid) => this.comms.delete(cid));
    this.comms.set(id, comm);
    return comm;
  }
}
