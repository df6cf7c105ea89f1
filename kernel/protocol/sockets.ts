/** ZeroMQ sockets speaking the Jupyter wire protocol, with ordered sends. */
import * as zmq from "zeromq";
import { decode, encode, Message, SignatureError, Signer } from "./wire";

type Log = (line: string) => void;

/** A message waiting in the IOPub outbox; `key` is set for display updates, which coalesce. */
interface Outgoing {
  msg: Message<unknown>;
  key?: string;
}

/** Merged stream text stops growing past this size (a new message starts). */
const STREAM_MERGE_LIMIT = 1 << 20;
/**
 * A client that has not read IOPub for this long is stuck, not slow: rather than hold every other
 * client back, messages then go to the clients that read and the stuck one misses them until it
 * reads again (ZeroMQ's ordinary PUB behaviour, for that client alone).
 */
export const IOPUB_STALL_LIMIT_MS = 30_000;

/**
 * A socket whose sends are queued so that at most one is in flight
 * (zeromq 6 rejects concurrent sends) and messages keep their order.
 *
 * On a publisher (IOPub) nothing is ever dropped. ZeroMQ's PUB/XPUB silently drops messages for a
 * subscriber whose queue is full (send high-water mark, 1000 by default): a slow client then
 * loses the cell's result and the idle status. So the socket is set to `noDrop` (it refuses
 * with EAGAIN instead) and a refused send is retried after a short wait (back-pressure); messages
 * queue in `publish`'s outbox meanwhile, where what can be shortened is: a display's newer update
 * replaces its older one still waiting, and consecutive stream text of one stream is merged.
 * Status, execute_input, execute_result, error, display_data and the rest are kept whole, in order.
 * Only a client stuck for `stallLimitMs` loses messages (see IOPUB_STALL_LIMIT_MS).
 */
export class WireSocket {
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly outbox: Outgoing[] = [];
  /** The outbox entry of each display update not yet sent, by coalescing key. */
  private readonly waitingUpdates = new Map<string, Outgoing>();
  private draining = false;
  /** Set once a client is stuck: sends skip it (see IOPUB_STALL_LIMIT_MS) until it reads again. */
  private stuckClient = false;

  constructor(
    readonly socket: zmq.Router | zmq.Publisher | zmq.XPublisher | zmq.Dealer | zmq.Subscriber,
    private readonly signer: Signer,
    private readonly log: Log = () => {},
    /** How long a publisher waits for a client that does not read before it skips that client. */
    readonly stallLimitMs = IOPUB_STALL_LIMIT_MS,
  ) {
    if (isPublisher(socket)) socket.noDrop = true;
  }

  /**
   * Queue a message for IOPub. Returns at once; the message is signed and sent when the socket
   * takes it (see the class comment for what may be merged while it waits).
   */
  publish(msg: Message<unknown>): void {
    if (this.closed) return;
    const key = updateKey(msg);
    const waiting = key !== undefined ? this.waitingUpdates.get(key) : undefined;
    if (waiting) {
      waiting.msg = msg;
      return;
    }
    const last = this.outbox[this.outbox.length - 1];
    if (last && appendStream(last, msg)) return;
    const entry: Outgoing = { msg, key };
    this.outbox.push(entry);
    if (key !== undefined) this.waitingUpdates.set(key, entry);
    if (!this.draining) {
      this.draining = true;
      this.queue = this.queue.then(() => this.drain());
    }
  }

