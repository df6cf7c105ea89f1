/**
 * Kernel faults (reliability issue): heap exhaustion, a killed kernel, junk on
 * the wire, 1000 cells in a row, and two kernels side by side. Faults are
 * injected into real kernel processes over ZeroMQ.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as fc from "fast-check";
import * as zmq from "zeromq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelClient } from "../../kernel/runner/client";
import { findKernelSpec } from "../../kernel/runner/kernelspec";
import { endpoint } from "../../kernel/protocol/connection";
import { encode, newHeader, Signer } from "../../kernel/protocol/wire";
import { alive, cells, CLI, mtlkitRun as runIn, NbOutput, tmpDir, waitUntil, workDir, writeNotebook } from "./helpers";

/** Heap limit for the kernels of these tests: enough for the compiler (~80 MiB), quick to exhaust. */
const HEAP_MB = 256;
let jupyterDir = "";
let work = "";
const savedJupyterPath = process.env.JUPYTER_PATH;

beforeAll(() => {
  jupyterDir = tmpDir("mtlkit-jupyter-faults-");
  const r = spawnSync(process.execPath, [CLI, "kernel", "install", "--jupyter-dir", jupyterDir, "--heap-mb", String(HEAP_MB)], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`kernel install failed: ${r.stderr}`);
  work = workDir("faults-");
  process.env.JUPYTER_PATH = jupyterDir; // for the in-process clients below
});

afterAll(() => {
  if (savedJupyterPath === undefined) delete process.env.JUPYTER_PATH;
  else process.env.JUPYTER_PATH = savedJupyterPath;
});

const mtlkitRun = (args: string[]) => runIn(jupyterDir, work, args, 150_000);

const text = (o: NbOutput | undefined) => ((o?.text ?? o?.data?.["text/plain"] ?? []) as string[]).join("");

