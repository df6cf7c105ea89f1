/** Kernel parts that need no running kernel: wire format, connection files, history, source maps, display, install. */
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { decode, encode, newHeader, SignatureError, Signer } from "../../kernel/protocol/wire";
import { ConnectionError, newConnectionInfo, readConnectionFile, writeConnectionFile } from "../../kernel/protocol/connection";
import { History } from "../../kernel/history";
import { compose, decodeMappings, lookup } from "../../kernel/sourcemap";
import { PlotlyInliner, PLOTLY_MIME, toMimeBundle } from "../../kernel/display";
import { dataDir, uninstall, DISPLAY_NAME } from "../../kernel/install";
import { expandNotebookArgs } from "../../kernel/runner/run";
import { OutputCollector } from "../../kernel/runner/notebook";
import { markdownToHtml } from "../../kernel/runner/html";
import { tmpDir } from "./helpers";

describe("wire", () => {
  const msg = {
    identities: [Buffer.from("client-1")],
    header: newHeader("execute_request", "s1"),
    parent_header: {},
    metadata: {},
    content: { code: "1 + 1" },
    buffers: [Buffer.from([1, 2, 3])],
  };

  it("round-trips a signed message", () => {
    const signer = new Signer("hmac-sha256", "secret");
    const back = decode(encode(msg, signer), signer);
    expect(back.header.msg_id).toBe(msg.header.msg_id);
    expect(back.content).toEqual({ code: "1 + 1" });
    expect(back.identities[0].toString()).toBe("client-1");
    expect([...back.buffers[0]]).toEqual([1, 2, 3]);
  });

  it("rejects a wrong key and a tampered content frame", () => {
    const frames = encode(msg, new Signer("hmac-sha256", "secret"));
    expect(() => decode(frames, new Signer("hmac-sha256", "other"))).toThrow(SignatureError);
    const tampered = [...frames];
    tampered[tampered.length - 2] = Buffer.from(JSON.stringify({ code: "evil()" }));
    expect(() => decode(tampered, new Signer("hmac-sha256", "secret"))).toThrow(SignatureError);
  });
});

describe("connection files", () => {
  it("are written 0600 and only loopback addresses are accepted", async () => {
    const dir = tmpDir("mtlkit-conn-");
    const info = await newConnectionInfo("mtlkit");
    const file = path.join(dir, "k.json");
    writeConnectionFile(file, info);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(readConnectionFile(file).shell_port).toBe(info.shell_port);
    fs.writeFileSync(file, JSON.stringify({ ...info, ip: "0.0.0.0" }));
    expect(() => readConnectionFile(file)).toThrow(ConnectionError);
  });
});

describe("history", () => {
  it("numbers sessions across restarts and answers tail/range/search", () => {
    const file = path.join(tmpDir("mtlkit-hist-"), "h.jsonl");
    const h1 = new History(file);
    h1.add(1, "1 + 1", "2");
    h1.add(2, "let x = 3", null);
    const h2 = new History(file);
    expect(h2.session).toBe(h1.session + 1);
    h2.add(1, "1 + 1", "2");
    expect(h2.query({ hist_access_type: "tail", n: 2 }).map((e) => e[2])).toEqual(["let x = 3", "1 + 1"]);
    expect(h2.query({ hist_access_type: "range", session: -1, start: 2, stop: 3, output: true })).toEqual([
      [h1.session, 2, ["let x = 3", null]],
    ]);
    expect(h2.query({ hist_access_type: "search", pattern: "1 + *" })).toHaveLength(2);
    expect(h2.query({ hist_access_type: "search", pattern: "1 + *", unique: true })).toHaveLength(1);
  });
});

describe("source maps", () => {
  it("decodes VLQ mappings and composes two maps", () => {
    // generated line 0: col 0 -> (0,0); col 4 -> (1,2). line 1: col 2 -> (3,0)
    const inner = decodeMappings("AAAA,IACE;EAEF");
    expect(lookup(inner, 0, 5)).toEqual({ line: 1, col: 3 });
    expect(lookup(inner, 1, 2)).toEqual({ line: 3, col: 0 });
    const outer = decodeMappings(";AACA"); // line 1 col 0 -> inner (1, 0)
    expect(lookup(compose(outer, inner), 1, 0)).toEqual({ line: 3, col: 0 });
  });
});

