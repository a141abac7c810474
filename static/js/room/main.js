// The consultation room (templates/consultations/room.html): one page through a consultation's
// whole life, kept live by the socket.
//
// The server renders the page for the state the consultation is in; this module mounts the
// parts that state needs (the ring, the chat, the meter, the call, the recharge dialog) and,
// when the status moves (consultation_updated, or an answer to End or Cancel), fetches the part
// of the page that changes (?part=body) and mounts it again. After every (re)connection it joins
// the consultation, and re-reads what it may have missed: the status, the meter and the
// messages; the chat's outbox goes out and the call checks that it is still up. So a reload or a
// lost connection at any moment carries on where it was.

import { clock } from "../money.js";
import { connect } from "../socket.js";
import { Call } from "./call.js";
import { Chat } from "./chat.js";
import { Http } from "./http.js";
import { Meter } from "./meter.js";
import { Recharge } from "./recharge.js";
import { readJson, strings } from "./strings.js";

const config = readJson("room-config");
const t = strings(readJson("room-strings"));
const http = new Http(config.csrf);
const page = document.querySelector("[data-room]");
const body = document.getElementById("room-body");
const liveRegion = document.querySelector("[data-announce]");
const STATE_AFTER_TICK_MS = 300;
const RETRY_BODY_MS = 2000;
const PHONE = "(max-width: 40rem)";

// Words for screen readers (new messages, warnings, the status): one polite live region.
function announce(text) {
  liveRegion.textContent = "";
  setTimeout(() => (liveRegion.textContent = text), 60);
}

class Room {
  constructor() {
    this.socket = connect();
    this.parts = {};
    this.version = 0;
    this.opens = 0;
    this.reopened = [];
    this.mount(readJson("room-state"));
    const on = (type, fn) => this.socket.on(type, fn);
    const ours = (frame) => frame.session_id === config.id;
    on("open", () => this.resync());
    on("state", (state) => this.showConnection(state));
    on("unauthorized", () => this.unauthorized());
    on("consultation_updated", (frame) => {
      if (frame.consultation.id === config.id) this.statusIs(frame.consultation.status);
    });
    on("billing_tick", (frame) => ours(frame) && this.ticked(frame));
    on("balance_low", (frame) => ours(frame) && this.parts.meter && this.parts.meter.warn(true));
    on("presence", (frame) => {
      if (frame.user_id === config.peer.id) this.peerOnline(frame.is_online, true);
    });
  }

  // --- The parts of the page ------------------------------------------------------------------

  mount(state) {
    this.unmount();
    this.status = state.consultation.status;
    page.dataset.status = this.status;
    const active = this.status === "active";
    const deps = { socket: this.socket, config, t, http, announce };
    const chat = body.querySelector("[data-chat]");
    if (chat) this.parts.chat = new Chat(chat, { ...deps, live: active });
    if (active) {
      const room = body.querySelector("[data-active]");
      this.parts.meter = new Meter(room, {
        t,
        announce,
        onRecharge: () => this.parts.recharge && this.parts.recharge.open(),
      });
      this.parts.meter.show(state.meter);
      if (room.querySelector("[data-recharge-dialog]")) {
        this.parts.recharge = new Recharge(room, {
          ...deps,
          onCredited: (answer) => this.applyState(answer),
        });
      }
      const call = body.querySelector("[data-call]");
      if (call) {
        this.parts.call = new Call(call, deps);
        this.parts.call.start();
      }
    }
    if (active && window.matchMedia(PHONE).matches) {
      // A phone: the live room is one screen high; the site's header waits above it.
      page.scrollIntoView({ block: "start" });
    }
    if (this.status === "pending") this.ring(state.ring_seconds_left);
    this.bindForms();
    this.showConnection(this.socket.state);
    if (this.opens && this.socket.state === "open" && this.parts.chat && active) {
      this.parts.chat.resume();
    }
  }

  unmount() {
    for (const part of Object.values(this.parts)) part.stop && part.stop();
    this.parts = {};
    clearInterval(this.ringTimer);
  }

  // The status moved: the page's body for the new one, from the server.
  statusIs(status) {
    if (status !== this.status) this.reloadBody();
  }

  async reloadBody() {
    const version = ++this.version;
    let html;
    try {
      html = await http.html(config.urls.body);
    } catch (error) {
      if (error.code === "not_authenticated") this.signedOut();
      else setTimeout(() => version === this.version && this.reloadBody(), RETRY_BODY_MS);
      return;
    }
    if (version !== this.version) return;
    const before = this.status;
    this.unmount();
    body.innerHTML = html;
    this.mount(readJson("room-state"));
    if (before !== this.status) {
      const badge = body.querySelector(".room-status .badge");
      if (badge) announce(badge.textContent.trim());
      const heading = body.querySelector("#receipt-title, #closed-title");
      if (heading) {
        heading.tabIndex = -1;
        heading.focus({ preventScroll: false });
      }
    }
  }