  /** Messages published but not yet taken by the socket. */
  get backlog(): number {
    return this.outbox.length;
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      const entry = this.outbox.shift();
      if (!entry) break;
      if (entry.key !== undefined && this.waitingUpdates.get(entry.key) === entry) this.waitingUpdates.delete(entry.key);
      await this.sendWithBackPressure(encode(entry.msg, this.signer));
    }
    this.draining = false;
  }

  /** Send; while the socket refuses (EAGAIN: a subscriber's queue is full), wait and retry. */
  private async sendWithBackPressure(frames: Buffer[]): Promise<void> {
    const s = this.socket as zmq.Writable & zmq.Socket;
    const since = Date.now();
    let pause = 1;
    while (!this.closed) {
      try {
        await s.send(frames);
        if (this.stuckClient) this.log("every IOPub client reads again");
        this.stuckClient = false;
        return;
      } catch (e) {
        if (this.closed) return;
        if ((e as { code?: string }).code !== "EAGAIN") {
          this.log(`send failed: ${(e as Error).message}`);
          return;
        }
      }
      if (isPublisher(this.socket) && (this.stuckClient || Date.now() - since >= this.stallLimitMs)) {
        if (!this.stuckClient)
          this.log(`an IOPub client has not read for ${this.stallLimitMs / 1000} s: it misses messages until it reads again`);
        this.stuckClient = true;
        return this.sendSkippingFullQueues(this.socket, frames);
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 50);
    }
  }

  /** One send in ZeroMQ's lossy mode: clients with room get it, a full queue drops it. */
  private async sendSkippingFullQueues(socket: zmq.XPublisher | zmq.Publisher, frames: Buffer[]): Promise<void> {
    socket.noDrop = false;
    try {
      await socket.send(frames);
    } catch (e) {
      if (!this.closed) this.log(`send failed: ${(e as Error).message}`);
    } finally {
      if (!this.closed) socket.noDrop = true;
    }
  }

  send(msg: Message<unknown>): Promise<void> {
    const frames = encode(msg, this.signer);
    return this.sendFrames(frames);
  }

  sendFrames(frames: Buffer[]): Promise<void> {
    this.queue = this.queue.then(() => this.sendWithBackPressure(frames));
    return this.queue;
  }

  /**
   * Send from a ROUTER to a peer that may still be reconnecting (a client finding a restarted
   * kernel): a ROUTER silently drops what it cannot route, so send with ROUTER_MANDATORY and
   * retry while the peer is unreachable. Resolves false if it never became reachable.
   */
  sendWhenRoutable(msg: Message<unknown>, timeoutMs: number): Promise<boolean> {
    const router = this.socket as zmq.Router;
    const frames = encode(msg, this.signer);
    let delivered = false;
    this.queue = this.queue.then(async () => {
      const deadline = Date.now() + timeoutMs;
      router.mandatory = true;
      try {
        while (!this.closed) {
          try {
            await router.send(frames);
            delivered = true;
            return;
          } catch (e) {
            if ((e as { code?: string }).code !== "EHOSTUNREACH" || Date.now() > deadline) {
              this.log(`send failed: ${(e as Error).message}`);
              return;
            }
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      } finally {
        if (!this.closed) router.mandatory = false;
      }
    });
    return this.queue.then(() => delivered);
  }

  /** Yields verified messages; messages with a bad signature are logged and dropped. */
  async *messages(): AsyncGenerator<Message> {
    const s = this.socket as zmq.Readable & zmq.Socket;
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await s.receive();
      } catch (e) {
        if (this.closed || (e as { code?: string }).code === "EAGAIN") return;
        throw e;
      }
      try {
        yield decode(frames, this.signer);
      } catch (e) {
        if (e instanceof SignatureError) this.log("rejected a message with an invalid signature");
        else this.log(`dropped a malformed message: ${(e as Error).message}`);
      }
    }
  }

  /** Close at once, dropping queued sends. */
  closeNow(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  async close(): Promise<void> {
    await this.queue;
    this.closeNow();
  }
}

function isPublisher(socket: zmq.Socket): socket is zmq.XPublisher | zmq.Publisher {
  return socket instanceof zmq.XPublisher || socket instanceof zmq.Publisher;
}

/** The coalescing key of a display update: its display in its cell (others never coalesce). */
function updateKey(msg: Message<unknown>): string | undefined {
  if (msg.header.msg_type !== "update_display_data") return undefined;
  const id = (msg.content as { transient?: { display_id?: unknown } }).transient?.display_id;
  return typeof id === "string" ? `${parentId(msg)}\u0000${id}` : undefined;
}

/** Appends a stream message's text to the waiting one before it, when both are the same stream of one cell. */
function appendStream(last: Outgoing, msg: Message<unknown>): boolean {
  if (msg.header.msg_type !== "stream" || last.msg.header.msg_type !== "stream" || parentId(last.msg) !== parentId(msg)) return false;
  const prev = last.msg.content as { name?: unknown; text?: unknown };
  const next = msg.content as { name?: unknown; text?: unknown };
  if (prev.name !== next.name || typeof prev.text !== "string" || typeof next.text !== "string") return false;
  if (prev.text.length + next.text.length > STREAM_MERGE_LIMIT) return false;
  last.msg = { ...last.msg, content: { ...prev, text: prev.text + next.text } };
  return true;
}

function parentId(msg: Message<unknown>): string {
  return String((msg.parent_header as { msg_id?: unknown } | undefined)?.msg_id ?? "");
}

/** Bind, retrying for up to 2 s while a kernel that just died still holds the port. */
export async function bindWithRetry(socket: { bind(address: string): Promise<void> }, address: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await socket.bind(address);
    } catch (e) {
      if (attempt >= 20 || !/in use/i.test((e as Error).message)) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Heartbeat: echo every message back, forever. */
export async function serveHeartbeat(rep: zmq.Reply): Promise<void> {
  try {
    for await (const frames of rep) await rep.send(frames);
  } catch {
    // socket closed
  }
}

/** A Router with linger 0 so that closing never blocks the process exit. */
export function newRouter(): zmq.Router {
  return new zmq.Router({ linger: 0 });
}
