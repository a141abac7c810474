// A consultant's profile: keeps "Online / Busy / Offline" and the start buttons true while the
// page is open, by asking the public API every few seconds (only while the tab is visible).

const badge = document.querySelector("[data-live-status]");
const dot = document.querySelector("[data-presence-dot]");
const note = document.querySelector("[data-unavailable-note]");
const buttons = document.querySelectorAll("[data-start-button]");
const EVERY_MS = 10000;

const words = {
  online: badge?.dataset.online || "Online",
  busy: badge?.dataset.busy || "Busy",
  offline: badge?.dataset.offline || "Offline",
};

function show(consultant) {
  const state = consultant.is_online ? (consultant.is_busy ? "busy" : "online") : "offline";
  badge.textContent = words[state];
  badge.classList.toggle("badge-online", state === "online");
  badge.classList.toggle("badge-busy", state === "busy");
  if (dot) {
    dot.classList.toggle("presence-online", state === "online");
    dot.classList.toggle("presence-busy", state === "busy");
  }
  // (data-blocked: the client cannot start whatever the consultant does, e.g. a frozen wallet)
  for (const button of buttons) button.disabled = state !== "online" || button.hasAttribute("data-blocked");
  if (note) note.hidden = state === "online";
}

async function refresh() {
  if (document.hidden) return;
  try {
    const answer = await fetch(badge.dataset.url, { headers: { Accept: "application/json" } });
    if (answer.ok) show(await answer.json());
  } catch {
    // Offline for a moment: the next round tries again.
  }
}

if (badge) {
  setInterval(refresh, EVERY_MS);
  document.addEventListener("visibilitychange", refresh);
}
