/**
 * The IOPub socket (WireSocket.publish on an XPUB) against real ZeroMQ subscribers: a slow client
 * loses nothing, a display's stale updates coalesce and stream text merges while messages wait,
 * order is kept, and a client stuck past the stall limit stops holding the others back.
 */
import * as zmq from "zeromq";
import { afterEach, describe, expect, it } from "vitest";
import { WireSocket } from "../../kernel/protocol/sockets";
import { decode, JsonObject, Message, newHeader, replyTo, Signer } from "../../kernel/protocol/wire";

const signer = new Signer("hmac-sha256", "test-key");
const session = "iopub-test";
const request: Message = {
  identities: [],
  header: newHeader("execute_request", "client"),
  parent_header: {},
  metadata: {},
  content: {},
  buffers: [],
};
const open: Array<{ close(): void }> = [];

afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

const msg = (type: string, content: JsonObject) => replyTo(request, type, content, session, [Buffer.from(type)]);
const update = (text: string) =>
  msg("update_display_data", { data: { "text/plain": text }, metadata: {}, transient: { display_id: "progress" } });
const display = (text: string) => msg("display_data", { data: { "text/plain": text }, metadata: {}, transient: {} });
const stream = (text: string) => msg("stream", { name: "stdout", text });
const status = (state: string) => msg("status", { execution_state: state });

/** An IOPub WireSocket on a loopback port, with a small send queue so that tests fill it fast. */
async function iopub(stallLimitMs?: number): Promise<{ pub: WireSocket; xpub: zmq.XPublisher; address: string }> {
  const xpub = new zmq.XPublisher({ linger: 0, sendHighWaterMark: 10 });
  xpub.verbosity = "allSubs"; // report every subscription, so that each subscriber below can wait for its own
  await xpub.bind("tcp://127.0.0.1:*");
  const pub = new WireSocket(xpub, signer, () => {}, stallLimitMs);
  open.push({ close: () => pub.closeNow() });
  return { pub, xpub, address: xpub.lastEndpoint! };
}

/** A subscriber with a tiny receive queue, connected once the publisher has seen its subscription. */
async function subscriber(xpub: zmq.XPublisher, address: string): Promise<{ sub: zmq.Subscriber; next: () => Promise<Message> }> {
  const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 10, receiveTimeout: 10_000 });
  open.push(sub);
  sub.subscribe();
  sub.connect(address);
  await xpub.receive(); // the subscription frame
  return { sub, next: async () => decode(await sub.receive(), signer) };
}

const text = (m: Message) => {
  const c = m.content as { data?: { "text/plain"?: string }; text?: string; execution_state?: string };
  return c.data?.["text/plain"] ?? c.text ?? c.execution_state ?? "";
};

describe("IOPub publish", () => {
  it("coalesces a display's waiting updates, merges stream text, and keeps everything else whole and in order", async () => {
    const { pub, xpub, address } = await iopub();
    const { next } = await subscriber(xpub, address);
    // All of this is published before the socket takes the first message (as in a busy cell).
    pub.publish(status("busy"));
    pub.publish(display("bar 0"));
    for (let i = 1; i <= 1000; i++) pub.publish(update(`bar ${i}`));
    for (let i = 0; i < 100; i++) pub.publish(stream("."));
    pub.publish(update("bar final")); // replaces the update still waiting, before the stream
    pub.publish(msg("execute_result", { execution_count: 1, data: { "text/plain": "42" }, metadata: {} }));
    pub.publish(status("idle"));
    const got: Message[] = [];
    while (got.length < 6) got.push(await next());
    expect(got.map((m) => `${m.header.msg_type}:${text(m)}`)).toEqual([
      "status:busy",
      "display_data:bar 0",
      "update_display_data:bar final",
      `stream:${".".repeat(100)}`,
      "execute_result:42",
      "status:idle",
    ]);
  });

  it("loses nothing for a subscriber that stops reading for a while (back-pressure, not drops)", async () => {
    const { pub, xpub, address } = await iopub();
    const { next } = await subscriber(xpub, address);
    const pad = "x".repeat(1000);
    for (let i = 0; i < 3000; i++) pub.publish(display(`${i} ${pad}`)); // outputs never coalesce
    pub.publish(status("idle"));
    await new Promise((r) => setTimeout(r, 500)); // not reading: the send queue fills
    expect(pub.backlog).toBeGreaterThan(0); // held in the outbox, not dropped
    for (let i = 0; i < 3000; i++) expect(text(await next()).split(" ")[0]).toBe(String(i));
    expect(text(await next())).toBe("idle");
  });

  it("stops waiting for a client stuck past the stall limit: the client that reads gets everything", async () => {
    const { pub, xpub, address } = await iopub(300);
    const reader = await subscriber(xpub, address);
    await subscriber(xpub, address); // stuck: never reads
    const pad = "x".repeat(1000);
    for (let i = 0; i < 3000; i++) pub.publish(display(`${i} ${pad}`));
    pub.publish(status("idle"));
    const t0 = Date.now();
    for (let i = 0; i < 3000; i++) expect(text(await reader.next()).split(" ")[0]).toBe(String(i));
    expect(text(await reader.next())).toBe("idle");
    expect(Date.now() - t0).toBeLessThan(8000);
  });
});
