/**
 * The kernel under load, over the real protocol: IOPub never drops a message a client needs (a
 * slow subscriber gets the result and the idle status after a flood of display updates), and an
 * interrupt during `await trainer.fit(...)` stops the training itself, not only the cell.
 */
import * as fs from "fs";
import * as path from "path";
import * as zmq from "zeromq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelClient } from "../../kernel/runner/client";
import { findKernelSpec } from "../../kernel/runner/kernelspec";
import { endpoint } from "../../kernel/protocol/connection";
import { decode, Header, Message, Signer } from "../../kernel/protocol/wire";
import { installKernelSpec, mtlkitWorkDir } from "./helpers";

let client: KernelClient;
let work = "";
const savedJupyterPath = process.env.JUPYTER_PATH;

beforeAll(async () => {
  process.env.JUPYTER_PATH = installKernelSpec();
  work = mtlkitWorkDir("progress-kernel-");
  client = new KernelClient(findKernelSpec("mtlkit"), work);
  await client.start();
}, 120_000);

afterAll(async () => {
  await client?.shutdown();
  fs.rmSync(work, { recursive: true, force: true }); // (its node_modules/mtlkit links back to the repo: do not leave it)
  if (savedJupyterPath === undefined) delete process.env.JUPYTER_PATH;
  else process.env.JUPYTER_PATH = savedJupyterPath;
});

const plain = (m: Message | undefined) =>
  String((m?.content as { data?: Record<string, unknown> } | undefined)?.data?.["text/plain"] ?? "");
const parentId = (m: Message) => (m.parent_header as Header).msg_id;

describe("IOPub under a flood", () => {
  it("a subscriber that does not read for a while still gets every result, the last output and the idle status", async () => {
    const info = client.connection;
    const signer = new Signer(info.signature_scheme, info.key);
    // A slow client: a tiny receive queue, and it does not read while the cell floods IOPub.
    const slow = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 10, receiveTimeout: 15_000 });
    slow.subscribe();
    slow.connect(endpoint(info, "iopub"));
    const next = async () => decode(await slow.receive(), signer);
    try {
      // Wait until the subscription has reached the kernel: a probe's idle status comes through.
      for (let seen = false; !seen; ) {
        const probe = await client.execute("'probe'");
        const id = parentId(probe.messages[0]);
        slow.receiveTimeout = 2000;
        try {
          for (;;) {
            const m = await next();
            if (
              m.header.msg_type === "status" &&
              parentId(m) === id &&
              (m.content as { execution_state: string }).execution_state === "idle"
            )
              break;
          }
          seen = true;
        } catch {
          // not subscribed yet: probe again
        }
      }
      slow.receiveTimeout = 15_000;

      const flood = [
        "const flood = newDisplay();",
        "const pad = 'x'.repeat(2000);",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the cell's own template literal.
        "for (let i = 0; i < 20000; i++) flood.update(`update ${i} ${pad}`);",
        "console.log('printed after the flood');",
        "'flood done'",
      ].join("\n");
      const running = client.execute(flood, { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 2000)); // the slow client reads nothing meanwhile

      const got: Message[] = [];
      let floodId = "";
      for (;;) {
        const m = await next(); // rejects (receive timeout) if the kernel dropped what is missing
        if (m.header.msg_type === "execute_input") floodId = parentId(m);
        if (!floodId || parentId(m) !== floodId) continue;
        got.push(m);
        if (m.header.msg_type === "status" && (m.content as { execution_state: string }).execution_state === "idle") break;
      }
      const types = got.map((m) => m.header.msg_type);
      expect(types[0]).toBe("execute_input");
      expect(types.at(-1)).toBe("status");
      const result = got.find((m) => m.header.msg_type === "execute_result");
      expect(plain(result)).toBe("'flood done'");
      const stream = got
        .filter((m) => m.header.msg_type === "stream")
        .map((m) => (m.content as { text: string }).text)
        .join("");
      expect(stream).toBe("printed after the flood\n");
      // The display's stale updates were coalesced while the client was behind: the newest survives.
      const updates = got.filter((m) => m.header.msg_type === "update_display_data");
      expect(updates.length).toBeGreaterThan(0);
      expect(updates.length).toBeLessThan(50);
      expect(plain(updates.at(-1))).toMatch(/^'update 19999 x/);
      // Outputs keep their order: the display, its updates, the print, the result, idle.
      expect(types.indexOf("display_data")).toBeLessThan(types.indexOf("update_display_data"));
      expect(types.lastIndexOf("update_display_data")).toBeLessThan(types.indexOf("stream"));
      expect(types.indexOf("stream")).toBeLessThan(types.indexOf("execute_result"));
      // The fast client got its answer as well.
      const r = await running;
      expect(r.reply.status).toBe("ok");
      expect(plain(r.messages.find((m) => m.header.msg_type === "execute_result"))).toBe("'flood done'");
    } finally {
      slow.close(); // a subscriber that stops reading would hold the kernel's IOPub back
    }
  }, 90_000);
});