describe("kernel faults", () => {
  it("a cell that exhausts the heap, or kills its own process, gets a clear error and a cleanly restarted kernel", () => {
    const nb = path.join(work, "crash.ipynb");
    writeNotebook(nb, [
      { source: "(globalThis as any).marker = 'set';\nprocess.pid" },
      {
        source: "const hoard: number[][] = [];\nfor (;;) hoard.push(new Array(100_000).fill(1.5));",
        tags: ["raises-exception"],
      },
      { source: "[typeof (globalThis as any).marker, process.pid]" },
      { source: "process.kill(process.pid, 'SIGKILL');", tags: ["raises-exception"] },
      { source: "6 * 7" },
    ]);
    const after = path.join(work, "after-crash.ipynb");
    writeNotebook(after, [{ source: "'next notebook'" }]);
    const out = path.join(work, "out-crash");
    const r = mtlkitRun([nb, after, "--out", out, "--timeout", "60"]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const c = cells(path.join(out, "crash.ipynb"));
    const firstPid = Number(text(c[0].outputs[0]));
    expect(firstPid).toBeGreaterThan(0);

    const heap = c[1].outputs.find((o) => o.output_type === "error")!;
    expect(heap.ename).toBe("KernelRestarted");
    expect(heap.evalue).toMatch(/^Cell \[2\] exhausted the JavaScript heap \(limit \d+ MiB\)\. The kernel was restarted/);
    expect(c[1].execution_count).toBe(2);

    // A fresh process with none of the earlier state.
    const [marker, secondPid] = JSON.parse(text(c[2].outputs[0]).replace(/'/g, '"')) as [string, number];
    expect(marker).toBe("undefined");
    expect(secondPid).not.toBe(firstPid);

    const killed = c[3].outputs.find((o) => o.output_type === "error")!;
    expect(killed.ename).toBe("KernelRestarted");
    expect(killed.evalue).toContain("signal SIGKILL");
    expect(text(c[4].outputs[0])).toBe("42");
    expect(text(cells(path.join(out, "after-crash.ipynb"))[0].outputs[0])).toBe("'next notebook'");
  }, 180_000);

  it("stops the notebook at a heap-exhausting cell without allow-errors, saying so", () => {
    const nb = path.join(work, "oom-stop.ipynb");
    writeNotebook(nb, [
      { source: "1" },
      { source: "const h: string[][] = [];\nfor (;;) h.push(new Array(50_000).fill('x'));" },
      { source: "2" },
    ]);
    const r = mtlkitRun([nb, "--out", path.join(work, "out-oom")]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/oom-stop\.ipynb\s+2\s+[\d.]+\s+error/);
    expect(r.stdout).toMatch(/cell 2: KernelRestarted: Cell \[2\] exhausted the JavaScript heap/);
    expect(cells(path.join(work, "out-oom", "oom-stop.ipynb"))[2].outputs).toEqual([]);
  }, 120_000);

  it("when the kernel process is killed during a cell, the runner reports the cell, saves what ran and goes on", async () => {
    const nb = path.join(work, "killed.ipynb");
    writeNotebook(nb, [
      { source: "console.log('ran first');\n[process.pid, process.ppid]" },
      {
        // Kill the process the runner started (the supervisor) a moment after printing.
        source:
          "console.log('about to die');\nsetTimeout(() => process.kill(process.ppid, 'SIGKILL'), 300);\nawait new Promise((r) => setTimeout(r, 20_000));",
      },
      { source: "'never runs'" },
    ]);
    const before = fs.readFileSync(nb);
    const next = path.join(work, "next.ipynb");
    writeNotebook(next, [{ source: "6 * 7" }]);
    const out = path.join(work, "out-killed");
    const r = mtlkitRun([nb, next, "--out", out]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/killed\.ipynb\s+2\s+[\d.]+\s+kernel died/);
    expect(r.stdout).toMatch(/killed\.ipynb: cell 2: kernel mtlkit died \(signal SIGKILL\)/);
    expect(r.stdout).toMatch(/next\.ipynb\s+1\s+[\d.]+\s+ok/);
    expect(fs.readFileSync(nb).equals(before)).toBe(true);

    const c = cells(path.join(out, "killed.ipynb"));
    expect(text(c[0].outputs[0])).toBe("ran first\n");
    expect(c[1].outputs.map((o) => o.output_type)).toEqual(["stream", "error"]);
    expect(text(c[1].outputs[0])).toBe("about to die\n");
    expect(c[1].outputs[1].ename).toBe("KernelDied");
    expect(c[2].outputs).toEqual([]);
    expect(fs.existsSync(path.join(out, "killed.html"))).toBe(true);
    expect(text(cells(path.join(out, "next.ipynb"))[0].outputs[0])).toBe("42");

    // The kernel under the killed supervisor does not linger as an orphan.
    const [kernelPid] = JSON.parse(text(c[0].outputs[1])) as number[];
    expect(await waitUntil(() => !alive(kernelPid), 5000)).toBe(true);
  }, 120_000);

  it("the restarted kernel's reply reaches a client whose shell reconnects after its IOPub", async () => {
    // A ROUTER drops what it cannot route: the reply must wait for the client's shell to be back.
    const client = new KernelClient(findKernelSpec("mtlkit"), work, { reconnectIntervalMs: 1500 });
    await client.start();
    try {
      const r = await client.execute("process.kill(process.pid, 'SIGKILL');", { timeoutMs: 30_000 });
      expect(r.timedOut).toBe(false);
      expect(r.reply.status).toBe("error");
      expect(r.reply.ename).toBe("KernelRestarted");
      expect((await client.execute("1 + 1")).reply.status).toBe("ok");
    } finally {
      await client.shutdown();
    }
  }, 120_000);

  it("junk on the wire is logged and dropped; the kernel keeps answering", async () => {
    const client = new KernelClient(findKernelSpec("mtlkit"), work);
    await client.start();
    const info = client.connection;
    const signer = new Signer(info.signature_scheme, info.key);
    const raw = new zmq.Dealer({ linger: 0, routingId: "fuzzer" });
    raw.connect(endpoint(info, "shell"));
    const control = new zmq.Dealer({ linger: 0, routingId: "fuzzer" });
    control.connect(endpoint(info, "control"));
    try {
      const header = (type: string) => newHeader(type, "fuzz-session");
      const json = (v: unknown) => Buffer.from(JSON.stringify(v));
      const valid = encode(
        { identities: [], header: header("kernel_info_request"), parent_header: {}, metadata: {}, content: {}, buffers: [] },
        signer,
      );
      const signed = (parts: Buffer[]) => [Buffer.from("<IDS|MSG>"), Buffer.from(signer.sign(parts)), ...parts];
      const junk: Buffer[][] = [
        [Buffer.from("no delimiter at all")],
        [Buffer.from("<IDS|MSG>"), Buffer.from("sig")], // truncated
        [Buffer.from("<IDS|MSG>"), Buffer.from("0".repeat(64)), ...valid.slice(2)], // bad signature
        [Buffer.from("<IDS|MSG>"), Buffer.from(""), ...valid.slice(2)], // unsigned
        signed([Buffer.from("{not json"), json({}), json({}), json({})]),
        signed([json({ msg_id: "x" }), json({}), json({}), json({})]), // no msg_type
        signed([json([1, 2]), json({}), json({}), json({})]), // header not an object
        signed([json(header("frobnicate_request")), json({}), json({}), json({})]), // unknown type
        signed([json(header("execute_request")), json({}), json({}), json({ code: { not: "a string" } })]),
        signed([json(header("complete_request")), json({}), json({}), json({ code: "Math.", cursor_pos: "abc" })]),
        [Buffer.alloc(0)],
      ];
      /** Send a proper kernel_info_request on the junk socket and wait for its reply. */
      const stillAnswers = async () => {
        // Its own msg_id: the generated junk holds kernel_info_requests too, answered earlier.
        const probe = header("kernel_info_request");
        await raw.send(encode({ identities: [], header: probe, parent_header: {}, metadata: {}, content: {}, buffers: [] }, signer));
        const deadline = Date.now() + 30_000;
        // One receive at a time: a zeromq socket refuses a second receive while one is pending
        // ("Socket is busy reading"), so a receive that outlived its wait is reused, not restarted.
        let pending: Promise<Buffer[]> | null = null;
        while (Date.now() < deadline) {
          pending ??= raw.receive();
          const frames = await Promise.race([pending, new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
          if (!frames) continue;
          pending = null;
          if (frames.some((f) => f.toString().includes(probe.msg_id))) return true;
        }
        pending?.catch(() => undefined); // rejected when the socket closes
        return false;
      };
      for (const frames of junk) await raw.send(frames);
      for (const frames of junk.slice(0, 8)) await control.send(frames);
      expect(await stillAnswers()).toBe(true);
      // The log reaches us through the supervisor's stderr, possibly after the reply: wait for it.
      const logged = [
        /invalid signature/,
        /malformed message: no <IDS\|MSG> delimiter/,
        /malformed message: truncated message/,
        /malformed message: bad header frame/,
        /header lacks msg_type/,
        /unknown shell message frobnicate_request/,
      ];
      await waitUntil(() => logged.every((re) => re.test(client.stderr)), 10_000);
      for (const re of logged) expect(client.stderr).toMatch(re);
      // Then generated junk: random frames, and signed messages whose parts are random JSON
      // (known and unknown msg_types, contents of any shape).
      const anyJson = fc.jsonValue({ maxDepth: 3 });
      const types = fc.constantFrom(
        "execute_request",
        "complete_request",
        "inspect_request",
        "is_complete_request",
        "history_request",
        "comm_info_request",
        "comm_open",
        "comm_msg",
        "kernel_info_request",
        "no_such_request",
      );
      const generated = fc.sample(
        fc.oneof(
          fc.array(
            fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
            { maxLength: 8 },
          ),
          fc
            .tuple(types, anyJson, anyJson, anyJson)
            .map(([type, parent, metadata, content]) => signed([json(header(type)), json(parent), json(metadata), json(content)])),
          fc.tuple(anyJson, anyJson).map(([h, c]) => signed([json(h), json({}), json({}), json(c)])),
        ),
        { numRuns: 300, seed: 20261128 },
      );
      for (const frames of generated) await raw.send(frames.length ? frames : [Buffer.alloc(0)]);
      expect(await stillAnswers()).toBe(true);
      const r = await client.execute("40 + 2");
      expect(r.reply.status).toBe("ok");
      expect(client.exited).toBeNull();
    } finally {
      raw.close();
      control.close();
      await client.shutdown();
    }
  }, 120_000);

  it("1000 cells in a row leave memory flat: outputs, values and tensors are not kept", async () => {
    const client = new KernelClient(findKernelSpec("mtlkit"), work);
    await client.start();
    try {
      const setup = await client.execute(
        [
          'import * as tf from "@tensorflow/tfjs";',
          'await tf.setBackend("cpu");',
          "let total = 0;",
          "const usage = () => {",
          "  const v8 = require('v8'); v8.setFlagsFromString('--expose-gc');",
          "  const gc = require('vm').runInNewContext('gc'); gc(); gc();",
          "  return JSON.stringify({ heap: process.memoryUsage().heapUsed, tensors: tf.memory().numTensors });",
          "};",
        ].join("\n"),
      );
      expect(setup.reply.status).toBe("ok");
      const reading = async () => {
        const r = await client.execute("usage()");
        const shown = r.messages.find((m) => m.header.msg_type === "execute_result")!.content as { data: Record<string, string> };
        return JSON.parse(shown.data["text/plain"].slice(1, -1)) as { heap: number; tensors: number };
      };
      // GC leaves some noise upwards: take the lowest of three readings.
      const usage = async () => {
        const rs = [await reading(), await reading(), await reading()];
        return { heap: Math.min(...rs.map((r) => r.heap)), tensors: rs[0].tensors };
      };
      // Each cell prints 32 KiB, returns a 32 KiB value and makes (and frees) tensors.
      const cell = (i: number) =>
        `total += ${i};\nconsole.log("x".repeat(32768));\ntf.tidy(() => tf.ones([64, 64]).mul(${i}).sum().dataSync()[0]);\n"y".repeat(32768) + ${i}`;
      const marks: { cell: number; heap: number; tensors: number }[] = [];
      for (let i = 1; i <= 1000; i++) {
        const r = await client.execute(cell(i));
        expect(r.reply.status).toBe("ok");
        if (i === 250 || i === 1000) marks.push({ cell: i, ...(await usage()) });
      }
      const perCell = (marks[1].heap - marks[0].heap) / 750;
      const mib = (b: number) => (b / 2 ** 20).toFixed(1);
      console.log(
        `kernel heap after cell 250: ${mib(marks[0].heap)} MiB, after 1000: ${mib(marks[1].heap)} MiB (${(perCell / 1024).toFixed(2)} KiB/cell); tensors ${marks[0].tensors} → ${marks[1].tensors}`,
      );
      expect(marks[1].tensors).toBe(marks[0].tensors);
      // Each cell produced 64 KiB; what stays is the TypeScript compiler's and V8's
      // record of each compiled cell and the source kept for tracebacks (~10 KiB
      // measured). Keeping a cell's output or result would add 32-64 KiB.
      expect(perCell).toBeLessThan(16 * 1024);
    } finally {
      await client.shutdown();
    }
  }, 300_000);

  it("two kernels run side by side on their own ports with their own state", async () => {
    const a = new KernelClient(findKernelSpec("mtlkit"), work);
    const b = new KernelClient(findKernelSpec("mtlkit"), work);
    await Promise.all([a.start(), b.start()]);
    try {
      const ports = (k: KernelClient) => [
        k.connection.shell_port,
        k.connection.iopub_port,
        k.connection.stdin_port,
        k.connection.control_port,
        k.connection.hb_port,
      ];
      expect(new Set([...ports(a), ...ports(b)]).size).toBe(10);
      await Promise.all([a.execute("let who = 'a'"), b.execute("let who = 'b'")]);
      const [ra, rb] = await Promise.all([a.execute("who"), b.execute("who")]);
      const value = (r: Awaited<ReturnType<KernelClient["execute"]>>) =>
        (r.messages.find((m) => m.header.msg_type === "execute_result")!.content as { data: Record<string, string> }).data["text/plain"];
      expect([value(ra), value(rb)]).toEqual(["'a'", "'b'"]);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  }, 120_000);
});
