// The work page (templates/labeler/work/): keyboard shortcuts, the lease's countdown, and
// submit-and-next without a wait. Without this module the page's forms post and redirect as
// usual, and no task is leased in advance.
//
// With it, the next task is prefetched (docs/next-task.md, "Look-ahead lease"): once a task
// shows, the page posts work/ahead/, which leases the labeler's next task and answers with its
// markup; its image is decoded at once. Submit (or Skip) then swaps that task in immediately and
// posts the command in the background; the command's answer carries the next look-ahead task.
// The posts go one at a time, in order. The page always says which task it shows ("shown"):
// if the server's current lease is another one (the look-ahead lease ran out, say), its markup
// comes back and replaces it. A refused command is said in a banner about the previous task —
// never dropped silently. With nothing prefetched (none left), Submit waits for the answer as
// a plain round trip.
//
// Timing: from the submit (key or click) to the next item painted, each measured as
// performance.measure("labelforce:submit-to-next") and pushed (milliseconds) onto
// window.labelforceTimings, which the browser tests read.

import { initBoxTools } from "./boxes.js";

const area = document.querySelector("[data-work-area]");
const status = document.querySelector("[data-work-status]");
const alertBox = document.querySelector("[data-work-alert]");
window.labelforceTimings = window.labelforceTimings || [];
let busy = false; // a submit or skip is being shown
let ticking = null;
let ahead = null; // the look-ahead task: {id, html, image_url, ready}
let queue = Promise.resolve(); // the posts, one after the other
// A task swapped in takes no command for this long unless the labeler touched it: a double
// press meant for the task before must not answer one they have not seen (an empty box or
// multiple-choice answer is valid).
const SETTLE_MS = 300;
let shownAt = -Infinity;
let touched = true;

function clock(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function notify(text, level = "success") {
  if (level === "error") {
    warn(text);
    return;
  }
  if (!text) {
    status.hidden = true;
    return;
  }
  status.className = `work-status message message-${level}`;
  status.textContent = text;
  status.hidden = false;
}

function warn(text) {
  // An error stays until the labeler closes it: it is about a task no longer on the screen.
  alertBox.querySelector("[data-work-alert-text]").textContent = text;
  alertBox.hidden = false;
}

alertBox.querySelector("[data-work-alert-close]").addEventListener("click", () => {
  alertBox.hidden = true;
  area.querySelector("#task-heading")?.focus({ preventScroll: true });
});

function startCountdown(secondsLeft) {
  clearInterval(ticking);
  const el = area.querySelector(".countdown");
  if (!el) return;
  if (secondsLeft !== undefined) el.dataset.secondsLeft = secondsLeft;
  // The server's seconds left, counted on this page's clock (not the device's time of day).
  const end = performance.now() + Number(el.dataset.secondsLeft) * 1000;
  const over = area.querySelector("[data-lease-over]");
  if (over) over.hidden = true;
  const tick = () => {
    const left = Math.max(0, Math.round((end - performance.now()) / 1000));
    el.textContent = clock(left);
    el.classList.toggle("countdown-low", left <= 60);
    if (left === 0) {
      clearInterval(ticking);
      if (over) over.hidden = false;
    }
  };
  tick();
  ticking = setInterval(tick, 1000);
}

function afterPaint() {
  // A frame is painted after the requestAnimationFrame callbacks run; a task queued from one
  // runs once that frame is out.
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

async function preload(url) {
  if (!url) return;
  const image = new Image();
  image.src = url;
  try {
    await image.decode();
  } catch {
    // A broken image still swaps in (its alt text shows); the page says nothing more.
  }
}

function shownId() {
  return area.querySelector("[data-task]")?.dataset.assignment || "";
}

function token() {
  return area.querySelector('[name="csrfmiddlewaretoken"]')?.value || "";
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    keepalive: true, // an answer sent as the labeler leaves the page still reaches the server
    headers: { Accept: "application/json", "X-CSRFToken": body.get("csrfmiddlewaretoken") || token() },
  });
  return response.json(); // a page that is not JSON (an error page) throws here
}

let commandsPending = 0; // answers and skips not yet answered by the server

function enqueue(job, { command = false } = {}) {
  const run = queue.then(job);
  queue = run.catch(() => {});
  if (command) {
    commandsPending += 1;
    run.finally(() => { commandsPending -= 1; }).catch(() => {});
  }
  return run;
}

// Leaving while an answer is still on its way (closing the tab, following a link) asks first:
// a queued answer that has not started cannot outlive the page.
window.addEventListener("beforeunload", (event) => {
  if (commandsPending) event.preventDefault();
});

function keep(next) {
  // The look-ahead task, its image decoded as soon as it comes; data-ahead-ready names it once
  // it can be swapped in without a wait (the browser tests wait for it, as a labeler would).
  delete area.dataset.aheadReady;
  ahead = next ? { ...next, ready: preload(next.image_url) } : null;
  const kept = ahead;
  kept?.ready.then(() => {
    if (ahead === kept) area.dataset.aheadReady = kept.id;
  });
}

async function show(html, started) {
  // Swap a task in; with ``started``, measure from the submit to its paint.
  area.innerHTML = html;
  shownAt = performance.now();
  touched = false;
  initBoxTools(area);
  startCountdown();
  area.querySelector("#task-heading")?.focus({ preventScroll: true });
  window.scrollTo({ top: 0 });
  const image = area.querySelector("[data-item-image]");
  if (image && !image.complete) await new Promise((r) => image.addEventListener("load", r, { once: true }));
  await afterPaint();
  if (started) {
    performance.mark("labelforce:next-painted");
    const measure = performance.measure("labelforce:submit-to-next", "labelforce:submit-start", "labelforce:next-painted");
    window.labelforceTimings.push(measure.duration);
  }
}