  ring(secondsLeft) {
    const field = body.querySelector("[data-ring-left]");
    if (!field) return;
    const started = performance.now();
    const render = () => {
      const left = Math.max(0, secondsLeft - Math.floor((performance.now() - started) / 1000));
      field.textContent = left > 0 ? clock(left) : t("ring_over");
    };
    render();
    this.ringTimer = setInterval(render, 500);
  }

  bindForms() {
    this.enhance("[data-end-form]", config.urls.end, "end_failed");
    this.enhance("[data-cancel-form]", config.urls.cancel, "cancel_failed");
  }

  // End and Cancel without leaving the page (the forms work without the script too).
  enhance(selector, url, failure) {
    const form = body.querySelector(selector);
    if (!form) return;
    const error = body.querySelector("[data-pending-error]");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      try {
        const answer = await http.post(url);
        this.statusIs(answer.consultation.status);
      } catch (problem) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        if (problem.code === "invalid_state") {
          this.reloadBody();
          return;
        }
        const text = t(failure, { reason: problem.detail || t("error_generic") });
        if (error) {
          error.textContent = text;
          error.hidden = false;
        }
        announce(text);
      }
    });
  }

  // --- What the server says -------------------------------------------------------------------

  // After every (re)connection: join, then catch up with whatever happened meanwhile.
  async resync() {
    this.opens += 1;
    let joined;
    try {
      joined = await this.socket.request(
        { type: "join_session", session_id: config.id },
        "session_joined",
      );
    } catch {
      return; // the socket dropped again; the next "open" tries again
    }
    if (joined.consultation.status !== this.status) {
      await this.reloadBody();
      return;
    }
    await this.refreshState();
    if (this.parts.chat && this.status === "active") this.parts.chat.resume();
    if (this.parts.call) {
      if (this.opens > 1) this.parts.call.resume();
      else this.parts.call.nudge();
    }
  }

  async refreshState() {
    try {
      this.applyState(await http.json(config.urls.state));
    } catch (error) {
      if (error.code === "not_authenticated") this.signedOut();
    }
  }

  applyState(state) {
    if (state.consultation.status !== this.status) {
      this.reloadBody();
      return;
    }
    if (this.parts.meter) this.parts.meter.show(state.meter);
    this.peerOnline(state.peer_online, false);
    if (this.status === "pending") {
      clearInterval(this.ringTimer);
      this.ring(state.ring_seconds_left);
    }
  }

  ticked(frame) {
    if (this.parts.meter) this.parts.meter.tick(frame);
    // The rest of the figures (what is available, what the consultant earns) as of this tick.
    clearTimeout(this.stateSoon);
    this.stateSoon = setTimeout(() => this.refreshState(), STATE_AFTER_TICK_MS);
  }

  peerOnline(online, changed) {
    const testid = body.querySelector('[data-testid="peer-online"]');
    if (!testid) return;
    const was = testid.textContent === "online";
    testid.textContent = online ? "online" : "offline";
    body.querySelector("[data-peer-label]").textContent = online ? t("online_label") : t("offline_label");
    const dot = body.querySelector("[data-presence-dot]");
    if (dot) dot.classList.toggle("presence-online", online);
    if (changed && online !== was) {
      announce(`${config.peer.name}: ${online ? t("online_label") : t("offline_label")}`);
      if (online && this.parts.call) this.parts.call.peerBack();
    }
  }

  showConnection(state) {
    const banner = body.querySelector("[data-connection]");
    if (!banner) return;
    clearTimeout(this.bannerTimer);
    if (state === "reconnecting") {
      this.wasDown = true;
      banner.dataset.state = "reconnecting";
      banner.textContent = t("reconnecting");
      banner.hidden = false;
    } else if (state === "open" && this.wasDown) {
      this.wasDown = false;
      banner.dataset.state = "open";
      banner.textContent = t("reconnected");
      this.bannerTimer = setTimeout(() => (banner.hidden = true), 3000);
    } else if (state === "open") {
      banner.hidden = true;
    }
  }

  // The server closed the socket as not signed in (4401). If the session is still good (the
  // socket was closed for another reason, such as a credential's expiry), connect again; if
  // not, say so, with the way back.
  async unauthorized() {
    const now = performance.now();
    this.reopened = this.reopened.filter((at) => now - at < 60000);
    try {
      await http.json(config.urls.state);
    } catch (error) {
      if (error.code === "not_authenticated" || error.status === 401) {
        this.signedOut();
        return;
      }
    }
    if (this.reopened.length >= 3) {
      this.signedOut();
      return;
    }
    this.reopened.push(now);
    this.socket.reopen();
  }

  signedOut() {
    const banner = body.querySelector("[data-connection]");
    if (!banner) return;
    banner.dataset.state = "reconnecting";
    banner.textContent = `${t("signed_out")} `;
    const link = document.createElement("a");
    link.href = config.urls.login;
    link.textContent = t("sign_in");
    banner.append(link);
    banner.hidden = false;
  }
}

if (config && body) new Room();
