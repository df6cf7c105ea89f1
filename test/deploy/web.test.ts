/**
 * The exported web page, opened in headless Chromium from file:// (and once from a static HTTP
 * server): for every architecture and encoder, every task's outputs equal Node's to 1e-5 and the
 * page shows a prediction per task and row. Also `mtlkit export-web` on the command line.
 */
import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, Server } from "node:http";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as mtl from "../../lib";
import { haveChromium, launchChromium } from "../helpers/chromium";
import { encoderZoo, maxOutputDifference, tabularZoo, ZooEntry } from "./zoo";

const tf = mtl.tf;
const root = join(__dirname, "..", "..");
const work = mkdtempSync(join(tmpdir(), "mtlkit-web-"));
const TOLERANCE = 1e-5;

let browser: Browser | undefined;
const run = haveChromium();

beforeAll(async () => {
  await tf.setBackend("cpu");
  if (run) browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
});

interface PageResult {
  predictions: Record<string, mtl.deploy.TaskPrediction>;
  shown: Record<string, string[]>;
  errors: string[];
}

/** Opens the page, waits until it has predicted its examples, and predicts `rows` in it. */
async function predictInPage(url: string, rows: number[][], screenshot?: string): Promise<PageResult> {
  const page: Page = await browser!.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  try {
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(() => document.body.dataset.state !== "loading", { timeout: 30_000 });
    const state = await page.evaluate(() => `${document.body.dataset.state}: ${document.getElementById("error")?.textContent}`);
    expect(state).toBe("ready: ");
    const predictions = (await page.evaluate(
      (r) => (window as unknown as { mtlkit: { predict(r: number[][]): Promise<unknown> } }).mtlkit.predict(r),
      rows,
    )) as PageResult["predictions"];
    const shown = await page.evaluate(() => {
      const out: Record<string, string[]> = {};
      document
        .querySelectorAll<HTMLElement>("section.task")
        .forEach((s) => (out[s.dataset.task!] = Array.from(s.querySelectorAll("td.prediction")).map((td) => td.textContent ?? "")));
      return out;
    });
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    return { predictions, shown, errors };
  } finally {
    await page.close();
  }
}

/** Trains the entry for an epoch (so its weights are not the seeded ones the page could rebuild), saves and exports it. */
async function exportEntry(
  entry: ZooEntry,
  options: mtl.deploy.SaveOptions = {},
): Promise<{ modelDir: string; webDir: string; loaded: mtl.BaseModel }> {
  const trainer = new mtl.Trainer({
    model: entry.model,
    tasks: entry.tasks,
    epochs: 1,
    batchSize: 16,
    progress: false,
    seed: 3,
    optimizer: tf.train.adam(0.02),
  });
  await trainer.fit(entry.data);
  trainer.optimizer.dispose();
  const modelDir = join(work, `${entry.name}-model`);
  const webDir = join(work, `${entry.name}-web`);
  await entry.model.save(modelDir, options);
  await mtl.deploy.exportWeb(modelDir, webDir, { examples: entry.rows });
  return { modelDir, webDir, loaded: await mtl.loadModel(modelDir) };
}