describe("display", () => {
  it("builds bundles for known types and adds plotly HTML once per session", () => {
    expect(toMimeBundle(undefined)).toBeNull();
    expect(toMimeBundle("a")).toEqual({ "text/plain": "'a'" });
    const custom = { [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<i>x</i>" }) };
    expect(toMimeBundle(custom)?.["text/html"]).toBe("<i>x</i>");
    const fig = toMimeBundle({ data: [{ type: "bar", x: [1], y: [2] }], layout: { title: "t" } })!;
    expect(fig).toHaveProperty(PLOTLY_MIME);
    expect(fig["text/plain"]).toBe("Figure: 1 trace (bar) — t");
    const inliner = new PlotlyInliner();
    const first = inliner.enrich(fig)["text/html"] as string;
    const second = inliner.enrich(fig)["text/html"] as string;
    expect(first).toContain("plotly.js v");
    expect(second).not.toContain("plotly.js v");
    expect(second).toContain("Plotly.newPlot");
  });
});

describe("notebook outputs and HTML", () => {
  it("merges streams, applies update_display_data and clear_output", () => {
    const m = (msg_type: string, content: Record<string, unknown>) => ({ header: { msg_type }, content }) as never;
    const cell = { cell_type: "code" as const, source: "", metadata: {} };
    const c = new OutputCollector();
    const outs = c.collect(cell, [
      m("stream", { name: "stdout", text: "a\n" }),
      m("stream", { name: "stdout", text: "b\n" }),
      m("display_data", { data: { "text/plain": "v1" }, metadata: {}, transient: { display_id: "d" } }),
      m("update_display_data", { data: { "text/plain": "v2" }, metadata: {}, transient: { display_id: "d" } }),
    ]);
    expect(outs).toHaveLength(2);
    expect(outs[0].text).toEqual(["a\n", "b\n"]);
    expect(outs[1].data).toEqual({ "text/plain": ["v2"] });
    expect(c.collect(cell, [m("stream", { name: "stdout", text: "x" }), m("clear_output", { wait: false })])).toEqual([]);
    expect(markdownToHtml("# T\n\n- a *b*\n")).toBe("<h1>T</h1>\n<ul>\n<li>a <em>b</em></li>\n</ul>\n");
  });

  it("expands a directory into its notebooks", () => {
    const dir = tmpDir("mtlkit-nbs-");
    for (const n of ["b.ipynb", "a.ipynb", "c.txt"]) fs.writeFileSync(path.join(dir, n), "{}");
    expect(expandNotebookArgs([dir]).map((f) => path.basename(f))).toEqual(["a.ipynb", "b.ipynb"]);
  });
});

describe("kernel install", () => {
  it("writes kernel.json and PNG logos into a Jupyter dir, and removes them", () => {
    const cli = path.resolve(__dirname, "..", "..", "dist", "kernel", "cli.js");
    if (!fs.existsSync(cli)) throw new Error("build first: dist/kernel/cli.js is missing");
    const jd = tmpDir("mtlkit-install-");
    // install() looks for cli.js next to install.js; from the sources that is kernel/, so use the CLI.
    const { spawnSync } = require("child_process") as typeof import("child_process");
    const r = spawnSync(process.execPath, [cli, "kernel", "install", "--jupyter-dir", jd], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const dir = path.join(jd, "kernels", "mtlkit");
    const spec = JSON.parse(fs.readFileSync(path.join(dir, "kernel.json"), "utf8"));
    expect(spec.display_name).toBe(DISPLAY_NAME);
    expect(spec.language).toBe("typescript");
    expect(spec.interrupt_mode).toBe("message");
    expect(spec.argv).toContain("{connection_file}");
    expect(spec.env.MTLKIT_KERNEL).toBe("1");
    for (const size of [32, 64]) {
      const png = fs.readFileSync(path.join(dir, `logo-${size}x${size}.png`));
      expect(png.subarray(1, 4).toString()).toBe("PNG");
      expect(png.readUInt32BE(16)).toBe(size);
    }
    expect(() => dataDir({ user: true, jupyterDir: jd })).toThrow(/choose one/);
    const r2 = spawnSync(process.execPath, [cli, "kernel", "uninstall", "--jupyter-dir", jd], { encoding: "utf8" });
    expect(r2.status).toBe(0);
    expect(fs.existsSync(dir)).toBe(false);
    expect(uninstall({ jupyterDir: jd })).toBeNull();
  });

  it("puts --heap-mb into the kernelspec and refuses a heap too small for the kernel", () => {
    const cli = path.resolve(__dirname, "..", "..", "dist", "kernel", "cli.js");
    const { spawnSync } = require("child_process") as typeof import("child_process");
    const jd = tmpDir("mtlkit-install-heap-");
    const ok = spawnSync(process.execPath, [cli, "kernel", "install", "--jupyter-dir", jd, "--heap-mb", "2048"], { encoding: "utf8" });
    expect(ok.status, ok.stderr).toBe(0);
    const spec = JSON.parse(fs.readFileSync(path.join(jd, "kernels", "mtlkit", "kernel.json"), "utf8"));
    expect(spec.argv.slice(2)).toEqual(["kernel", "start", "--heap-mb", "2048", "--connection-file", "{connection_file}"]);
    for (const bad of ["64", "1.5", "lots"]) {
      const r = spawnSync(process.execPath, [cli, "kernel", "install", "--jupyter-dir", jd, "--heap-mb", bad], { encoding: "utf8" });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--heap-mb must be a whole number of MiB, at least 160 (got ${bad})`);
    }
  });
});