describe("interrupting a fit", () => {
  it("stops the training at a step boundary: after the interrupt the history stays put, and the trainer trains on and saves", async () => {
    const setup = [
      'import * as mtl from "mtlkit";',
      "const rng = new mtl.Rng(1);",
      "const x = Array.from({ length: 40 }, () => [rng.normal(), rng.normal()]);",
      'const tasks = [mtl.tasks.regression("a"), mtl.tasks.regression("b")];',
      "const data = mtl.fromArrays({ x, targets: { a: x.map((r) => r[0]), b: x.map((r) => r[1]) }, tasks });",
      "const model = mtl.hardSharing({ inputSize: 2, trunk: [4], tasks, seed: 1 });",
      "const trainer = new mtl.Trainer({ model, tasks, batchSize: 2, epochs: 100000 });",
    ].join("\n");
    expect((await client.execute(setup, { timeoutMs: 60_000 })).reply.status).toBe("ok");

    // The runner's client interrupts (interrupt_request) a cell that runs past its timeout.
    const fit = await client.execute("await trainer.fit(data)", { timeoutMs: 4000, graceMs: 10_000 });
    expect(fit.timedOut).toBe(true);
    expect(fit.reply.ename).toBe("Interrupted");

    const after = await client.execute(
      "const n0 = trainer.history.steps.length;\nawait new Promise((r) => setTimeout(r, 1000));\nJSON.stringify([n0, trainer.history.steps.length, trainer.step])",
      { timeoutMs: 30_000 },
    );
    const [n0, n1, step] = JSON.parse(plain(after.messages.find((m) => m.header.msg_type === "execute_result")).slice(1, -1)) as number[];
    expect(n0).toBeGreaterThan(0);
    expect(n1).toBe(n0); // nothing trains in the background
    expect(step).toBe(n0);

    const dir = path.join(work, "checkpoints");
    const more = await client.execute(
      `await trainer.fit(data, { epochs: 1 });\nawait trainer.save(${JSON.stringify(dir)});\nJSON.stringify([trainer.history.steps.length, trainer.history.steps.every((s, i) => s.step === i)])`,
      { timeoutMs: 60_000 },
    );
    expect(more.reply.status, JSON.stringify(more.reply)).toBe("ok");
    const [n2, contiguous] = JSON.parse(plain(more.messages.find((m) => m.header.msg_type === "execute_result")).slice(1, -1)) as [
      number,
      boolean,
    ];
    expect(n2).toBeGreaterThan(n0);
    expect(n2).toBeLessThanOrEqual(n0 + 20); // the rest of the interrupted epoch (20 steps per epoch)
    expect(contiguous).toBe(true);
    expect(fs.readdirSync(dir).length).toBeGreaterThan(0);
  }, 90_000);

  it("stops a long evaluate (synchronous) and leaves no tensor behind", async () => {
    const prepare = await client.execute(
      [
        "const rows = Array.from({ length: 200000 }, (_, i) => [Math.sin(i), Math.cos(i)]);",
        "const big = mtl.fromArrays({ x: rows, targets: { a: rows.map((r) => r[0]), b: rows.map((r) => r[1]) }, tasks });",
        "const tensorsBefore = mtl.tf.memory().numTensors;",
      ].join("\n"),
      { timeoutMs: 60_000 },
    );
    expect(prepare.reply.status, JSON.stringify(prepare.reply)).toBe("ok");
    const started = Date.now();
    // Batches of one row: 200000 forward passes, seconds of work on any machine, so the interrupt
    // lands while it runs (at 8 rows a batch the faster kernels finished it within the 1.5 s).
    const ev = await client.execute("trainer.evaluate(big, 1)", { timeoutMs: 1500, graceMs: 10_000 });
    expect(ev.timedOut).toBe(true);
    expect(ev.reply.ename).toBe("Interrupted");
    expect(Date.now() - started).toBeLessThan(8000);
    const after = await client.execute("mtl.tf.memory().numTensors - tensorsBefore", { timeoutMs: 30_000 });
    expect(plain(after.messages.find((m) => m.header.msg_type === "execute_result"))).toBe("0");
  }, 90_000);

  it("stops a fit that no cell awaits any more (started without await) when the idle kernel is interrupted", async () => {
    const started = await client.execute(
      "const background = trainer.fit(data, { epochs: 100000 });\nbackground.catch(() => undefined);\nawait new Promise((r) => setTimeout(r, 500));\ntrainer.history.steps.length",
      { timeoutMs: 30_000 },
    );
    expect(started.reply.status, JSON.stringify(started.reply)).toBe("ok");
    await client.interrupt();
    const after = await client.execute(
      "const m0 = trainer.history.steps.length;\nawait new Promise((r) => setTimeout(r, 1000));\nconst stopped = await background.then(() => 'finished', (e) => e.name);\nJSON.stringify([m0, trainer.history.steps.length, stopped])",
      { timeoutMs: 30_000 },
    );
    const [m0, m1, stopped] = JSON.parse(plain(after.messages.find((m) => m.header.msg_type === "execute_result")).slice(1, -1)) as [
      number,
      number,
      string,
    ];
    expect(m1).toBe(m0); // nothing trains in the background
    expect(stopped).toBe("TrainingInterrupted");
  }, 90_000);
});
