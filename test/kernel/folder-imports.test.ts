/**
 * Notebooks in any folder: `mtlkit`, `@tensorflow/tfjs` and `danfojs-node` are
 * type-checked, completed and run from a folder outside the package (they come
 * from mtlkit's installation), with the same tfjs module mtlkit uses; a package
 * installed in the notebook's own folder still wins there.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MtlkitModulesView, MTLKIT_ROOT } from "../../kernel/resolution";
import { KernelClient } from "../../kernel/runner/client";
import { findKernelSpec } from "../../kernel/runner/kernelspec";
import { cells, installKernelSpec, mtlkitRun, NbOutput, tmpDir, writeNotebook } from "./helpers";

let jupyterDir = "";
const folders: string[] = [];

function freshFolder(): string {
  const dir = tmpDir("mtlkit-folder-");
  folders.push(dir);
  return dir;
}

const plain = (o: NbOutput | undefined) => {
  const t = o?.data?.["text/plain"];
  return Array.isArray(t) ? t.join("") : (t as string | undefined);
};
const result = (outputs: NbOutput[]) => plain(outputs.find((o) => o.output_type === "execute_result"));

beforeAll(() => {
  jupyterDir = installKernelSpec();
});

afterAll(() => {
  for (const d of [jupyterDir, ...folders]) fs.rmSync(d, { recursive: true, force: true });
});

describe("the type-checker's view of mtlkit's installation", () => {
  it("shows mtlkit's packages (and mtlkit itself) under the root's node_modules, leaving @types and real folders alone", () => {
    const view = new MtlkitModulesView(os.tmpdir(), (p) => fs.existsSync(p));
    expect(view.isRoot("/node_modules")).toBe(true);
    expect(view.toReal("/node_modules/@tensorflow/tfjs/package.json")).toBe(
      path.join(MTLKIT_ROOT, "node_modules", "@tensorflow", "tfjs", "package.json"),
    );
    expect(view.toReal("/node_modules/danfojs-node")).toBe(path.join(MTLKIT_ROOT, "node_modules", "danfojs-node"));
    expect(view.toReal("/node_modules/mtlkit/package.json")).toBe(path.join(MTLKIT_ROOT, "package.json"));
    expect(view.toReal("/node_modules/@types/node/index.d.ts")).toBeNull();
    expect(view.toReal("/node_modules/no-such-package-here/index.d.ts")).toBeNull();
    expect(view.toReal(path.join(os.tmpdir(), "node_modules", "danfojs-node"))).toBeNull();
    // A package really in the root's node_modules is that one.
    const real = new MtlkitModulesView(os.tmpdir(), (p) => p === "/node_modules/danfojs-node" || fs.existsSync(p));
    expect(real.toReal("/node_modules/danfojs-node/index.d.ts")).toBeNull();
  });
});

describe("a notebook outside the package", () => {
  it("imports mtlkit, tfjs and danfo, type-checks against them and shares mtlkit's tfjs", () => {
    const work = freshFolder();
    expect(fs.existsSync(path.join(work, "node_modules"))).toBe(false);
    const nb = path.join(work, "anywhere.ipynb");
    writeNotebook(nb, [
      { source: 'import * as mtl from "mtlkit";\nimport * as tf from "@tensorflow/tfjs";\nimport * as dfd from "danfojs-node";' },
      { source: "[tf.tensor === mtl.tf.tensor, tf.engine() === mtl.tf.engine(), tf.findBackendFactory === mtl.tf.findBackendFactory]" },
      { source: "const x: number = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])).arraySync() as number);\nx" },
      { source: "new dfd.DataFrame({ task: ['a', 'b'], loss: [0.5, 0.25] }).shape" },
      { source: "typeof mtl.useBestBackend" },
      { source: "const wrong: string = tf.scalar(1);", tags: ["raises-exception"] },
      { source: "mtl.noSuchExport", tags: ["raises-exception"] },
    ]);
    const r = mtlkitRun(jupyterDir, work, [nb, "--out", path.join(work, "out")]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const c = cells(path.join(work, "out", "anywhere.ipynb"));
    expect(c[0].outputs.filter((o) => o.output_type === "error")).toEqual([]);
    expect(result(c[1].outputs)).toBe("[ true, true, true ]");
    expect(result(c[2].outputs)).toBe("6");
    expect(result(c[3].outputs)).toBe("[ 2, 2 ]");
    expect(result(c[4].outputs)).toBe("'function'");
    // The type-checker sees the real declarations: wrong types and missing exports are compile errors.
    const wrong = c[5].outputs.find((o) => o.output_type === "error");
    expect(wrong?.evalue).toMatch(/TS2322: Type 'Scalar' is not assignable to type 'string'/);
    const missing = c[6].outputs.find((o) => o.output_type === "error");
    expect(missing?.evalue).toMatch(/TS2339: Property 'noSuchExport' does not exist/);
  }, 180_000);

  it("completes mtl. there", async () => {
    const work = freshFolder();
    process.env.JUPYTER_PATH = jupyterDir; // the kernelspec just installed, not one a user may have
    const client = new KernelClient(findKernelSpec("mtlkit"), work);
    await client.start();
    try {
      const r = await client.execute('import * as mtl from "mtlkit";');
      expect(r.reply.status, JSON.stringify(r.reply)).toBe("ok");
      const code = "mtl.";
      const reply = await client.complete(code, code.length);
      expect(reply.status).toBe("ok");
      const matches = reply.matches as string[];
      expect(matches).toEqual(expect.arrayContaining(["tf", "useBestBackend", "backends", "Trainer"]));
      expect(reply.cursor_start).toBe(code.length);
    } finally {
      await client.shutdown();
    }
  }, 120_000);

  it("a package in the notebook's own folder wins over mtlkit's", () => {
    const work = freshFolder();
    const pkg = path.join(work, "node_modules", "danfojs-node");
    fs.mkdirSync(pkg, { recursive: true });
    fs.writeFileSync(
      path.join(pkg, "package.json"),
      JSON.stringify({ name: "danfojs-node", version: "0.0.1", main: "index.js", types: "index.d.ts" }),
    );
    fs.writeFileSync(path.join(pkg, "index.js"), "exports.marker = 'the local danfo';\n");
    fs.writeFileSync(path.join(pkg, "index.d.ts"), "export declare const marker: string;\n");
    const nb = path.join(work, "shadow.ipynb");
    writeNotebook(nb, [
      // `marker` exists only in the local package's types and code: this type-checks and runs only if it wins.
      { source: 'import * as dfd from "danfojs-node";\nconst m: string = dfd.marker;\nm' },
      { source: 'import * as tf from "@tensorflow/tfjs";\ntypeof tf.tensor' },
    ]);
    const r = mtlkitRun(jupyterDir, work, [nb, "--out", path.join(work, "out")]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const c = cells(path.join(work, "out", "shadow.ipynb"));
    expect(result(c[0].outputs)).toBe("'the local danfo'");
    expect(result(c[1].outputs)).toBe("'function'");
  }, 120_000);
});
