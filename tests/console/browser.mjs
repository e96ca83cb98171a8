// Drive the console in headless Chromium: log in, watch a running task's progress change on the
// list without a reload, abort a waiting task with its button and see it FINISH; then an
// orchestration task's DAG: each node's state class, and a node leading to its sub-task's row.
// Usage: node browser.mjs BASE_URL USER PASSWORD RUNNING_TASK_ID WAITING_TASK_ID SCHEDULE_TASK_ID (CHROMIUM overrides
// /usr/bin/chromium). Prints one JSON line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(join(process.cwd(), "tests", "players", "package.json"));
const { chromium } = require("playwright-core");

const [base, user, password, running, waiting, orchestration] = process.argv.slice(2);
const profile = mkdtempSync(join(tmpdir(), "mps-console-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const out = { pageErrors: [] };
try {
  const page = context.pages()[0] || await context.newPage();
  page.on("pageerror", (error) => out.pageErrors.push(String(error)));
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(base + "/console/tasks");
  out.loginShown = page.url().includes("/console/login");
  await page.fill('input[name="user"]', user);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL("**/console/tasks"), page.click('button[type="submit"]')]);
  const pct = `tr[data-task="${running}"] .pct`;
  out.progressBefore = await page.textContent(pct);
  await page.waitForFunction(([sel, before]) => {
    const node = document.querySelector(sel);
    return node && node.textContent !== before;
  }, [pct, out.progressBefore], { timeout: 15000 });
  out.progressAfter = await page.textContent(pct);
  out.reloaded = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  await page.goto(base + "/console/tasks/" + waiting);
  out.statusBefore = await page.textContent("#task-status");
  await Promise.all([page.waitForURL("**notice=*"), page.click("#abort")]);
  out.statusAfter = await page.textContent("#task-status");
  out.notice = await page.textContent(".notice");
  if (orchestration) {
    await page.goto(base + "/console/tasks/" + orchestration);
    if (process.env.MPS_SCREENSHOT) {  // the README's picture: MPS_SCREENSHOT=examples/console-task.png
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.screenshot({ path: process.env.MPS_SCREENSHOT });
    }
    out.dagStates = await page.$$eval("svg.dag g.node", (nodes) =>
      nodes.map((n) => n.getAttribute("class").replace("node st-", "")));
    out.dagEdges = await page.$$eval("svg.dag path.edge", (edges) => edges.length);
    const box = await page.$('svg.dag g.node[data-node="3"] rect');
    out.dagBoxShown = (await box.boundingBox()).width > 0;
    await page.click('svg.dag g.node[data-node="3"]');
    out.hash = await page.evaluate(() => window.location.hash);
    out.historyRows = await page.$$eval("#history-rows tr[data-seq]", (rows) => rows.length);
  }
  console.log(JSON.stringify({ ok: true, ...out }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error), ...out }));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
