// Drive the console in headless Chromium, end to end:
// 1. without a login: a task page leads to the login form (and back after it), the JSON API
//    answers 401 and an Abort POST is sent to the login form;
// 2. the task list: a running task's progress changes, and a task created while the page is open
//    appears, runs and reaches FINISH, all without a reload (the Python side creates and finishes
//    that task when this script prints `STEP list-open` and `STEP seen-running <TaskId>`);
// 3. that task's page: every sub-task, and its outputs' previews loaded from the object store
//    through presigned URLs (each image decoded, the MP4 played a little, muted);
// 4. Abort of a running task: refused (403) when the form's CSRF token is removed, then done;
//    Abort of a waiting task;
// 5. an orchestration task's DAG: each node's state class, and a node leading to its sub-task's row.
// Usage: node browser.mjs BASE_URL USER PASSWORD RUNNING_ID WAITING_ID SCHEDULE_TASK_ID STOPPABLE_ID
// (CHROMIUM overrides /usr/bin/chromium). Prints `STEP` lines, then one JSON line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(join(process.cwd(), "tests", "players", "package.json"));
const { chromium } = require("playwright-core");

const [base, user, password, running, waiting, orchestration, stoppable] = process.argv.slice(2);
const WAIT = { timeout: 15000 };
const step = (name, detail = "") => console.log(`STEP ${name} ${detail}`.trim());
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

  // 1. No session: pages lead to the login form, the JSON and the actions are refused.
  await page.goto(base + "/console/tasks/" + stoppable);
  const login = new URL(page.url());
  out.loginShown = login.pathname === "/console/login";
  out.loginNext = login.searchParams.get("next");
  out.anonymous = await page.evaluate(async (id) => {
    const api = await fetch("/console/api/tasks", { headers: { Accept: "application/json" } });
    const abort = await fetch("/console/tasks/" + id + "/abort",
      { method: "POST", body: new URLSearchParams({ csrf: "forged" }) });
    return { api: api.status, abort: abort.status, abortRedirected: abort.redirected,
      abortLandedOn: new URL(abort.url).pathname };
  }, stoppable);
  // That refused POST was sent on to the login form, which set a new form token: a fresh form.
  await page.reload();
  await page.fill('input[name="user"]', user);
  await page.fill('input[name="password"]', password);
  await Promise.all([page.waitForURL("**/console/tasks/" + stoppable), page.click('button[type="submit"]')]);
  out.landedOn = new URL(page.url()).pathname;

  // 2. The list, live: a running task's progress, and a new task from creation to FINISH.
  await page.goto(base + "/console/tasks");
  await page.evaluate(() => { window.mpsSamePage = true; });  // gone if the page reloads
  const known = await page.$$eval("#task-rows tr[data-task]", (rows) => rows.map((r) => r.dataset.task));
  const pct = `tr[data-task="${running}"] .pct`;
  out.progressBefore = await page.textContent(pct);
  step("list-open");
  await page.waitForFunction(([sel, before]) => {
    const node = document.querySelector(sel);
    return node && node.textContent !== before;
  }, [pct, out.progressBefore], WAIT);
  out.progressAfter = await page.textContent(pct);
  const fresh = await page.waitForFunction((old) => {
    const row = [...document.querySelectorAll("#task-rows tr[data-task]")].find((r) => !old.includes(r.dataset.task));
    return row ? row.dataset.task : false;
  }, known, WAIT);
  out.appeared = await fresh.jsonValue();
  const status = `tr[data-task="${out.appeared}"] .status`;
  const statusIs = (wanted) => page.waitForFunction(([sel, s]) => {
    const node = document.querySelector(sel);
    return node && node.textContent === s;
  }, [status, wanted], WAIT);
  await statusIs("PROCESSING");
  out.appearedStatuses = [await page.textContent(status)];
  step("seen-running", out.appeared);
  await statusIs("FINISH");
  out.appearedStatuses.push(await page.textContent(status));
  out.appearedProgress = await page.textContent(`tr[data-task="${out.appeared}"] .pct`);
  out.reloaded = await page.evaluate(() => performance.getEntriesByType("navigation").length);
  out.samePage = await page.evaluate(() => window.mpsSamePage === true);

  // 3. Open it: every sub-task, and the previews loaded for real from the object store.
  await Promise.all([page.waitForURL("**/console/tasks/" + out.appeared),
    page.click(`tr[data-task="${out.appeared}"] a`)]);
  out.subtasks = await page.$$eval("table.subtasks tr[data-index]", (rows) =>
    rows.map((r) => [r.children[1].textContent, r.querySelector(".status").textContent]));
  out.images = [];
  for (const img of await page.$$(".previews img")) {
    await img.scrollIntoViewIfNeeded();  // they load lazily
    await page.waitForFunction((i) => i.complete, img, WAIT);
    out.images.push(await img.evaluate(async (i) => {
      const decoded = await i.decode().then(() => true, () => false);
      return { name: i.alt, width: i.naturalWidth, height: i.naturalHeight, decoded,
        presigned: i.src.includes("X-Amz-Signature=") };
    }));
  }
  out.videos = [];
  for (const video of await page.$$(".previews video")) {
    await video.scrollIntoViewIfNeeded();
    out.videos.push(await video.evaluate(async (v) => {
      const seen = { src: v.currentSrc.split("?")[0] };
      try {
        v.muted = true;
        await v.play();
        const start = Date.now();
        while (v.currentTime <= 0 && Date.now() - start < 10000) await new Promise((r) => setTimeout(r, 50));
        v.pause();
      } catch (error) {
        seen.error = String(error);
      }
      return { ...seen, readyState: v.readyState, currentTime: v.currentTime, width: v.videoWidth,
        height: v.videoHeight, mediaError: v.error ? v.error.code : null };
    }));
  }

  // 4. Abort a running task: the form without its CSRF token is refused, then the button works.
  await page.goto(base + "/console/tasks/" + stoppable);
  out.stopBefore = await page.textContent("#task-status");
  await page.$eval('form[action$="/abort"] input[name="csrf"]', (input) => input.remove());
  const [refused] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith("/abort") && r.request().method() === "POST"),
    page.click("#abort"),
  ]);
  out.csrfStatus = refused.status();
  out.csrfBody = await refused.text();
  await page.goto(base + "/console/tasks/" + stoppable);
  out.stopStill = await page.textContent("#task-status");
  await Promise.all([page.waitForURL("**notice=*"), page.click("#abort")]);
  out.stopAfter = await page.textContent("#task-status");
  out.stopError = await page.textContent("#task-error");
  out.stopSubtasks = await page.$$eval("table.subtasks tr[data-index] .status", (s) => s.map((n) => n.textContent));
  out.stopNotice = await page.textContent(".notice");

  // ... and a waiting one.
  await page.goto(base + "/console/tasks/" + waiting);
  out.statusBefore = await page.textContent("#task-status");
  await Promise.all([page.waitForURL("**notice=*"), page.click("#abort")]);
  out.statusAfter = await page.textContent("#task-status");
  out.notice = await page.textContent(".notice");

  // 5. An orchestration's DAG.
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
