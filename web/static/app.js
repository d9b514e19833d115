// The few things a page does in the browser: the hold's countdown and its warning, and each
// time shown in the patient's own zone where it differs from the clinic's. Everything works
// without it (forms post, the server renders).

function ownZoneTimes() {
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const el of document.querySelectorAll("[data-zone]")) {
    const start = el.dataset.start || el.getAttribute("datetime");
    if (!start || el.dataset.zone === mine) continue;
    const yours = new Date(start).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
    const note = document.createElement("span");
    note.className = "yours";
    note.textContent = `your time ${yours}`;
    el.appendChild(note);
  }
}

function holdCountdown() {
  const hold = document.getElementById("hold");
  if (!hold) return;
  const ends = Date.parse(hold.dataset.expires);
  const shown = document.getElementById("countdown");
  const warning = document.getElementById("hold-warning");
  const status = document.getElementById("status");
  let said = "";
  const say = (text) => {  // shown, and announced once, politely
    if (text === said) return;
    said = text;
    warning.hidden = false;
    warning.textContent = text;
    status.textContent = text;
  };
  const tick = () => {
    const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
    const m = Math.floor(left / 60), s = String(left % 60).padStart(2, "0");
    shown.textContent = left > 0 ? `(${m}:${s} left)` : "(ended)";
    if (left === 0) {
      say("Your hold has ended. Pick the time again or another time.");
    } else if (left <= 60) {
      say("Your hold ends in less than a minute. Choose \u201cKeep my time\u201d to keep it.");
    }
    if (left > 0) setTimeout(tick, 1000);
  };
  tick();
}

ownZoneTimes();
holdCountdown();
