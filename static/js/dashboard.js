// The consultant's dashboard: the Online switch, and requests that ring in live.
//
// A `consultation_requested` frame on the page's socket brings a request: its card (rendered by
// the server, /dashboard/requests/<id>/) is added, a two-tone ring plays through Web Audio
// (no sound file) and the tab's title blinks, until the request is accepted, declined,
// cancelled or expires (`consultation_updated`, or the ring timeout counted down here).

import { connect } from "./socket.js";

const requests = document.querySelector("[data-requests]");
const switchForm = document.querySelector("[data-availability]");
const switchBox = switchForm?.querySelector("input[name=online]");
const switchText = document.querySelector("[data-availability-text]");
const connection = document.querySelector("[data-connection]");
const soundHint = document.querySelector("[data-sound-hint]");
const ringSeconds = Number(requests.dataset.ringSeconds || 60);
const baseTitle = document.title;

// --- Sound: a phone-like two-tone burst every 2 s while anything rings ---------------------

let audio = null;

function audioContext() {
  if (!audio) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (Context) audio = new Context();
  }
  return audio;
}

// Browsers allow sound only after the person interacts with the page.
function unlockSound() {
  const context = audioContext();
  if (context && context.state === "suspended") context.resume();
  if (soundHint) soundHint.hidden = true;
}
document.addEventListener("pointerdown", unlockSound);
document.addEventListener("keydown", unlockSound);

function burst() {
  const context = audioContext();
  if (!context) return;
  if (context.state !== "running") {
    if (soundHint) soundHint.hidden = false;
    return;
  }
  const start = context.currentTime;
  for (let i = 0; i < 2; i += 1) {
    for (const [offset, frequency] of [[0, 880], [0.2, 660]]) {
      const at = start + i * 0.5 + offset;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.2);
    }
  }
}

let ringTimer = null;
let blink = false;

function ringing() {
  return requests.querySelectorAll("[data-testid=incoming-request]");
}

function updateRing() {
  const count = ringing().length;
  if (count && !ringTimer) {
    burst();
    ringTimer = setInterval(() => {
      burst();
      blink = !blink;
      document.title = blink ? `🔔 ${requests.dataset.title || "Incoming request"}` : baseTitle;
    }, 2000);
  } else if (!count && ringTimer) {
    clearInterval(ringTimer);
    ringTimer = null;
    document.title = baseTitle;
  }
  requests.dataset.ringing = count ? "true" : "false";
}

// --- Requests ---------------------------------------------------------------------------------

function secondsLeft(card) {
  const requestedAt = Date.parse(card.dataset.requestedAt);
  return Math.max(0, Math.round(ringSeconds - (Date.now() - requestedAt) / 1000));
}

function tick() {
  for (const card of ringing()) {
    const left = secondsLeft(card);
    const field = card.querySelector("[data-field=left]");
    if (field) field.textContent = `${left} s`;
    if (left <= 0) card.remove();
  }
  updateRing();
}
setInterval(tick, 1000);

async function addRequest(consultation) {
  if (requests.querySelector(`[data-consultation-id="${consultation.id}"]`)) return;
  const url = requests.dataset.fragmentUrl.replace(
    "00000000-0000-0000-0000-000000000000",
    consultation.id,
  );
  const answer = await fetch(url, { headers: { Accept: "text/html" } });
  if (!answer.ok) return; // already answered, cancelled or expired
  const holder = document.createElement("div");
  holder.innerHTML = await answer.text();
  const card = holder.firstElementChild;
  if (!card || requests.querySelector(`[data-consultation-id="${consultation.id}"]`)) return;
  requests.prepend(card);
  tick();
}

function removeRequest(consultationId) {
  requests.querySelector(`[data-consultation-id="${consultationId}"]`)?.remove();
  updateRing();
}

// --- The socket --------------------------------------------------------------------------------

const socket = connect();
socket.on("consultation_requested", (frame) => addRequest(frame.consultation));
socket.on("consultation_updated", (frame) => {
  if (frame.consultation.status !== "pending") removeRequest(frame.consultation.id);
});
socket.on("state", (state) => {
  if (!connection) return;
  connection.dataset.state = state;
  connection.textContent = state === "reconnecting" ? connection.dataset.reconnecting || "Reconnecting…" : "";
});
socket.on("open", () => {
  if (connection) connection.textContent = "";
  // Frames sent while the socket was away are lost: ask for what is ringing now.
  if (document.body.dataset.loaded) refreshRinging();
  document.body.dataset.loaded = "true";
});

async function refreshRinging() {
  const answer = await fetch(window.location.href, { headers: { Accept: "text/html" } });
  if (!answer.ok) return;
  const page = new DOMParser().parseFromString(await answer.text(), "text/html");
  const fresh = page.querySelector("[data-requests]");
  if (fresh) requests.replaceChildren(...fresh.children);
  tick();
}

// --- The Online switch -------------------------------------------------------------------------

switchBox?.addEventListener("change", async () => {
  unlockSound();
  const wanted = switchBox.checked;
  const body = new FormData(switchForm);
  if (!wanted) body.delete("online");
  try {
    const answer = await fetch(switchForm.action, {
      method: "POST",
      body,
      headers: { Accept: "application/json" },
    });
    const data = await answer.json();
    if (!answer.ok) throw new Error(data.detail);
    switchBox.checked = data.is_online;
    switchText.textContent = data.is_online
      ? switchText.dataset.online
      : switchText.dataset.offline;
  } catch (error) {
    switchBox.checked = !wanted;
    switchText.textContent = error.message || switchText.dataset.failed;
  }
});

tick();
