// Open one player page in headless Chromium and print what happened as one JSON line.
// Usage: node play.mjs URL [TIMEOUT_MS]   (CHROMIUM overrides /usr/bin/chromium)
import { chromium } from "playwright-core";

const [url, timeout = "60000"] = process.argv.slice(2);
// Playwright gives every launch a fresh temporary profile (the --user-data-dir of a plain launch).
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
const requests = [];
const pageErrors = [];
try {
  const page = await browser.newPage();
  page.on("request", (request) => requests.push(request.url()));
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(url);
  let result = null;
  try {
    const handle = await page.waitForFunction(() => window.__done, null, { timeout: Number(timeout) });
    result = await handle.jsonValue();
  } catch (error) {
    result = { ok: false, timeout: String(error), partial: await page.evaluate(() => window.__state || null) };
  }
  console.log(JSON.stringify({ result, requests, pageErrors }));
} finally {
  await browser.close();
}