async function handle(reply, { started = false } = {}) {
  // The server's answer to a command or to the look-ahead call.
  if (reply.status === "page") {
    window.location.assign(reply.url);
    return;
  }
  const current = reply.current;
  let notice = reply.notice;
  let level = reply.level;
  if (current.html) {
    // The server's current task is not the one on the screen: show it, and, when it replaces
    // one the labeler was looking at, say why.
    await preload(current.image_url);
    await show(current.html, started);
    if (!started) {
      notice = [notice, alertBox.dataset.replaced].filter(Boolean).join(" ");
      if (level !== "error") level = "warning";
    }
  } else {
    // The one on the screen: its lease may have been extended when it became the current one.
    startCountdown(current.seconds_left);
  }
  keep(reply.ahead);
  if (notice) notify(notice, level);
}

function lookAhead() {
  const body = new FormData();
  body.append("csrfmiddlewaretoken", token());
  body.append("shown", shownId());
  enqueue(async () => handle(await post(area.dataset.aheadUrl, body))).catch(() => {
    // No look-ahead task: Submit then waits for the next one, as without a prefetch.
  });
}

function postWithoutScript(form, url) {
  // The way the page works without this module: a plain post, then the redirect.
  form.action = url;
  HTMLFormElement.prototype.submit.call(form);
}

async function send(kind) {
  const form = area.querySelector("[data-submit-form]");
  if (busy || !form || (!touched && performance.now() - shownAt < SETTLE_MS)) return;
  if (kind === "submit" && !form.reportValidity()) return;
  busy = true;
  const url = kind === "release" ? form.querySelector('[data-action="release"]').formAction : form.action;
  const started = kind === "submit";
  if (started) performance.mark("labelforce:submit-start");
  const body = new FormData(form);
  try {
    // A look-ahead answer still on its way (a quick labeler) comes before the swap.
    if (!ahead) await queue;
    const next = ahead;
    ahead = null;
    delete area.dataset.aheadReady;
    if (next) {
      await next.ready;
      body.append("shown", next.id);
      notify("");
      await show(next.html, started);
      busy = false;
      enqueue(() => background(url, body), { command: true });
      return;
    }
    // Nothing prefetched: one round trip, the next task shown when it comes.
    body.append("shown", shownId());
    let reply;
    try {
      reply = await enqueue(() => post(url, body), { command: true });
    } catch {
      postWithoutScript(form, url);
      return;
    }
    await handle(reply, { started });
  } finally {
    busy = false;
  }
}

async function background(url, body) {
  // The command of a task no longer on the screen. A retry is safe (the same answer again is
  // "already saved"); a failure is said, never dropped.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await handle(await post(url, body));
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 800));
    }
  }
  warn(alertBox.dataset.unsent);
}

async function sendFlag(form) {
  const body = new FormData(form);
  let reply;
  try {
    reply = await enqueue(() => post(form.action, body), { command: true });
  } catch {
    HTMLFormElement.prototype.submit.call(form);
    return;
  }
  notify(reply.notice, reply.status === "success" ? "success" : "error");
  if (reply.status === "success") {
    const box = form.closest("[data-flag]");
    box.open = false;
    form.reset();
    box.querySelector("summary").focus();
  }
}

for (const type of ["input", "change", "pointerdown", "click"]) {
  area.addEventListener(type, (event) => {
    // Submit and Skip themselves do not count: a double click on them is the double press.
    if (!event.target.closest?.("[data-action]")) touched = true;
  });
}

area.addEventListener("submit", (event) => {
  event.preventDefault();
  if (event.target.matches("[data-flag-form]")) {
    sendFlag(event.target);
    return;
  }
  send(event.submitter?.dataset.action === "release" ? "release" : "submit");
});

function openFlag() {
  const box = area.querySelector("[data-flag]");
  if (!box) return;
  box.open = true;
  box.querySelector("textarea").focus();
}

function choose(position) {
  const tool = area.querySelector("[data-box-tool]");
  if (tool) {
    tool.boxTool?.setClass(position);
    return;
  }
  const inputs = area.querySelectorAll('[data-submit-form] input[name="answer"]');
  const input = inputs[position];
  if (!input) return;
  input.checked = input.type === "radio" ? true : !input.checked;
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

document.addEventListener("keydown", (event) => {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.repeat && (event.key === "Enter" || event.key === "Escape")) return;
  const target = event.target;
  const flag = area.querySelector("[data-flag]");
  if (event.key === "Escape" && flag?.open) {
    flag.open = false;
    flag.querySelector("summary").focus();
    event.preventDefault();
    return;
  }
  if (target.closest?.("textarea, input[type=text], input[type=password], [contenteditable]")) return;
  if (target.closest?.(".header-tools, .site-header, [data-work-alert]")) return;
  if (/^[1-9]$/.test(event.key)) {
    if (target.tagName === "SELECT") return; // the select's own type-to-choose
    event.preventDefault();
    choose(Number(event.key) - 1);
  } else if (event.key === "Enter") {
    if (target.closest?.("button, a, summary, select")) return; // their own action
    event.preventDefault();
    send("submit");
  } else if (event.key === "Escape") {
    event.preventDefault();
    send("release");
  } else if (event.key === "f" || event.key === "F") {
    event.preventDefault();
    openFlag();
  }
});

initBoxTools(area);
startCountdown();
lookAhead();
