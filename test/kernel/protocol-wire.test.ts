/** Replay protection in the wire format: a Signer accepts each signature once, remembering a bounded number. */
import { describe, expect, it } from "vitest";
import { decode, encode, newHeader, ReplayError, SignatureError, Signer } from "../../kernel/protocol/wire";

const message = (code: string) => ({
  identities: [],
  header: newHeader("execute_request", "s"),
  parent_header: {},
  metadata: {},
  content: { code },
  buffers: [],
});

describe("replayed messages", () => {
  it("the same signed frames decode once; a second time they are a ReplayError", () => {
    const signer = new Signer("hmac-sha256", "secret");
    const frames = encode(message("1"), signer);
    expect(decode(frames, signer).content).toEqual({ code: "1" });
    expect(() => decode(frames, signer)).toThrow(ReplayError);
    // Not a signature failure: a replay is a valid message seen before.
    expect(() => decode(frames, signer)).not.toThrow(SignatureError);
    expect(decode(encode(message("1"), signer), signer).content).toEqual({ code: "1" });
  });

  it("remembers the last historySize signatures, forgetting the oldest first", () => {
    const signer = new Signer("hmac-sha256", "secret", 3);
    const sent = [1, 2, 3, 4].map((i) => encode(message(String(i)), signer));
    for (const f of sent) decode(f, signer);
    expect(() => decode(sent[3], signer)).toThrow(ReplayError);
    expect(() => decode(sent[1], signer)).toThrow(ReplayError);
    expect(decode(sent[0], signer).content).toEqual({ code: "1" }); // forgotten: 4 > 3
  });

  it("without a key there are no signatures to compare, and nothing is refused", () => {
    const signer = new Signer("hmac-sha256", "");
    const frames = encode(message("1"), signer);
    decode(frames, signer);
    expect(decode(frames, signer).content).toEqual({ code: "1" });
  });
});
