// The consultation room: one page through a consultation's life, kept live by the socket.
// The server renders the page for the consultation's state; this module mounts the parts that
// state needs (ring, chat, meter, call, recharge) and, when the status moves, fetches the part
// that changes (?part=body) and mounts it again. After every (re)connection it joins the
// consultation and re-reads what it may have missed (status, meter, messages); the outbox goes
// out and the call checks it is still up. So a reload or a lost socket carries on.

import { clock } from "../money.js";
import { connect } from "../socket.js";
import { Chat } from "./chat.js";
import { Http } from "./http.js";
import { Meter } from "./meter.js";
import { readJson, strings } from "./strings.js";

const config = readJson("room-config");
const t = strings(readJson("room-strings"));
const http = new Http(config.csrf);
const page = document.querySelector("[data-room]");
const body = document.getElementById("room-body");
const liveRegion = document.querySelector("[data-announce]");
const find = (selector) => body.querySelector(selector);

// Words for screen readers (new messages, warnings, the status): one polite live region.
function announce(text) {
  liveRegion.textContent = "";
  setTimeout(() => (liveRegion.textContent = text), 60);
}

class Room {
  constructor() {
    const socket = (this.socket = connect());
    this.parts = {};
    this.version = 0;
    this.opens = 0;
    this.reopened = [];
    this.mount(readJson("room-state"));
    const ours = (frame) => frame.session_id === config.id;
    socket.on("open", () => {
      this.opens += 1;
      this.resync();
    });
    socket.on("state", (state) => this.showConnection(state));
    socket.on("unauthorized", () => this.unauthorized());
    socket.on("consultation_updated", ({ consultation }) => {
      if (consultation.id === config.id) this.statusIs(consultation.status);
    });
    socket.on("billing_tick", (frame) => ours(frame) && this.ticked(frame));
    socket.on("balance_low", (frame) => ours(frame) && this.parts.meter?.warn(true));
    socket.on("presence", (frame) => {
      if (frame.user_id !== config.peer.id) return;
      this.heard = { online: frame.is_online }; // newer than a state asked for before it came
      this.peerOnline(frame.is_online, true);
    });
  }

  // --- The parts of the page -------------------------------------------------------------------

  async mount(state) {
    const version = this.version;
    this.unmount();
    this.status = state.consultation.status;
    page.dataset.status = this.status;
    const active = this.status === "active";
    const deps = { socket: this.socket, config, t, http, announce };
    if (find("[data-chat]")) this.parts.chat = new Chat(find("[data-chat]"), { ...deps, live: active });
    if (this.status === "pending") this.ring(state.ring_seconds_left);
    this.enhance("[data-end-form]", config.urls.end, "end_failed");
    this.enhance("[data-cancel-form]", config.urls.cancel, "cancel_failed");
    this.showConnection(this.socket.state);
    if (!active) return;
    const room = find("[data-active]");
    const meter = (this.parts.meter = new Meter(room, {
      t,
      announce,
      onRecharge: () => this.parts.recharge?.open(),
    }));
    meter.show(state.meter);
    if (window.matchMedia("(max-width: 40rem)").matches) page.scrollIntoView(); // one screen
    if (this.opens && this.socket.state === "open") this.parts.chat?.resume();
    // The call and the recharge dialog load only where they are needed.
    const [call, recharge] = await Promise.all([
      find("[data-call]") && import("./call.js"),
      find("[data-recharge-dialog]") && import("./recharge.js"),
    ]);
    if (version !== this.version || this.status !== "active") return;
    if (recharge) {
      const onCredited = (answer) => this.applyState(answer);
      this.parts.recharge = new recharge.Recharge(room, { ...deps, onCredited });
    }
    if (call) {
      this.parts.call = new call.Call(find("[data-call]"), deps);
      this.parts.call.start();
    }
  }

  unmount() {
    Object.values(this.parts).forEach((part) => part.stop?.());
    this.parts = {};
    clearInterval(this.ringTimer);
  }

  statusIs(status) {
    if (status !== this.status) this.reloadBody();
  }

  // The status moved: the part of the page for the new one, from the server.
  async reloadBody() {
    const version = ++this.version;
    const heard = this.heard;
    let html;
    try {
      html = await http.html(config.urls.body);
    } catch (error) {
      if (error.code === "not_authenticated") this.signedOut();
      else setTimeout(() => version === this.version && this.reloadBody(), 2000);
      return;
    }
    if (version !== this.version) return;
    const before = this.status;
    this.unmount();
    body.innerHTML = html;
    this.mount(readJson("room-state"));
    if (heard !== this.heard) this.peerOnline(this.heard.online, false);
    if (before === this.status) return;
    announce(find(".room-status .badge")?.textContent.trim() || "");
    const heading = find("#receipt-title, #closed-title");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }

