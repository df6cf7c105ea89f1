/**
 * Headless Chromium for the web-export tests, through puppeteer-core and the system's Chromium
 * (Debian's `chromium`; MTLKIT_CHROMIUM names another). Without one the tests skip, except under
 * MTLKIT_REQUIRE_CHROMIUM=1 (CI), where they fail.
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
  if (REQUIRE_CHROMIUM) throw new Error(`MTLKIT_REQUIRE_CHROMIUM=1 but no Chromium was found (looked at ${CANDIDATES.join(", ")})`);
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