describe.skipIf(!run)("the exported page in headless Chromium predicts as Node does", () => {
  for (const entry of [...tabularZoo(), ...encoderZoo()]) {
    it(`${entry.name} (file://)`, async () => {
      const standardizer = entry.name === "hardSharing" ? mtl.fitStandardizer(entry.data) : undefined;
      const { webDir, loaded } = await exportEntry(entry, {
        standardizer,
        featureNames: standardizer ? ["a", "b", "c", "d", "e"] : undefined,
      });
      const rows = entry.rows;
      const node = await mtl.deploy.predict(loaded, rows);
      const page = await predictInPage(pathToFileURL(join(webDir, "index.html")).href, rows);
      expect(page.errors).toEqual([]);
      expect(Object.keys(page.predictions)).toEqual([...loaded.taskNames]);
      const scale = Math.max(1, ...Object.values(node).flatMap((p) => p.outputs.flat().map(Math.abs)));
      expect(maxOutputDifference(node, page.predictions)).toBeLessThanOrEqual(TOLERANCE * scale);
      expect(Object.fromEntries(Object.entries(page.predictions).map(([t, p]) => [t, p.predictions]))).toEqual(
        Object.fromEntries(Object.entries(node).map(([t, p]) => [t, p.predictions])),
      );
      // The page shows one prediction per task and example row, with class names where the task has them.
      for (const task of loaded.tasks) expect(page.shown[task.name]).toHaveLength(rows.length);
      if (entry.name === "hardSharing") expect(page.shown.cls.every((label) => ["low", "mid", "high"].includes(label))).toBe(true);
      loaded.dispose();
      entry.model.dispose();
    }, 60_000);
  }

  it("works from a static HTTP server too, and takes a screenshot", async () => {
    const [entry] = tabularZoo();
    const { webDir, loaded } = await exportEntry(entry);
    const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript" };
    const server: Server = createServer((req, res) => {
      const path = join(webDir, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/$/, "/index.html"));
      if (!path.startsWith(webDir) || !existsSync(path) || !statSync(path).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
      createReadStream(path).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const shot = join(work, "page.png");
      const page = await predictInPage(`http://127.0.0.1:${port}/`, entry.rows, shot);
      expect(page.errors).toEqual([]);
      expect(maxOutputDifference(await mtl.deploy.predict(loaded, entry.rows), page.predictions)).toBeLessThanOrEqual(TOLERANCE * 10);
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
    } finally {
      server.close();
      loaded.dispose();
      entry.model.dispose();
    }
  }, 60_000);
});

describe.skipIf(!run)("mtl.deploy.openInBrowser", () => {
  it("predicts in the page as Node does, with a screenshot to display", async () => {
    const [, entry] = encoderZoo();
    const { webDir, loaded } = await exportEntry(entry);
    const result = await mtl.deploy.openInBrowser(join(webDir, "index.html"), entry.rows);
    expect(result.pageErrors).toEqual([]);
    expect(result.backend).toBe("cpu");
    expect(maxOutputDifference(await mtl.deploy.predict(loaded, entry.rows), result.predictions)).toBeLessThanOrEqual(TOLERANCE * 10);
    expect(Buffer.from(result.screenshot).subarray(1, 4).toString()).toBe("PNG");
    const bundle = (result as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]();
    expect(bundle["image/png"].length).toBeGreaterThan(1000);
    await expect(mtl.deploy.openInBrowser(join(webDir, "missing.html"), entry.rows)).rejects.toThrow(/missing\.html' is not a file/);
    loaded.dispose();
    entry.model.dispose();
  }, 60_000);
});

describe("exportWeb writes a self-contained folder", () => {
  it("with TensorFlow.js's browser bundle, the runtime, the embedded model and no server code", async () => {
    const model = mtl.hardSharing({ inputSize: 2, trunk: [3], tasks: [mtl.tasks.regression("y")], seed: 1 });
    const modelDir = join(work, "plain-model");
    await model.save(modelDir);
    const index = await mtl.deploy.exportWeb(modelDir, join(work, "plain-web"));
    const dir = join(work, "plain-web");
    expect(index).toBe(join(dir, "index.html"));
    expect(readFileSync(join(dir, "tf.min.js")).equals(readFileSync(join(root, "node_modules/@tensorflow/tfjs/dist/tf.min.js")))).toBe(
      true,
    );
    const runtime = readFileSync(join(dir, "mtlkit-web.js"), "utf8");
    expect(runtime).not.toMatch(/require\("(node:)?(fs|path|crypto|os)"\)/);
    expect(readFileSync(join(dir, "model.js"), "utf8")).toMatch(/^window\.MTLKIT_MODEL = \{"file":\{"format":"mtlkit-model"/);
    // A second export replaces the first; a folder with other files is refused.
    await mtl.deploy.exportWeb(modelDir, dir, { examples: [[1, 2]], title: "Second" });
    expect(readFileSync(join(dir, "index.html"), "utf8")).toMatch(/<title>Second<\/title>/);
    writeFileSync(join(dir, "notes.txt"), "mine");
    await expect(mtl.deploy.exportWeb(modelDir, dir)).rejects.toThrow(/holds other files \(notes\.txt\)/);
    await expect(mtl.deploy.exportWeb(modelDir, join(work, "w2"), { examples: [[1, 2, 3]] })).rejects.toThrow(
      /example row 0 must hold 2 finite numbers \(input 'x'\)/,
    );
    model.dispose();
  });

  it("through the command line: mtlkit export-web <modelDir> --out <dir>", async () => {
    const cli = join(root, "dist", "kernel", "cli.js");
    expect(existsSync(cli)).toBe(true); // npm test builds first
    const model = mtl.hardSharing({ inputSize: 3, trunk: [4], tasks: [mtl.tasks.binary("b")], seed: 1 });
    const modelDir = join(work, "cli-model");
    await model.save(modelDir);
    const rows = join(work, "rows.json");
    writeFileSync(
      rows,
      JSON.stringify([
        [1, 2, 3],
        [0, 0, 0],
      ]),
    );
    const out = join(work, "cli-web");
    const ok = spawnSync(process.execPath, [cli, "export-web", modelDir, "--out", out, "--examples", rows, "--title", "Binary"], {
      encoding: "utf8",
    });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/Wrote .*cli-web\/index\.html/);
    expect(readFileSync(join(out, "model.js"), "utf8")).toMatch(/"examples":\[\[1,2,3\],\[0,0,0\]\]/);
    const bad = spawnSync(process.execPath, [cli, "export-web", join(work, "nothing"), "--out", join(work, "x")], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/is not a folder/);
    const usage = spawnSync(process.execPath, [cli, "export-web", modelDir], { encoding: "utf8" });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/export-web needs --out DIR/);
    model.dispose();
  });
});
