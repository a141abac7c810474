// The room's chat: the history the page was rendered with, older pages on scroll up, live
// messages, the ticks on one's own messages, the other side's typing, and an outbox.
//
// Ticks: a message is `sent` once stored (message_ack), `delivered` when the other side's page
// has it (that page sends message_delivered for what it receives), `seen` when it is on their
// screen and their tab is visible (mark_seen). Statuses only move forward.
//
// Outbox: what is typed while the socket is down waits in sessionStorage (a reload keeps it)
// and is sent when the socket is back, each with the client_msg_id it was given when typed, so
// a resend of something the server already stored returns the stored message. A message is
// keyed by its id once known, so nothing is ever shown twice.

import { uuid } from "./http.js";

const RANK = { queued: 0, sent: 1, delivered: 2, seen: 3 };
const TYPING_EVERY_MS = 3000;
const TYPING_IDLE_MS = 4000;
const TYPING_SHOWN_MS = 6000;
const ACK_WAIT_MS = 5000;
const OWN_ECHO_WAIT_MS = 3000;
const NEAR_BOTTOM_PX = 120;
const PAGE_SIZE = 30;
const CATCH_UP_PAGES = 5;
const MAX_BODY = 4000;
const MAX_IDS = 200;
const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

export class Chat {
  constructor(root, { socket, config, t, http, announce, live }) {
    this.root = root;
    this.socket = socket;
    this.config = config;
    this.t = t;
    this.http = http;
    this.announce = announce;
    this.live = live;
    this.session = config.id;
    this.me = config.me;
    this.peer = config.peer;
    this.scroller = root.querySelector("[data-chat-scroll]");
    this.list = root.querySelector("[data-chat-list]");
    this.olderBox = root.querySelector("[data-older]");
    this.startNote = root.querySelector("[data-chat-start]");
    this.typingNote = root.querySelector('[data-testid="typing"]');
    this.form = root.querySelector("[data-composer]");
    this.input = this.form && this.form.querySelector("textarea");
    this.byId = new Map();
    this.outbox = new Map(); // client_msg_id -> {body, element, acked}
    this.earlyStatus = new Map(); // message id -> a status that came before its ack
    this.toDeliver = new Set(); // the other side's messages to report delivered
    this.unseen = new Set(); // ... not seen yet
    this.onScreen = new Set(); // ... on screen now
    this.offs = [];
    this.timers = new Set();
    this.storageKey = `room:${this.session}:outbox`;

    this.seenWatch = new IntersectionObserver((entries) => this.watched(entries), {
      root: this.scroller,
      threshold: 0.6,
    });
    for (const element of this.list.querySelectorAll("li[data-id]")) this.index(element);
    this.olderWatch = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.loadOlder();
    }, { root: this.scroller });
    if (this.olderBox) {
      this.olderWatch.observe(this.olderBox);
      this.olderBox.querySelector("button").addEventListener("click", () => this.loadOlder());
    }
    if (live) {
      this.restoreOutbox();
      this.bindComposer();
      this.listen();
      this.onVisible = () => this.checkSeen();
      document.addEventListener("visibilitychange", this.onVisible);
    }
    this.scrollToEnd();
  }

  // --- The socket ------------------------------------------------------------------------------

  listen() {
    const on = (type, fn) => this.offs.push(this.socket.on(type, fn));
    const mine = (frame) => frame.session_id === this.session;
    on("message", (frame) => frame.message.session_id === this.session && this.received(frame.message));
    on("message_ack", (frame) => this.acked(frame.client_msg_id, frame.message));
    on("message_status", (frame) => mine(frame) && this.statusMoved(frame.message_ids, frame.status));
    on("typing", (frame) => mine(frame) && frame.user_id === this.peer.id && this.peerTyping(frame.is_typing));
    on("error", (frame) => this.refused(frame));
  }

  // After every (re)join: send the outbox, then read what was missed while away.
  async resume() {
    this.flushOutbox();
    await this.acksOrTimeout();
    try {
      await this.catchUp();
    } catch {
      // the next reconnect tries again; live messages still arrive
    }
    this.reportDelivered();
    this.checkSeen();
  }

  received(message) {
    const known = this.byId.get(message.id);
    if (known) {
      this.setStatus(known, message.status);
      return;
    }
    const mine = message.sender_id === this.me;
    if (mine && this.waitingForAcks()) {
      // Our own message, echoed to the room: its ack (on this socket) names it. If none does
      // (it was sent from another tab or device), show it after a moment.
      this.later(OWN_ECHO_WAIT_MS, () => this.byId.has(message.id) || this.show(message));
      return;
    }
    this.show(message);
    if (!mine) {
      this.peerTyping(false);
      this.announce(
        this.t("new_message", { name: this.peer.name, body: message.body.slice(0, 200) }),
      );
    }
  }

  acked(clientMsgId, message) {
    const item = this.outbox.get(clientMsgId);
    if (!item) return;
    this.outbox.delete(clientMsgId);
    this.saveOutbox();
    const element = item.element;
    const shown = this.byId.get(message.id);
    if (shown && shown !== element) {
      element.remove(); // shown already (from history): never twice
      return;
    }
    element.dataset.id = message.id;
    element.dataset.created = message.created_at;
    element.querySelector("time").textContent = this.time(message.created_at);
    element.querySelector("time").dateTime = message.created_at;
    this.byId.set(message.id, element);
    this.setStatus(element, message.status, true);
    const early = this.earlyStatus.get(message.id);
    if (early) {
      this.earlyStatus.delete(message.id);
      this.setStatus(element, early);
    }
    this.place(element);
  }

  statusMoved(ids, status) {
    for (const id of ids) {
      const element = this.byId.get(id);
      if (!element) {
        this.earlyStatus.set(id, status);
        continue;
      }
      if (element.dataset.mine !== undefined) this.setStatus(element, status);
      else if (status === "seen") this.forgetUnseen(id);
    }
  }

  refused(frame) {
    const ref = typeof frame.ref === "string" ? frame.ref : "";
    if (!ref.startsWith("m:")) return;
    const item = this.outbox.get(ref.slice(2));
    if (!item) return;
    if (frame.code === "throttled") {
      this.later(1000, () => this.sendItem(ref.slice(2)));
      return;
    }
    // Refused for good (the consultation is over, or the message cannot be sent as it is).
    this.outbox.delete(ref.slice(2));
    this.saveOutbox();
    item.element.classList.add("msg-failed");
    this.setStatus(item.element, "failed", true);
    const note = document.createElement("p");
    note.className = "msg-error";
    note.textContent = this.t("failed", { reason: frame.detail || frame.code });
    item.element.querySelector(".msg-bubble").append(note);
  }

  // --- Sending ---------------------------------------------------------------------------------

  bindComposer() {
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    this.input.addEventListener("input", () => {
      this.fit();
      this.typed();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = this.input.value;
      if (!body.trim()) return;
      if (body.length > MAX_BODY) {
        this.announce(this.t("too_long"));
        return;
      }
      this.input.value = "";
      this.fit();
      this.stopTyping();
      this.send(body);
      this.input.focus();
    });
  }

  send(body) {
    const clientMsgId = uuid();
    const element = this.build({ body, status: "queued" }, true);
    this.outbox.set(clientMsgId, { body, element });
    this.saveOutbox();
    this.list.append(element);
    this.scrollToEnd();
    this.sendItem(clientMsgId);
  }

  sendItem(clientMsgId) {
    const item = this.outbox.get(clientMsgId);
    if (!item) return;
    this.socket.send({
      type: "send_message",
      session_id: this.session,
      client_msg_id: clientMsgId,
      body: item.body,
      ref: `m:${clientMsgId}`,
    });
  }

  flushOutbox() {
    for (const clientMsgId of this.outbox.keys()) this.sendItem(clientMsgId);
  }

  waitingForAcks() {
    return this.outbox.size > 0;
  }

  acksOrTimeout() {
    if (!this.waitingForAcks()) return Promise.resolve();
    return new Promise((resolve) => {
      const started = performance.now();
      const check = () => {
        if (!this.waitingForAcks() || performance.now() - started > ACK_WAIT_MS) resolve();
        else this.later(100, check);
      };
      check();
    });
  }

  restoreOutbox() {
    let saved = [];
    try {
      saved = JSON.parse(sessionStorage.getItem(this.storageKey) || "[]");
    } catch {
      saved = [];
    }
    for (const { client_msg_id: clientMsgId, body } of saved) {
      if (!clientMsgId || typeof body !== "string") continue;
      const element = this.build({ body, status: "queued" }, true);
      this.outbox.set(clientMsgId, { body, element });
      this.list.append(element);
    }
  }

  saveOutbox() {
    const items = [...this.outbox].map(([clientMsgId, { body }]) => ({
      client_msg_id: clientMsgId,
      body,
    }));
    try {
      if (items.length) sessionStorage.setItem(this.storageKey, JSON.stringify(items));
      else sessionStorage.removeItem(this.storageKey);
    } catch {
      // storage full or off: the outbox still lives in the page
    }
  }

  // --- Typing ----------------------------------------------------------------------------------

  typed() {
    const now = performance.now();
    if (!this.typingSince || now - this.typingSince > TYPING_EVERY_MS) {
      if (this.socket.send({ type: "typing", session_id: this.session, is_typing: true })) {
        this.typingSince = now;
      }
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingIdle);
    if (!this.typingSince) return;
    this.typingSince = 0;
    this.socket.send({ type: "typing", session_id: this.session, is_typing: false });
  }

  peerTyping(isTyping) {
    if (!this.typingNote) return;
    clearTimeout(this.typingShown);
    this.typingNote.hidden = !isTyping;
    if (isTyping) this.typingShown = setTimeout(() => (this.typingNote.hidden = true), TYPING_SHOWN_MS);
  }

  // --- Delivered and seen ----------------------------------------------------------------------

  reportDelivered() {
    if (!this.toDeliver.size) return;
    const ids = [...this.toDeliver].slice(0, MAX_IDS);
    const frame = { type: "message_delivered", session_id: this.session, message_ids: ids };
    if (this.socket.send(frame)) for (const id of ids) this.toDeliver.delete(id);
    if (this.toDeliver.size) this.later(0, () => this.reportDelivered());
  }

  watched(entries) {
    for (const entry of entries) {
      const id = entry.target.dataset.id;
      if (entry.isIntersecting) this.onScreen.add(id);
      else this.onScreen.delete(id);
    }
    this.checkSeen();
  }

  // The other side's unseen messages are on screen and the tab is visible: they are seen.
  checkSeen() {
    if (!this.live || document.visibilityState !== "visible") return;
    if (![...this.onScreen].some((id) => this.unseen.has(id))) return;
    clearTimeout(this.seenSoon);
    this.seenSoon = setTimeout(() => {
      if (document.visibilityState !== "visible") return;
      this.socket.send({ type: "mark_seen", session_id: this.session });
    }, 150);
  }

  forgetUnseen(id) {
    this.unseen.delete(id);
    const element = this.byId.get(id);
    if (element) this.seenWatch.unobserve(element);
  }

  // --- History ---------------------------------------------------------------------------------

  // The newest page(s), merged: whatever arrived while the socket was down.
  async catchUp() {
    let before = "";
    for (let page = 0; page < CATCH_UP_PAGES; page += 1) {
      const query = new URLSearchParams({ page_size: String(PAGE_SIZE) });
      if (before) query.set("before", before);
      const answer = await this.http.json(`${this.config.urls.messages}?${query}`);
      let overlap = false;
      for (const message of answer.results) {
        if (this.byId.has(message.id)) overlap = true;
        this.merge(message);
      }
      if (overlap || !answer.next || !this.byId.size) break;
      before = answer.next;
    }
  }

  merge(message) {
    const known = this.byId.get(message.id);
    if (known) {
      if (known.dataset.mine !== undefined) this.setStatus(known, message.status);
      else if (message.status === "seen") this.forgetUnseen(message.id);
      return;
    }
    if (message.sender_id === this.me && this.waitingForAcks()) return; // its ack will name it
    this.show(message, { quiet: true });
  }

  async loadOlder() {
    if (this.loadingOlder || !this.olderBox || this.olderBox.hidden) return;
    const before = this.olderBox.dataset.before;
    if (!before) return;
    this.loadingOlder = true;
    const button = this.olderBox.querySelector("button");
    button.textContent = this.t("older_loading");
    try {
      const query = new URLSearchParams({ before, page_size: String(PAGE_SIZE) });
      const answer = await this.http.json(`${this.config.urls.messages}?${query}`);
      const height = this.scroller.scrollHeight;
      const top = this.scroller.scrollTop;
      for (const message of answer.results) {
        if (!this.byId.has(message.id)) this.list.prepend(this.indexNew(message));
      }
      // Keep what the person was reading where it was.
      this.scroller.scrollTop = top + (this.scroller.scrollHeight - height);
      this.olderBox.dataset.before = answer.next || "";
      this.olderBox.hidden = !answer.next;
      if (this.startNote) this.startNote.hidden = Boolean(answer.next);
      button.textContent = this.t("load_older");
    } catch {
      button.textContent = this.t("older_failed");
    } finally {
      this.loadingOlder = false;
    }
  }

  // --- Showing messages ------------------------------------------------------------------------

  show(message, { quiet = false } = {}) {
    const nearEnd = this.nearEnd();
    const element = this.indexNew(message);
    this.place(element);
    if (nearEnd || message.sender_id === this.me) this.scrollToEnd();
    if (message.sender_id !== this.me && message.status === "sent") {
      this.toDeliver.add(message.id);
      this.reportDelivered();
    }
    if (!quiet) this.checkSeen();
  }

  indexNew(message) {
    const element = this.build(message, message.sender_id === this.me);
    this.index(element);
    return element;
  }

  // Registers a rendered message (from the server's page or built here).
  index(element) {
    const id = element.dataset.id;
    if (!id) return;
    this.byId.set(id, element);
    const body = element.querySelector("[data-testid=message]");
    if (element.dataset.mine === undefined && this.live) {
      const status = element.dataset.peerStatus || "";
      if (status !== "seen") {
        this.unseen.add(id);
        this.seenWatch.observe(element);
      }
      if (status === "sent") this.toDeliver.add(id);
    }
    return body;
  }

  build(message, mine) {
    const element = document.createElement("li");
    element.className = `msg ${mine ? "msg-mine" : "msg-theirs"}`;
    if (message.id) element.dataset.id = message.id;
    if (message.created_at) element.dataset.created = message.created_at;
    if (mine) element.dataset.mine = "";
    else element.dataset.peerStatus = message.status;
    const bubble = document.createElement("div");
    bubble.className = "msg-bubble";
    const who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = `${mine ? this.t("you") : this.peer.name}: `;
    const body = document.createElement("p");
    body.className = "msg-body";
    body.dataset.testid = "message";
    body.textContent = message.body;
    const meta = document.createElement("p");
    meta.className = "msg-meta";
    const time = document.createElement("time");
    if (message.created_at) {
      time.dateTime = message.created_at;
      time.textContent = this.time(message.created_at);
    }
    meta.append(time);
    if (mine) {
      const tick = document.createElement("span");
      tick.className = "tick";
      tick.dataset.tick = "";
      tick.innerHTML = '<svg class="icon" aria-hidden="true"><use href="#i-check"/></svg>';
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.dataset.tickLabel = "";
      tick.append(label);
      meta.append(tick);
    }
    bubble.append(who, body, meta);
    element.append(bubble);
    if (mine) this.setStatus(element, message.status, true);
    return element;
  }

  setStatus(element, status, force = false) {
    const body = element.querySelector("[data-testid=message]");
    const current = body.dataset.status;
    if (!force && current && (RANK[status] ?? -1) <= (RANK[current] ?? -1)) return;
    body.dataset.status = status;
    element.classList.remove("tick-queued", "tick-sent", "tick-delivered", "tick-seen");
    element.classList.add(`tick-${status}`);
    const icon = { queued: "i-clock", sent: "i-check", failed: "i-alert" }[status] || "i-ticks";
    const use = element.querySelector("[data-tick] use");
    if (use) use.setAttribute("href", `#${icon}`);
    const label = element.querySelector("[data-tick-label]");
    if (label) label.textContent = this.t(status === "failed" ? "not_sent" : status);
  }

  // Puts a message where its time says (the server's order: created_at, then id).
  place(element) {
    const key = [element.dataset.created ? Date.parse(element.dataset.created) : Infinity, element.dataset.id || ""];
    let after = null;
    for (let node = this.list.lastElementChild; node; node = node.previousElementSibling) {
      if (node === element) continue;
      const created = node.dataset.created ? Date.parse(node.dataset.created) : Infinity;
      const other = [created, node.dataset.id || ""];
      if (other[0] < key[0] || (other[0] === key[0] && other[1] <= key[1])) {
        after = node;
        break;
      }
    }
    if (after) after.after(element);
    else this.list.prepend(element);
  }

  time(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
  }

  nearEnd() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  fit() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  later(ms, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  stop() {
    this.offs.forEach((off) => off());
    this.timers.forEach((timer) => clearTimeout(timer));
    clearTimeout(this.typingIdle);
    clearTimeout(this.typingShown);
    clearTimeout(this.seenSoon);
    this.seenWatch.disconnect();
    this.olderWatch.disconnect();
    if (this.onVisible) document.removeEventListener("visibilitychange", this.onVisible);
  }
}
