/**
 * `mtl.deploy.openInBrowser(indexHtml, rows)`: opens an exported page in headless Chromium (through
 * puppeteer-core and a Chromium installed on the machine: Debian's `chromium`, or the path in
 * `executablePath` / MTLKIT_CHROMIUM), waits until it has loaded its model, predicts `rows` in the
 * page and takes a screenshot. A notebook shows the screenshot; the predictions are the browser's
 * own, to compare with Node's. The browser is closed before this returns, whatever happens.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { withDisplay } from "../../display/attach";
import { check, MtlError } from "../../errors";
import type { TaskPrediction } from "../predict";

/** Options of {@link openInBrowser}: which browser, the page's query string, the viewport and the wait. */
export interface OpenInBrowserOptions {
  /** The Chromium (or Chrome) executable; default MTLKIT_CHROMIUM, then the usual Linux paths. */
  executablePath?: string;
  /** The page's query string, e.g. "backend=webgl" (default: the page's own choice, cpu). */
  query?: string;
  /** Viewport width in pixels (default 900). */
  width?: number;
  /** Milliseconds to wait for the page to load its model (default 30000). */
  timeoutMs?: number;
}

/** What the page did in the browser. */
export interface BrowserRun {
  /** Every task's outputs and predictions, computed in the page. */
  predictions: Record<string, TaskPrediction>;
  /** The tfjs backend the page ran on. */
  backend: string;
  /** The browser's version string. */
  browser: string;
  /** A PNG screenshot of the whole page after it predicted its examples. */
  screenshot: Uint8Array;
  /** Errors the page reported (uncaught exceptions, console errors); empty when all went well. */
  pageErrors: string[];
}

const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];

/** The Chromium executable to use, or an MtlError that says how to get one. */
export function findChromium(explicit?: string): string {
  const wanted = explicit ?? process.env.MTLKIT_CHROMIUM;
  if (wanted !== undefined) {
    check(existsSync(wanted), "openInBrowser", () => `the browser '${wanted}' does not exist.`);
    return wanted;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (!found)
    throw new MtlError(
      "openInBrowser",
      `no Chromium found (looked at ${CANDIDATES.join(", ")}); install one (Debian: apt install chromium) or pass 'executablePath'.`,
    );
  return found;
}

/** Opens the exported page `indexHtml` in headless Chromium and predicts `rows` there. */
export async function openInBrowser(indexHtml: string, rows: number[][], options: OpenInBrowserOptions = {}): Promise<BrowserRun> {
  const path = resolve(indexHtml);
  check(
    existsSync(path) && statSync(path).isFile(),
    "openInBrowser",
    () => `'${indexHtml}' is not a file; pass the index.html that exportWeb wrote.`,
  );
  const executablePath = findChromium(options.executablePath);
  const puppeteer = await import("puppeteer-core");
  // No sandbox: Chromium refuses to start sandboxed as root (containers, CI).
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: options.width ?? 900, height: 600 });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") pageErrors.push(m.text());
    });
    const url = pathToFileURL(path).href + (options.query ? `?${options.query}` : "");
    await page.goto(url, { waitUntil: "load" });
    await page.waitForFunction(() => document.body.dataset.state !== "loading", { timeout: options.timeoutMs ?? 30_000 });
    const state = await page.evaluate(() => ({
      state: document.body.dataset.state,
      error: document.getElementById("error")?.textContent ?? "",
    }));
    if (state.state !== "ready")
      throw new MtlError("openInBrowser", `the page could not load its model: ${state.error || pageErrors.join("; ") || "(no message)"}`);
    type PageWindow = { mtlkit: { predict(r: number[][]): Promise<Record<string, TaskPrediction>>; backend(): string } };
    const predictions = await page.evaluate((r) => (window as unknown as PageWindow).mtlkit.predict(r), rows);
    const backend = await page.evaluate(() => (window as unknown as PageWindow).mtlkit.backend());
    const screenshot = await page.screenshot({ fullPage: true, type: "png" });
    const run: BrowserRun = { predictions, backend, browser: await browser.version(), screenshot: new Uint8Array(screenshot), pageErrors };
    return withDisplay(run, (r) => ({
      "image/png": Buffer.from(r.screenshot).toString("base64"),
      "text/plain": `${r.browser}: the page predicted ${rows.length} rows for ${Object.keys(r.predictions).length} tasks on tfjs's ${r.backend} backend${r.pageErrors.length ? `; page errors: ${r.pageErrors.join("; ")}` : ""}`,
    }));
  } finally {
    await browser.close();
  }
}
