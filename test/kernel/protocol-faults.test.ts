/**
 * Protocol robustness of a real kernel over ZeroMQ: a failing compiler never wedges the kernel,
 * replayed messages are dropped, stop_on_error and interrupts reach exactly the cells they should,
 * shutdown ends a kernel busy in synchronous code (and what it started), and a cell run with
 * store_history false is not retained.
 */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as zmq from "zeromq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelClient } from "../../kernel/runner/client";
import { findKernelSpec } from "../../kernel/runner/kernelspec";
import { endpoint } from "../../kernel/protocol/connection";
import { encode, JsonObject, Message, newHeader, Signer } from "../../kernel/protocol/wire";
import { alive, CLI, haveJupyter, PYTHON, REPO, requireTool, tmpDir, waitUntil } from "./helpers";

let jupyterDir = "";
let work = "";
const saved = { JUPYTER_PATH: process.env.JUPYTER_PATH, MTLKIT_TEST_FAULTS: process.env.MTLKIT_TEST_FAULTS };

beforeAll(() => {
  jupyterDir = tmpDir("mtlkit-jupyter-protocol-");
  const r = spawnSync(process.execPath, [CLI, "kernel", "install", "--jupyter-dir", jupyterDir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kernel install failed: ${r.stderr}`);
  // Outside node_modules: TypeScript watches failed module lookups (the wedge below) only there.
  work = tmpDir("mtlkit-protocol-");
  process.env.JUPYTER_PATH = jupyterDir;
  process.env.MTLKIT_HISTORY_FILE = path.join(work, "history.jsonl");
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  fs.rmSync(work, { recursive: true, force: true });
});

async function startKernel(env: Record<string, string> = {}): Promise<KernelClient> {
  const before = { ...process.env };
  Object.assign(process.env, env);
  try {
    const client = new KernelClient(findKernelSpec("mtlkit"), work);
    await client.start();
    return client;
  } finally {
    for (const k of Object.keys(env)) {
      if (before[k] === undefined) delete process.env[k];
      else process.env[k] = before[k];
    }
  }
}

/** A request on the client's own shell socket, resolved with its reply (not waiting for idle). */
function request(client: KernelClient, msgType: string, content: JsonObject): Promise<Message> {
  const c = client as unknown as { request(s: unknown, t: string, c: JsonObject): { reply: Promise<Message> }; shell: unknown };
  return c.request(c.shell, msgType, content).reply;
}

const executeContent = (code: string, extra: JsonObject = {}): JsonObject => ({
  code,
  silent: false,
  store_history: true,
  user_expressions: {},
  allow_stdin: false,
  stop_on_error: true,
  ...extra,
});

/** The text/plain result of a cell, failing with its error otherwise. */
async function resultOf(client: KernelClient, code: string, timeoutMs = 60_000): Promise<string> {
  const r = await client.execute(code, { timeoutMs, graceMs: 5000 });
  if (r.reply.status !== "ok") throw new Error(`${code}: ${r.reply.status} ${r.reply.ename}: ${r.reply.evalue}`);
  const result = r.messages.find((m) => m.header.msg_type === "execute_result");
  return (result?.content as { data?: Record<string, string> })?.data?.["text/plain"] ?? "";
}

/** Whether a process exists and is not a zombie (a container's init may not reap them). */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function childrenOf(pid: number): { pid: number; cmd: string }[] {
  const r = spawnSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" });
  return r.stdout
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^\s*(\d+)\s+(.*)$/.exec(l)!;
      return { pid: Number(m[1]), cmd: m[2] };
    });
}

function groupMembers(pgid: number): number[] {
  const r = spawnSync("ps", ["-o", "pid=,stat=", "-g", String(pgid)], { encoding: "utf8" });
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() && !/\sZ/.test(l))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

describe("a failing compiler never wedges the kernel", () => {
  it("a cell re-run after its missing package appears runs, and so does every later cell", async () => {
    const client = await startKernel({ MTLKIT_TEST_FAULTS: "execute,convert,complete,inspect" });
    try {
      await resultOf(client, "let a = 1");
      const missing = await client.execute('import { p } from "fakepkg";\np', { timeoutMs: 60_000 });
      expect(missing.reply.evalue).toMatch(/Cannot find module 'fakepkg'/);
      // `npm i fakepkg`, then `npm run build` rewriting a declaration file with the same bytes.
      const pkg = path.join(work, "node_modules", "fakepkg");
      fs.mkdirSync(pkg, { recursive: true });
      fs.writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name: "fakepkg", main: "index.js", types: "index.d.ts" }));
      fs.writeFileSync(path.join(pkg, "index.js"), "exports.p = 7;\n");
      fs.writeFileSync(path.join(pkg, "index.d.ts"), "export declare const p: number;\n");
      await sleep(1500);
      expect(await resultOf(client, 'import { p } from "fakepkg";\np')).toBe("7");
      fs.writeFileSync(path.join(pkg, "index.d.ts"), "export declare const p: number;\n");
      await sleep(1500);
      expect(await resultOf(client, "p + a")).toBe("8");

      // The compiler throwing on convert, twice in a row (the rebuilt one too): an error reply.
      const broken = await client.execute("// mtlkit-fault:convert\n1", { timeoutMs: 60_000 });
      expect(broken.reply.status).toBe("error");
      expect(broken.reply.ename).toBe("CompilerError");
      expect(await resultOf(client, "a + 1")).toBe("2");
      // The engine itself throwing: still exactly one reply, with an error.
      const failed = await client.execute("// mtlkit-fault:execute\n1", { timeoutMs: 60_000 });
      expect(failed.reply.status).toBe("error");
      expect(failed.reply.ename).toBe("KernelError");
      expect(failed.messages.filter((m) => m.header.msg_type === "error")).toHaveLength(1);
      // Completion and inspection failing: a reply each, and the next ones work.
      const code = "// mtlkit-fault:complete mtlkit-fault:inspect\na";
      const completeReply = await request(client, "complete_request", { code, cursor_pos: code.length });
      expect(completeReply.content.status).toBe("ok");
      const inspectReply = await request(client, "inspect_request", { code, cursor_pos: code.length, detail_level: 0 });
      expect(inspectReply.content.status).toBe("ok");
      const completed = await request(client, "complete_request", { code: "a", cursor_pos: 1 });
      expect(completed.content.matches).toContain("a");
      expect(await resultOf(client, "a + 2")).toBe("3");
    } finally {
      await client.shutdown();
    }
  }, 180_000);
});

describe("replayed messages", () => {
  it("a signed message sent twice on shell or control is handled once; the replay is logged", async () => {
    const client = await startKernel();
    const info = client.connection;
    const signer = new Signer(info.signature_scheme, info.key);
    const shell = new zmq.Dealer({ linger: 0, routingId: "replayer" });
    shell.connect(endpoint(info, "shell"));
    const control = new zmq.Dealer({ linger: 0, routingId: "replayer" });
    control.connect(endpoint(info, "control"));
    const replies = (sock: zmq.Dealer, msgId: string, ms: number) => {
      let n = 0;
      const done = (async () => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          const frames = await Promise.race([sock.receive(), sleep(Math.max(1, end - Date.now())).then(() => null)]);
          if (frames?.some((f) => f.toString().includes(msgId))) n++;
        }
        return n;
      })();
      return done;
    };
    try {
      await resultOf(client, "(globalThis as any).hits = 0");
      const exec = encode(
        {
          identities: [],
          header: newHeader("execute_request", "replay"),
          parent_header: {},
          metadata: {},
          content: executeContent("(globalThis as any).hits++"),
          buffers: [],
        },
        signer,
      );
      const counted = replies(shell, JSON.parse(exec[2].toString()).msg_id as string, 8000);
      await shell.send(exec);
      await sleep(500);
      await shell.send(exec);
      expect(await counted).toBe(1);
      expect(await resultOf(client, "(globalThis as any).hits")).toBe("1");

      const info1 = encode(
        { identities: [], header: newHeader("kernel_info_request", "replay"), parent_header: {}, metadata: {}, content: {}, buffers: [] },
        signer,
      );
      const counted2 = replies(control, JSON.parse(info1[2].toString()).msg_id as string, 4000);
      await control.send(info1);
      await sleep(300);
      await control.send(info1);
      expect(await counted2).toBe(1);
      await waitUntil(() => (client.stderr.match(/replayed message/g) ?? []).length >= 2, 5000);
      expect((client.stderr.match(/replayed message/g) ?? []).length).toBe(2);
    } finally {
      shell.close();
      control.close();
      await client.shutdown();
    }
  }, 120_000);
});

describe("stop_on_error and interrupts reach only the cells they should", () => {
  it("a cell sent right after an error reply runs (30 times); cells queued before it are aborted", async () => {
    const client = await startKernel();
    try {
      await resultOf(client, "let n = 0");
      const statuses: string[] = [];
      for (let i = 0; i < 30; i++) {
        const error = await request(client, "execute_request", executeContent(`throw new Error("boom ${i}")`));
        expect(error.content.status).toBe("error");
        const next = await request(client, "execute_request", executeContent("++n"));
        statuses.push(String(next.content.status));
      }
      expect(statuses.filter((s) => s !== "ok")).toEqual([]);
      expect(await resultOf(client, "n")).toBe("30");
      // Sent together with the failing cell: queued before its reply, so aborted.
      const [failing, queued1, queued2] = await Promise.all([
        request(client, "execute_request", executeContent("await new Promise((r) => setTimeout(r, 300));\nthrow new Error('x')")),
        request(client, "execute_request", executeContent("++n")),
        request(client, "execute_request", executeContent("++n")),
      ]);
      expect([failing.content.status, queued1.content.status, queued2.content.status]).toEqual(["error", "aborted", "aborted"]);
      expect(await resultOf(client, "n")).toBe("30");
    } finally {
      await client.shutdown();
    }
  }, 180_000);

  it("a cell sent right after an interrupt reply runs (30 times, busy and awaiting cells)", async () => {
    const client = await startKernel();
    try {
      await resultOf(client, "let m = 0");
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i++) {
        const busy = i % 2 === 0 ? "for (;;) {}" : "await new Promise((r) => setTimeout(r, 60_000))";
        const interrupted = request(client, "execute_request", executeContent(busy));
        await sleep(150);
        await client.interrupt();
        const next = request(client, "execute_request", executeContent("++m"));
        const [a, b] = await Promise.all([interrupted, next]);
        outcomes.push(
          `${String(a.content.ename ?? a.content.status)}/${String(b.content.status)}${b.content.ename ? ` ${String(b.content.ename)}` : ""}`,
        );
      }
      expect(outcomes.filter((o) => o !== "Interrupted/ok")).toEqual([]);
      expect(await resultOf(client, "m")).toBe("30");
    } finally {
      await client.shutdown();
    }
  }, 240_000);
});

describe("shutdown and restart", () => {
  it("shutdown ends a kernel busy in execSync, and the process it waits for, within seconds", async () => {
    const client = await startKernel();
    const kernelPid = Number(await resultOf(client, "process.pid"));
    const supervisorPid = client.pid!;
    void request(client, "execute_request", executeContent('require("child_process").execSync("sleep 600")'));
    expect(await waitUntil(() => childrenOf(kernelPid).some((c) => /sleep 600/.test(c.cmd)), 30_000)).toBe(true);
    const sleepPid = childrenOf(kernelPid).find((c) => /sleep 600/.test(c.cmd))!.pid;
    const t0 = Date.now();
    await client.shutdown();
    expect(await waitUntil(() => !alive(kernelPid) && !alive(sleepPid) && !alive(supervisorPid), 8000)).toBe(true);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`busy kernel shut down in ${seconds.toFixed(1)} s`);
    // The supervisor exited by itself (the client did not have to kill it) and nothing of the group is left.
    expect(client.exited?.message).toMatch(/exit code 0/);
    expect(groupMembers(kernelPid)).toEqual([]);
  }, 120_000);

  it("a restart (jupyter_client) of a kernel busy in execSync comes back usable, leaving nothing behind", async (ctx) => {
    if (!requireTool("jupyter_client", haveJupyter())) return ctx.skip();
    const script = `
import json, sys, time
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name="mtlkit")
km.start_kernel(cwd=sys.argv[1])
kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=60)
def run(code):
    r = kc.execute_interactive(code, timeout=60, output_hook=lambda m: out.append(m))
    return r["content"]
out = []
run("process.pid")
old = [m for m in out if m["msg_type"] == "execute_result"][0]["content"]["data"]["text/plain"]
kc.execute('require("child_process").execSync("sleep 600")')
time.sleep(3)
t = time.time()
km.restart_kernel(now=False)
dt = time.time() - t
kc.wait_for_ready(timeout=60)
out = []
status = run("6 * 7")["status"]
value = [m for m in out if m["msg_type"] == "execute_result"][0]["content"]["data"]["text/plain"]
km.shutdown_kernel(now=False)
print(json.dumps({"old": int(old), "restart_s": dt, "status": status, "value": value}))
`;
    const r = spawnSync(PYTHON, ["-c", script, work], { encoding: "utf8", timeout: 150_000, env: process.env });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim().split("\n").pop()!) as { old: number; restart_s: number; status: string; value: string };
    console.log(`restart of a busy kernel took ${res.restart_s.toFixed(1)} s`);
    expect(res.status).toBe("ok");
    expect(res.value).toBe("42");
    // Without the fix jupyter_client waits its 5 s and kills the (unreachable) kernel's launcher.
    expect(res.restart_s).toBeLessThan(4.5);
    expect(alive(res.old)).toBe(false);
    // The old kernel's `sleep 600` went with it (it ran in the old kernel's process group).
    expect(await waitUntil(() => groupMembers(res.old).length === 0, 5000)).toBe(true);
  }, 180_000);
});

describe("an abandoned kernel", () => {
  it("whose launcher is killed, busy or not, goes away with the processes it started", async () => {
    // The launcher: a client that starts a kernel, runs a blocking cell and is then SIGKILLed.
    const launcherCode = `
      const { KernelClient } = require(${JSON.stringify(path.join(REPO, "dist", "kernel", "runner", "client.js"))});
      const { findKernelSpec } = require(${JSON.stringify(path.join(REPO, "dist", "kernel", "runner", "kernelspec.js"))});
      (async () => {
        const c = new KernelClient(findKernelSpec("mtlkit"), ${JSON.stringify(work)});
        await c.start();
        const r = await c.execute("process.pid");
        const pid = r.messages.find((m) => m.header.msg_type === "execute_result").content.data["text/plain"];
        void c.execute('require("child_process").execSync("sleep 600")');
        console.log(JSON.stringify({ supervisor: c.pid, kernel: Number(pid) }));
      })();`;
    const launcher = spawn(process.execPath, ["-e", launcherCode], { stdio: ["ignore", "pipe", "inherit"], env: process.env });
    const pids = await new Promise<{ supervisor: number; kernel: number }>((resolve, reject) => {
      launcher.stdout.on("data", (d: Buffer) => resolve(JSON.parse(d.toString()) as { supervisor: number; kernel: number }));
      launcher.on("exit", () => reject(new Error("the launcher exited early")));
    });
    expect(await waitUntil(() => childrenOf(pids.kernel).some((c) => /sleep 600/.test(c.cmd)), 30_000)).toBe(true);
    launcher.kill("SIGKILL");
    const gone = await waitUntil(() => !alive(pids.supervisor) && !alive(pids.kernel) && groupMembers(pids.kernel).length === 0, 10_000);
    if (!gone)
      for (const p of [pids.kernel, ...groupMembers(pids.kernel), pids.supervisor])
        try {
          process.kill(p, "SIGKILL");
        } catch {
          /* gone */
        }
    expect(gone).toBe(true);
  }, 120_000);
});

describe("a cell run with store_history false is not retained", () => {
  it("the kernel's heap after a 20 MB cell with store_history false returns to where it was", async () => {
    const client = await startKernel();
    try {
      await resultOf(
        client,
        [
          "const heapNow = () => {",
          "  require('v8').setFlagsFromString('--expose-gc');",
          "  const gc = require('vm').runInNewContext('gc'); gc(); gc();",
          "  return process.memoryUsage().heapUsed;",
          "};",
        ].join("\n"),
      );
      const reading = async () => Number(await resultOf(client, "heapNow()"));
      const lowest = async () => Math.min(await reading(), await reading(), await reading());
      const before = await lowest();
      const mb = 20;
      const big = `"${"x".repeat(mb * 2 ** 20)}".length`;
      const r = await request(client, "execute_request", executeContent(big, { store_history: false }));
      expect(r.content.status).toBe("ok");
      const after = await lowest();
      const grewMb = (after - before) / 2 ** 20;
      console.log(`kernel heap after a ${mb} MB cell with store_history false: ${grewMb.toFixed(1)} MB more`);
      expect(grewMb).toBeLessThan(mb / 4);
    } finally {
      await client.shutdown();
    }
  }, 180_000);
});