  ring(secondsLeft) {
    const field = find("[data-ring-left]");
    const started = performance.now();
    const render = () => {
      const left = secondsLeft - Math.floor((performance.now() - started) / 1000);
      field.textContent = left > 0 ? clock(left) : t("ring_over");
    };
    render();
    this.ringTimer = setInterval(render, 500);
  }

  // End and Cancel without leaving the page (the forms work without the script too).
  enhance(selector, url, failure) {
    const form = find(selector);
    form?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        this.statusIs((await http.post(url)).consultation.status);
      } catch (problem) {
        button.disabled = false;
        if (problem.code === "invalid_state") return this.reloadBody();
        const text = t(failure, { reason: problem.detail || t("error_generic") });
        const error = find("[data-pending-error]");
        if (error) error.hidden = !(error.textContent = text);
        announce(text);
      }
    });
  }

  // --- What the server says --------------------------------------------------------------------

  // After every (re)connection: join, then catch up with whatever happened meanwhile.
  async resync() {
    let joined;
    try {
      const frame = { type: "join_session", session_id: config.id };
      joined = await this.socket.request(frame, "session_joined");
    } catch (error) {
      // No answer in time on a live socket: ask again (a dropped one rejoins when it opens).
      if (error.code === "timeout" && this.socket.state === "open") this.resync();
      return;
    }
    if (joined.consultation.status !== this.status) {
      await this.reloadBody(); // (its parts catch up as they mount)
    } else {
      await this.refreshState();
      if (this.status === "active") this.parts.chat?.resume();
      if (this.opens > 1) this.parts.call?.resume();
      else this.parts.call?.nudge();
    }
    page.dataset.live = "joined"; // in the room and up to date (what tests wait for)
  }

  async refreshState() {
    const heard = this.heard;
    try {
      this.applyState(await http.json(config.urls.state), heard);
    } catch (error) {
      if (error.code === "not_authenticated") this.signedOut();
    }
  }

  applyState(state, heard = this.heard) {
    if (state.consultation.status !== this.status) return this.reloadBody();
    this.parts.meter?.show(state.meter);
    this.peerOnline(heard === this.heard ? state.peer_online : this.heard.online, false);
    if (this.status === "pending") {
      clearInterval(this.ringTimer);
      this.ring(state.ring_seconds_left);
    }
  }

  ticked(frame) {
    this.parts.meter?.tick(frame);
    // The rest of the figures (what is available, what the consultant earns) as of this tick.
    clearTimeout(this.stateSoon);
    this.stateSoon = setTimeout(() => this.refreshState(), 300);
  }

  peerOnline(online, changed) {
    const field = find("[data-testid=peer-online]");
    if (!field) return;
    const was = field.textContent === "online";
    const label = t(online ? "online_label" : "offline_label");
    field.textContent = online ? "online" : "offline";
    find("[data-peer-label]").textContent = label;
    find("[data-presence-dot]")?.classList.toggle("presence-online", online);
    if (!changed || online === was) return;
    announce(`${config.peer.name}: ${label}`);
    if (online) this.parts.call?.resume();
  }

  showConnection(state) {
    if (state !== "open") delete page.dataset.live;
    const banner = find("[data-connection]");
    clearTimeout(this.bannerTimer);
    if (state === "reconnecting") {
      this.wasDown = true;
      this.banner(t("reconnecting"), "reconnecting");
    } else if (state === "open" && this.wasDown) {
      this.wasDown = false;
      this.banner(t("reconnected"), "open");
      this.bannerTimer = setTimeout(() => (banner.hidden = true), 3000);
    } else if (state === "open") {
      banner.hidden = true;
    }
  }

  banner(text, state) {
    const banner = find("[data-connection]");
    banner.dataset.state = state;
    banner.textContent = text;
    banner.hidden = false;
    return banner;
  }

  // The server closed the socket as not signed in (4401). If the session is still good (closed
  // for another reason), connect again, a few times a minute at most; if not, say so.
  async unauthorized() {
    const now = performance.now();
    this.reopened = this.reopened.filter((at) => now - at < 60000);
    try {
      await http.json(config.urls.state);
    } catch (error) {
      if (error.status === 401) return this.signedOut();
    }
    if (this.reopened.push(now) > 3) return this.signedOut();
    this.socket.reopen();
  }

  signedOut() {
    const link = document.createElement("a");
    link.href = config.urls.login;
    link.textContent = t("sign_in");
    this.banner(`${t("signed_out")} `, "reconnecting").append(link);
  }
}

if (config && body) new Room();
