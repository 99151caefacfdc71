// Quiz pages: the countdown of a timed attempt, keys 1–9 for the choices, and one submission
// per form. Progressive: without it the page shows the time left as rendered, and the server
// refuses an answer after the deadline and any repeated post anyway.

// The countdown. The server's deadline is the truth: the page carries the seconds left when it
// was rendered, counted down from when this script ran (the page's own clock, not the device's
// date). At zero the page goes back to the attempt, where the server ends it and shows the
// result. Screen readers hear the last minute and the end, not every second.
const box = document.querySelector("[data-countdown]");
if (box) {
  const value = box.querySelector("[data-countdown-value]");
  const announce = box.querySelector("[data-countdown-announce]");
  const end = performance.now() + Number(box.dataset.secondsLeft) * 1000;
  let warned = false;
  const clock = (seconds) => {
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  };
  const tick = () => {
    const left = Math.max(0, Math.ceil((end - performance.now()) / 1000));
    value.textContent = clock(left);
    box.classList.toggle("countdown-low", left <= 60);
    if (left <= 60 && left > 0 && !warned) {
      warned = true;
      announce.textContent = box.dataset.oneMinute;
    }
    if (left === 0) {
      value.textContent = box.dataset.timeUp;
      announce.textContent = box.dataset.timeUp;
      for (const button of document.querySelectorAll(".answer-form button")) button.disabled = true;
      setTimeout(() => window.location.assign(box.dataset.expiredUrl), 1500);
      return;
    }
    setTimeout(tick, 250);
  };
  tick();
}

// Keys 1–9 pick the n-th choice (unless typing in a field); Enter submits as usual.
const choices = document.querySelectorAll(".answer-form .choice input");
if (choices.length) {
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input[type=text], textarea, select, [contenteditable]")) return;
    const n = Number(event.key);
    if (Number.isInteger(n) && n >= 1 && n <= 9 && choices[n - 1]) {
      choices[n - 1].click();
      choices[n - 1].focus();
      event.preventDefault();
    }
  });
}

// A form marked data-submit-once sends once: a double click does not post twice. (The server
// would refuse the second post anyway; this spares the labeler the message about it.)
for (const form of document.querySelectorAll("form[data-submit-once]")) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });
}
// A page brought back by the back button is the same page: let its forms send again (the
// server decides what a repeated post means).
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form[data-submit-once]")) delete form.dataset.sent;
});

// Active time on the question (docs/quality.md, "Active time"): seconds the page was visible
// and the labeler had touched it within the last minute, sent with the answer. The server keeps
// it only up to the time since the question was served; without this script it counts that
// time itself, capped.
const activeField = document.querySelector("[data-active-seconds]");
if (activeField) {
  const IDLE_MS = 60_000;
  let activeMs = 0;
  let last = performance.now();
  let lastInput = last;
  const tick = () => {
    const now = performance.now();
    if (document.visibilityState === "visible" && now - lastInput < IDLE_MS) activeMs += now - last;
    last = now;
  };
  for (const type of ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"]) {
    document.addEventListener(
      type,
      () => {
        tick();
        lastInput = performance.now();
      },
      { passive: true },
    );
  }
  document.addEventListener("visibilitychange", tick);
  setInterval(tick, 1000);
  activeField.form.addEventListener("submit", () => {
    tick();
    activeField.value = String(Math.round(activeMs / 1000));
  });
}
