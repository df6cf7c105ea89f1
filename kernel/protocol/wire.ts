/**
 * Jupyter wire protocol (messaging spec 5.3): framing of multipart ZeroMQ
 * messages and their HMAC signatures.
 *
 *   [identities…, "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers…]
 *
 * The signature is the hex HMAC (connection file `signature_scheme`, e.g.
 * "hmac-sha256") of the four JSON frames, in order. An empty key disables signing.
 */
import { createHmac, randomUUID, timingSafeEqual } from "crypto";

export const PROTOCOL_VERSION = "5.3";
const DELIMITER = "<IDS|MSG>";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [extra: string]: unknown;
}

export type JsonObject = Record<string, unknown>;

export interface Message<C = JsonObject> {
  /** ZeroMQ routing identities (ROUTER sockets) or the topic (IOPub). */
  identities: Buffer[];
  header: Header;
  /** `{}` when there is no parent. */
  parent_header: Header | Record<string, never>;
  metadata: JsonObject;
  content: C;
  buffers: Buffer[];
}

export class SignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SignatureError";
  }
}

export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireFormatError";
  }
}

/** A validly signed message whose signature was seen before: a replay (dropped, as ipykernel does). */
export class ReplayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReplayError";
  }
}

/** How many signatures a Signer remembers to reject replays (the oldest are forgotten first). */
export const SIGNATURE_HISTORY = 10_000;

/** Signs and verifies messages with the connection's key and scheme. */
export class Signer {
  private readonly algorithm: string | null;
  private readonly key: Buffer;
  /** Signatures of the messages this signer accepted, oldest first (a Set keeps insertion order). */
  private readonly seen = new Set<string>();

  constructor(
    scheme: string,
    key: string,
    private readonly historySize = SIGNATURE_HISTORY,
  ) {
    this.key = Buffer.from(key, "utf8");
    if (key === "") {
      this.algorithm = null;
      return;
    }
    const m = /^hmac-(sha\d+|md5)$/.exec(scheme);
    if (!m) {
      throw new WireFormatError(`unsupported signature_scheme "${scheme}" (expected e.g. "hmac-sha256")`);
    }
    this.algorithm = m[1];
  }

  /** Hex digest of the given frames; "" when signing is disabled. */
  sign(frames: readonly Buffer[]): string {
    if (this.algorithm === null) return "";
    const h = createHmac(this.algorithm, this.key);
    for (const f of frames) h.update(f);
    return h.digest("hex");
  }

  verify(signature: string, frames: readonly Buffer[]): boolean {
    if (this.algorithm === null) return true;
    const expected = Buffer.from(this.sign(frames), "utf8");
    const got = Buffer.from(signature, "utf8");
    return expected.length === got.length && timingSafeEqual(expected, got);
  }

  /**
   * Record the signature of a verified message; false when it was recorded before, i.e. the
   * message is a replay. Every message has its own msg_id and date, so a repeated signature
   * is never a new message. Without a key there are no signatures to compare.
   */
  remember(signature: string): boolean {
    if (this.algorithm === null) return true;
    if (this.seen.has(signature)) return false;
    this.seen.add(signature);
    if (this.seen.size > this.historySize) this.seen.delete(this.seen.values().next().value as string);
    return true;
  }
}

export function newHeader(msgType: string, session: string, username = "mtlkit"): Header {
  return {
    msg_id: randomUUID(),
    session,
    username,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** Serialize `msg` into ZeroMQ frames, signed. */
export function encode(msg: Message<unknown>, signer: Signer): Buffer[] {
  const json = [msg.header, msg.parent_header, msg.metadata, msg.content].map((part) => Buffer.from(JSON.stringify(part ?? {}), "utf8"));
  const signature = signer.sign(json);
  return [...msg.identities, Buffer.from(DELIMITER), Buffer.from(signature), ...json, ...msg.buffers];
}

/**
 * Parse frames into a message. Throws SignatureError when the HMAC does not
 * match, ReplayError when the signer accepted the same signature before, and
 * WireFormatError when the frames are not a Jupyter message.
 */
export function decode(frames: readonly Buffer[], signer: Signer): Message {
  const delim = frames.findIndex((f) => f.length === DELIMITER.length && f.toString() === DELIMITER);
  if (delim < 0) throw new WireFormatError("no <IDS|MSG> delimiter in message");
  if (frames.length < delim + 6) throw new WireFormatError(`truncated message (${frames.length} frames)`);
  const signature = frames[delim + 1].toString("utf8");
  const json = frames.slice(delim + 2, delim + 6);
  if (!signer.verify(signature, json)) throw new SignatureError("invalid HMAC signature");
  if (!signer.remember(signature)) throw new ReplayError("replayed message (its signature was seen before)");
  const parse = (b: Buffer, what: string): JsonObject => {
    try {
      const v: unknown = JSON.parse(b.toString("utf8"));
      if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
      return v as JsonObject;
    } catch (e) {
      throw new WireFormatError(`bad ${what} frame: ${(e as Error).message}`);
    }
  };
  const header = parse(json[0], "header") as Header;
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") {
    throw new WireFormatError("header lacks msg_type/msg_id");
  }
  return {
    identities: frames.slice(0, delim).map((b) => Buffer.from(b)),
    header,
    parent_header: parse(json[1], "parent_header") as Header,
    metadata: parse(json[2], "metadata"),
    content: parse(json[3], "content"),
    buffers: frames.slice(delim + 6).map((b) => Buffer.from(b)),
  };
}

/** A reply or broadcast for `parent`, addressed to the same identities. */
export function replyTo<C>(
  parent: Message<unknown> | null,
  msgType: string,
  content: C,
  session: string,
  identities?: Buffer[],
): Message<C> {
  return {
    identities: identities ?? parent?.identities ?? [],
    header: newHeader(msgType, session),
    parent_header: parent ? parent.header : {},
    metadata: {},
    content,
    buffers: [],
  };
}
