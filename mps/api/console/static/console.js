// mps console: live task list and task page (polls JSON every 2 s: sub-tasks, the DAG's node
// states, the history), confirmations, timeline bars and their event marks, HLS/DASH players. No framework, no build step; every value goes into the page as text.
"use strict";
(function () {
  const body = document.body;
  const prefix = body.dataset.prefix || "/console";
  const POLL_MS = 2000;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children || []) node.append(child);
    return node;
  }

  // A sub-task status -> the DAG's node class (as mps/api/console/dag.py STATE_CLASSES).
  const STATE_CLASSES = { SUCCESS: "ran", PROCESSING: "running", SKIPPED: "skipped", FAIL: "failed",
    WAITING: "waiting", PENDING: "waiting" };

  function drawBars(root) {
    for (const bar of root.querySelectorAll(".bar[data-left]")) {
      bar.style.marginLeft = bar.dataset.left + "%";
      bar.style.width = bar.dataset.width + "%";
    }
    for (const mark of root.querySelectorAll(".mark[data-at]")) mark.style.left = mark.dataset.at + "%";
  }

  function statusBadge(status, failed) {
    return el("span", { class: "status s-" + status + (failed ? " failed" : "") }, [status]);
  }

  function taskRow(t) {
    const link = el("a", { href: prefix + "/tasks/" + encodeURIComponent(t.TaskId) }, [t.TaskId]);
    const progress = el("progress", { max: "100", value: String(t.Progress) });
    const subs = t.Finished + "/" + t.SubTasks + (t.Failed ? ", " + t.Failed + " failed" : "");
    const workflow = t.WorkflowId
      ? el("a", { href: prefix + "/" + (t.Owner || "workflows") + "/" + t.WorkflowId }, [String(t.WorkflowId)]) : "";
    return el("tr", { "data-task": t.TaskId }, [
      el("td", {}, [link]),
      el("td", {}, [statusBadge(t.Status, t.ErrCode || t.Failed)]),
      el("td", {}, [progress, " ", el("span", { class: "pct" }, [t.Progress + "%"]), " ",
        el("span", { class: "subs" }, [subs])]),
      el("td", { class: "input" }, [t.Input]),
      el("td", {}, [workflow]),
      el("td", {}, [el("time", {}, [t.CreateTime])]),
      el("td", {}, [el("time", {}, [t.FinishTime])]),
      el("td", { class: "err" }, [t.ErrCode ? t.ErrCode + ": " + t.Message : ""]),
    ]);
  }

  async function poll(url, apply, keepGoing) {
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.status === 401) { window.location = prefix + "/login"; return; }
      if (response.ok) apply(await response.json());
    } catch (error) { /* a missed poll: try again next time */ }
    if (keepGoing()) setTimeout(() => poll(url, apply, keepGoing), POLL_MS);
  }

  function liveTaskList() {
    const rows = document.getElementById("task-rows");
    const live = document.getElementById("live");
    if (!rows || !live || live.dataset.live !== "on") return;
    const url = prefix + "/api/tasks" + window.location.search;
    setTimeout(() => poll(url, (data) => {
      const fresh = data.Tasks.length
        ? data.Tasks.map(taskRow) : [el("tr", { class: "empty" }, [el("td", { colspan: "8" }, ["No task matches."])])];
      rows.replaceChildren(...fresh);
    }, () => true), POLL_MS);
  }

  function liveTaskPage() {
    const taskId = body.dataset.task;
    if (!taskId || body.dataset.status === "FINISH") return;
    let finished = false;
    const url = prefix + "/api/tasks/" + encodeURIComponent(taskId);
    setTimeout(() => poll(url, (t) => {
      const status = document.getElementById("task-status");
      status.textContent = t.Status;
      status.className = "status s-" + t.Status + (t.ErrCode ? " failed" : "");
      document.getElementById("task-begin").textContent = t.BeginProcessTime;
      document.getElementById("task-finish").textContent = t.FinishTime;
      if (t.ErrCode) document.getElementById("task-error").textContent = t.ErrCode + ": " + t.Message;
      for (const s of t.SubTasks) {
        const row = document.querySelector('tr[data-index="' + s.Index + '"]');
        if (!row) continue;
        row.querySelector(".status").textContent = s.Status;
        row.querySelector(".status").className = "status s-" + s.Status;
        row.querySelector("progress").value = s.Progress;
        row.querySelector(".pct").textContent = s.Progress + "%";
        row.querySelector(".attempts").textContent = String(s.Attempts);
        row.querySelector(".begin").textContent = s.Begin;
        row.querySelector(".finish").textContent = s.Finish;
        const bar = row.querySelector(".bar");
        bar.dataset.left = s.BarLeft; bar.dataset.width = s.BarWidth; bar.className = "bar s-" + s.Status;
        row.querySelector(".err").textContent = s.ErrCode
          ? s.ErrCode + (s.ErrCodeExt ? " (" + s.ErrCodeExt + ")" : "") + ": " + s.Message : "";
        const cell = row.querySelector(".timeline");
        for (const old of cell.querySelectorAll(".mark")) old.remove();
        for (const m of s.Marks || []) {
          cell.append(el("span", { class: "mark m-" + m.Event, "data-at": String(m.At), title: m.Title }));
        }
        const node = document.querySelector('g[data-node="' + s.Index + '"]');
        if (node) {
          node.setAttribute("class", "node st-" + (STATE_CLASSES[s.Status] || "plan"));
          node.setAttribute("data-status", s.Status);
        }
      }
      historyRows(t.History || []);
      drawBars(document);
      if (t.Status === "FINISH") {
        finished = true;
        // The outputs' previews are drawn by the server: show them once, now that they exist.
        setTimeout(() => window.location.reload(), 500);
      }
    }, () => !finished), POLL_MS);
  }

  function historyRows(events) {
    const rows = document.getElementById("history-rows");
    if (!rows || !events.length) return;
    rows.replaceChildren(...events.map((h) => el("tr", { "data-seq": String(h.Seq) }, [
      el("td", {}, [String(h.Seq)]),
      el("td", {}, [el("time", {}, [h.Time])]),
      el("td", {}, [el("span", { class: "event e-" + h.Event }, [h.Event])]),
      el("td", {}, [h.SubTaskIndex === null ? "" : el("a", { href: "#sub-" + h.SubTaskIndex }, [String(h.SubTaskIndex)])]),
      el("td", {}, [h.Attempt === null ? "" : String(h.Attempt)]),
      el("td", { class: "detail" }, [h.Detail]),
    ])));
  }

  function confirmations() {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    }
  }

  function players() {
    for (const video of document.querySelectorAll("video[data-hls]")) {
      if (window.Hls && window.Hls.isSupported()) {
        const hls = new window.Hls();
        hls.loadSource(video.dataset.hls);
        hls.attachMedia(video);
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = video.dataset.hls;
      }
    }
    for (const video of document.querySelectorAll("video[data-dash]")) {
      if (window.dashjs) window.dashjs.MediaPlayer().create().initialize(video, video.dataset.dash, false);
    }
  }

  drawBars(document);
  confirmations();
  players();
  liveTaskList();
  liveTaskPage();
})();
