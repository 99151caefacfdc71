// The work page (templates/labeler/work/): keyboard shortcuts, the lease's countdown, and
// submit-and-next without a page load. Without this module the page's forms post and redirect
// as usual; with it, Submit and Skip post the same form with fetch (Accept: application/json)
// and the server answers, in the same round trip, with the next task's markup, whose image is
// loaded before the swap so the next item appears whole.
//
// Timing: from the submit (key or click) to the next item painted, each measured as
// performance.measure("labelforce:submit-to-next") and pushed (milliseconds) onto
// window.labelforceTimings, which the browser tests read.

import { initBoxTools } from "./boxes.js";

const area = document.querySelector("[data-work-area]");
const status = document.querySelector("[data-work-status]");
window.labelforceTimings = window.labelforceTimings || [];
let busy = false;
let ticking = null;

function clock(seconds) {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function notify(text, level = "success") {
  if (!text) {
    status.hidden = true;
    return;
  }
  status.className = `work-status message message-${level}`;
  status.textContent = text;
  status.hidden = false;
}

function startCountdown() {
  clearInterval(ticking);
  const el = area.querySelector(".countdown");
  if (!el) return;
  // The server's seconds left, counted on this page's clock (not the device's time of day).
  const end = performance.now() + Number(el.dataset.secondsLeft) * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((end - performance.now()) / 1000));
    el.textContent = clock(left);
    el.classList.toggle("countdown-low", left <= 60);
    if (left === 0) {
      clearInterval(ticking);
      area.querySelector("[data-lease-over]").hidden = false;
    }
  };
  tick();
  ticking = setInterval(tick, 1000);
}

function setUp() {
  initBoxTools(area);
  startCountdown();
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

async function swapIn(reply, started) {
  await preload(reply.image_url);
  area.innerHTML = reply.html;
  setUp();
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
  notify(reply.notice, reply.level);
}

function postWithoutScript(form, url) {
  // The way the page works without this module: a plain post, then the redirect.
  form.action = url;
  HTMLFormElement.prototype.submit.call(form);
}

async function send(kind) {
  const form = area.querySelector("[data-submit-form]");
  if (busy || !form) return;
  if (kind === "submit" && !form.reportValidity()) return;
  busy = true;
  const url = kind === "release" ? form.querySelector('[data-action="release"]').formAction : form.action;
  if (kind === "submit") performance.mark("labelforce:submit-start");
  const body = new FormData(form);
  let reply;
  try {
    const response = await fetch(url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": body.get("csrfmiddlewaretoken") },
    });
    reply = await response.json();
  } catch {
    postWithoutScript(form, url);
    return;
  }
  try {
    if (reply.status === "next") {
      await swapIn(reply, kind === "submit");
    } else if (reply.status === "page") {
      window.location.assign(reply.url);
      return;
    } else {
      notify(reply.notice, "error");
    }
  } finally {
    busy = false;
  }
}

async function sendFlag(form) {
  const body = new FormData(form);
  let reply;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": body.get("csrfmiddlewaretoken") },
    });
    reply = await response.json();
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
  const target = event.target;
  const flag = area.querySelector("[data-flag]");
  if (event.key === "Escape" && flag?.open) {
    flag.open = false;
    flag.querySelector("summary").focus();
    event.preventDefault();
    return;
  }
  if (target.closest?.("textarea, input[type=text], input[type=password], [contenteditable]")) return;
  if (target.closest?.(".header-tools, .site-header")) return;
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

setUp();
