/**
 * Headless Chromium for the tests that look at pages (the web export, the notebook HTML check),
 * through puppeteer-core (the driver mtlkit itself uses for `deploy.openInBrowser`) and the
 * system's Chromium: Debian's `chromium`, or the one MTLKIT_CHROMIUM names. Without one the tests
 * skip, except under MTLKIT_REQUIRE_CHROMIUM=1 (CI), where they fail.
 */
import { existsSync } from "node:fs";
import type { Browser } from "puppeteer-core";

const CANDIDATES = [process.env.MTLKIT_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].filter(
  (p): p is string => !!p,
);

/** The Chromium executable here, if any. */
export const chromiumPath: string | undefined = CANDIDATES.find((p) => existsSync(p));

export const REQUIRE_CHROMIUM = process.env.MTLKIT_REQUIRE_CHROMIUM === "1";

/** Whether to run browser tests: yes with Chromium; an error without it when required. */
export function haveChromium(): boolean {
  if (chromiumPath) return true;
  if (REQUIRE_CHROMIUM)
    throw new Error(
      `MTLKIT_REQUIRE_CHROMIUM=1 but no Chromium was found (looked at ${CANDIDATES.join(", ")}; apt-get install chromium, or set MTLKIT_CHROMIUM)`,
    );
  return false;
}

/** Starts headless Chromium (no sandbox: CI runs as root). */
export async function launchChromium(): Promise<Browser> {
  const puppeteer = await import("puppeteer-core");
  return puppeteer.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}
