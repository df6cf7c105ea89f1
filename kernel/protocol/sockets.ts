/** ZeroMQ sockets speaking the Jupyter wire protocol, with ordered sends. */
import * as zmq from "zeromq";
import { decode, encode, Message, SignatureError, Signer } from "./wire";

type Log = (line: string) => void;

/**
 * A socket whose sends are queued so that at most one is in flight
 * (zeromq 6 rejects concurrent sends) and messages keep their order.
 */
export class WireSocket {
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly socket: zmq.Router | zmq.Publisher | zmq.XPublisher | zmq.Dealer | zmq.Subscriber,
    private readonly signer: Signer,
    private readonly log: Log = () => {},
  ) {}

  send(msg: Message<unknown>): Promise<void> {
    const frames = encode(msg, this.signer);
    return this.sendFrames(frames);
  }

  sendFrames(frames: Buffer[]): Promise<void> {
    const s = this.socket as zmq.Writable & zmq.Socket;
    this.queue = this.queue.then(async () => {
      if (this.closed) return;
      try {
        await s.send(frames);
      } catch (e) {
        if (!this.closed) this.log(`send failed: ${(e as Error).message}`);
      }
    });
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
