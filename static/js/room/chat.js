// The chat: history (older pages on scroll up), live messages, ticks on one's own messages
// (sent: stored; delivered: the other page has it; seen: on their screen, tab visible),
// typing, and an outbox: what is typed while the socket is down waits (in sessionStorage too)
// and goes out once it is back with the client_msg_id it was given, so a resend returns the
// stored message. Messages are keyed by id: none is ever shown twice.

import { uuid } from "./http.js";

const RANK = { queued: 0, sent: 1, delivered: 2, seen: 3 };
const PAGE_SIZE = 30;
const timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

export class Chat {
  constructor(root, { socket, config, t, http, announce, live }) {
    Object.assign(this, { socket, config, t, http, announce, live });
    this.session = config.id;
    const find = (selector) => root.querySelector(selector);
    this.scroller = find("[data-chat-scroll]");
    this.list = find("[data-chat-list]");
    this.older = find("[data-older]");
    this.start = find("[data-chat-start]");
    this.typingNote = find("[data-testid=typing]");
    this.form = find("[data-composer]");
    this.byId = new Map();
    this.outbox = new Map(); // client_msg_id -> {body, element}
    this.early = new Map(); // message id -> a status that came before its ack
    this.toDeliver = new Set(); // the other side's messages to report delivered
    this.unseen = new Set(); // ... not seen yet
    this.onScreen = new Set(); // ... on screen now
    this.offs = [];
    this.timers = [];
    this.key = `room:${this.session}:outbox`;
    this.seenWatch = new IntersectionObserver((entries) => this.watched(entries), {
      root: this.scroller,
      threshold: 0.6,
    });
    this.list.querySelectorAll("li[data-id]").forEach((li) => this.index(li));
    this.olderWatch = new IntersectionObserver(
      (entries) => entries.some((e) => e.isIntersecting) && this.loadOlder(),
      { root: this.scroller },
    );
    this.olderWatch.observe(this.older);
    this.older.querySelector("button").onclick = () => this.loadOlder();
    if (live) {
      this.restoreOutbox();
      this.bindComposer();
      const on = (type, fn) => this.offs.push(socket.on(type, fn));
      const ours = (frame) => frame.session_id === this.session;
      on("message", (f) => f.message.session_id === this.session && this.received(f.message));
      on("message_ack", (f) => this.acked(f.client_msg_id, f.message));
      on("message_status", (f) => ours(f) && this.moved(f.message_ids, f.status));
      on("typing", (f) => ours(f) && f.user_id === config.peer.id && this.peerTyping(f.is_typing));
      on("error", (f) => this.refused(f));
      this.onVisible = () => this.checkSeen();
      document.addEventListener("visibilitychange", this.onVisible);
    }
    this.scrollToEnd();
  }

  // After every (re)join: the outbox goes out, then what was missed is read.
  async resume() {
    this.outbox.forEach((_, id) => this.sendItem(id));
    for (let waited = 0; this.outbox.size && waited < 5000; waited += 100) await this.sleep(100);
    try {
      await this.catchUp();
    } catch {
      // the next reconnect tries again
    }
    this.reportDelivered();
    this.checkSeen();
  }

  received(message) {
    const known = this.byId.get(message.id);
    if (known) {
      if (known.dataset.mine !== undefined) this.setStatus(known, message.status);
      return;
    }
    const mine = message.sender_id === this.config.me;
    if (mine && this.outbox.size) {
      // Our own, echoed to the room: its ack names it. If none does (another tab), show it.
      this.timers.push(setTimeout(() => this.byId.has(message.id) || this.show(message), 3000));
      return;
    }
    this.show(message);
    if (!mine) {
      this.peerTyping(false);
      const name = this.config.peer.name;
      this.announce(this.t("new_message", { name, body: message.body.slice(0, 200) }));
    }
  }

  acked(clientMsgId, message) {
    const item = this.outbox.get(clientMsgId);
    if (!item) return;
    this.outbox.delete(clientMsgId);
    this.saveOutbox();
    const element = item.element;
    if (this.byId.has(message.id)) return element.remove(); // shown already: never twice
    element.dataset.id = message.id;
    element.dataset.created = message.created_at;
    const time = element.querySelector("time");
    time.dateTime = message.created_at;
    time.textContent = this.time(message.created_at);
    this.byId.set(message.id, element);
    this.setStatus(element, message.status, true);
    if (this.early.has(message.id)) this.setStatus(element, this.early.get(message.id));
    this.place(element);
  }

  moved(ids, status) {
    for (const id of ids) {
      const element = this.byId.get(id);
      if (!element) this.early.set(id, status);
      else if (element.dataset.mine !== undefined) this.setStatus(element, status);
      else if (status === "seen") this.forgetUnseen(id);
    }
  }

  // An error frame for one of our messages: throttled ones retry, others fail for good.
  refused(frame) {
    const id = String(frame.ref || "").replace(/^m:/, "");
    const item = String(frame.ref || "").startsWith("m:") && this.outbox.get(id);
    if (!item) return;
    if (frame.code === "throttled") {
      this.timers.push(setTimeout(() => this.sendItem(id), 1000));
      return;
    }
    this.outbox.delete(id);
    this.saveOutbox();
    this.setStatus(item.element, "failed", true);
    const note = document.createElement("p");
    note.className = "msg-error";
    note.textContent = this.t("failed", { reason: frame.detail || frame.code });
    item.element.querySelector(".msg-bubble").append(note);
  }

  // --- Sending and typing ----------------------------------------------------------------------

  bindComposer() {
    const input = (this.input = this.form.querySelector("textarea"));
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    input.addEventListener("input", () => {
      this.fit();
      this.typed();
    });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = input.value;
      if (!body.trim()) return;
      if (body.length > 4000) return this.announce(this.t("too_long"));
      input.value = "";
      this.fit();
      this.stopTyping();
      this.send(body);
      input.focus();
    });
  }

  send(body, clientMsgId = uuid()) {
    const element = this.build({ body, status: "queued" }, true);
    this.outbox.set(clientMsgId, { body, element });
    this.saveOutbox();
    this.list.append(element);
    this.scrollToEnd();
    this.sendItem(clientMsgId);
  }

  sendItem(id) {
    const item = this.outbox.get(id);
    const frame = { type: "send_message", session_id: this.session, client_msg_id: id };
    if (item) this.socket.send({ ...frame, body: item.body, ref: `m:${id}` });
  }

  restoreOutbox() {
    let saved = [];
    try {
      saved = JSON.parse(sessionStorage.getItem(this.key) || "[]");
    } catch {
      // nothing kept
    }
    for (const [id, body] of saved) {
      const element = this.build({ body, status: "queued" }, true);
      this.outbox.set(id, { body, element });
      this.list.append(element);
    }
  }

  saveOutbox() {
    const items = [...this.outbox].map(([id, { body }]) => [id, body]);
    try {
      if (items.length) sessionStorage.setItem(this.key, JSON.stringify(items));
      else sessionStorage.removeItem(this.key);
    } catch {
      // storage off: the outbox still lives in the page
    }
  }

  typed() {
    const now = performance.now();
    if (!this.typingSince || now - this.typingSince > 3000) {
      const frame = { type: "typing", session_id: this.session, is_typing: true };
      if (this.socket.send(frame)) this.typingSince = now;
    }
    clearTimeout(this.typingIdle);
    this.typingIdle = setTimeout(() => this.stopTyping(), 4000);
  }

  stopTyping() {
    clearTimeout(this.typingIdle);
    if (!this.typingSince) return;
    this.typingSince = 0;
    this.socket.send({ type: "typing", session_id: this.session, is_typing: false });
  }

  peerTyping(on) {
    clearTimeout(this.typingShown);
    this.typingNote.hidden = !on;
    if (on) this.typingShown = setTimeout(() => (this.typingNote.hidden = true), 6000);
  }

  // --- Delivered and seen ----------------------------------------------------------------------

  reportDelivered() {
    const ids = [...this.toDeliver].slice(0, 200);
    const frame = { type: "message_delivered", session_id: this.session, message_ids: ids };
    if (!ids.length || !this.socket.send(frame)) return;
    ids.forEach((id) => this.toDeliver.delete(id));
    this.reportDelivered();
  }

  watched(entries) {
    for (const entry of entries) {
      this.onScreen[entry.isIntersecting ? "add" : "delete"](entry.target.dataset.id);
    }
    this.checkSeen();
  }

  // The other side's unseen messages are on screen and the tab is visible: they are seen.
  checkSeen() {
    if (!this.live || document.visibilityState !== "visible") return;
    if (![...this.onScreen].some((id) => this.unseen.has(id))) return;
    clearTimeout(this.seenSoon);
    this.seenSoon = setTimeout(() => {
      if (document.visibilityState === "visible") {
        this.socket.send({ type: "mark_seen", session_id: this.session });
      }
    }, 150);
  }

  forgetUnseen(id) {
    this.unseen.delete(id);
    if (this.byId.has(id)) this.seenWatch.unobserve(this.byId.get(id));
  }

  // --- History ---------------------------------------------------------------------------------

  page(before) {
    const query = new URLSearchParams({ page_size: PAGE_SIZE });
    if (before) query.set("before", before);
    return this.http.json(`${this.config.urls.messages}?${query}`);
  }

  // The newest pages, merged, until one overlaps what is shown: what came while away.
  async catchUp() {
    let before = "";
    for (let n = 0; n < 5; n += 1) {
      const answer = await this.page(before);
      let overlap = false;
      for (const message of answer.results) {
        const known = this.byId.get(message.id);
        overlap = overlap || Boolean(known);
        if (known && known.dataset.mine !== undefined) this.setStatus(known, message.status);
        else if (known && message.status === "seen") this.forgetUnseen(message.id);
        else if (!known && !(message.sender_id === this.config.me && this.outbox.size)) {
          this.show(message, true); // (our own, unacked: its ack will name it)
        }
      }
      if (overlap || !answer.next || !this.byId.size) return;
      before = answer.next;
    }
  }

  async loadOlder() {
    const before = this.older.dataset.before;
    if (this.loadingOlder || this.older.hidden || !before) return;
    this.loadingOlder = true;
    const button = this.older.querySelector("button");
    button.textContent = this.t("older_loading");
    try {
      const answer = await this.page(before);
      const { scrollHeight, scrollTop } = this.scroller;
      for (const message of answer.results) {
        if (!this.byId.has(message.id)) this.list.prepend(this.indexNew(message));
      }
      // What the person was reading stays where it was.
      this.scroller.scrollTop = scrollTop + this.scroller.scrollHeight - scrollHeight;
      this.older.dataset.before = answer.next || "";
      this.older.hidden = !answer.next;
      this.start.hidden = Boolean(answer.next);
      button.textContent = this.t("load_older");
    } catch {
      button.textContent = this.t("older_failed");
    }
    this.loadingOlder = false;
  }

  // --- Showing messages ------------------------------------------------------------------------

  show(message, quiet = false) {
    const s = this.scroller;
    const nearEnd = s.scrollHeight - s.scrollTop - s.clientHeight < 120;
    const element = this.indexNew(message);
    this.place(element);
    if (nearEnd || message.sender_id === this.config.me) this.scrollToEnd();
    this.reportDelivered();
    if (!quiet) this.checkSeen();
  }

  indexNew(message) {
    const element = this.build(message, message.sender_id === this.config.me);
    this.index(element);
    return element;
  }

  // Registers a message shown (rendered by the server or built here).
  index(element) {
    const id = element.dataset.id;
    this.byId.set(id, element);
    const status = element.dataset.peerStatus;
    if (status === undefined || !this.live) return;
    if (status !== "seen") {
      this.unseen.add(id);
      this.seenWatch.observe(element);
    }
    if (status === "sent") this.toDeliver.add(id);
  }

  // A message element like the server's (templates/consultations/_message.html).
  build(message, mine) {
    const element = document.createElement("li");
    element.className = `msg msg-${mine ? "mine" : "theirs"}`;
    element.innerHTML =
      '<div class="msg-bubble"><span class="visually-hidden"></span>' +
      '<p class="msg-body" data-testid="message"></p><p class="msg-meta"><time></time>' +
      (mine
        ? '<span class="tick" data-tick><svg class="icon" aria-hidden="true"><use/></svg>' +
          '<span class="visually-hidden" data-tick-label></span></span>'
        : "") +
      "</p></div>";
    const who = mine ? this.t("you") : this.config.peer.name;
    element.querySelector(".visually-hidden").textContent = `${who}: `;
    element.querySelector(".msg-body").textContent = message.body;
    if (message.id) element.dataset.id = message.id;
    if (message.created_at) {
      element.dataset.created = message.created_at;
      const time = element.querySelector("time");
      time.dateTime = message.created_at;
      time.textContent = this.time(message.created_at);
    }
    if (mine) {
      element.dataset.mine = "";
      this.setStatus(element, message.status, true);
    } else {
      element.dataset.peerStatus = message.status;
    }
    return element;
  }

  setStatus(element, status, force = false) {
    const body = element.querySelector("[data-testid=message]");
    const was = body.dataset.status;
    if (!force && was && (RANK[status] ?? -1) <= (RANK[was] ?? -1)) return;
    body.dataset.status = status;
    element.classList.remove(`tick-${was}`);
    element.classList.add(`tick-${status}`);
    const icon = { queued: "clock", sent: "check", failed: "alert" }[status] || "ticks";
    element.querySelector("[data-tick] use")?.setAttribute("href", `#i-${icon}`);
    const label = element.querySelector("[data-tick-label]");
    if (label) label.textContent = this.t(status === "failed" ? "not_sent" : status);
  }

  // Puts a message where the server's order says (created_at, then id); unsent ones last.
  place(element) {
    const key = (node) => [
      node.dataset.created ? Date.parse(node.dataset.created) : Infinity,
      node.dataset.id || "",
    ];
    const [time, id] = key(element);
    let node = this.list.lastElementChild;
    for (; node; node = node.previousElementSibling) {
      const [t, i] = key(node);
      if (node !== element && (t < time || (t === time && i <= id))) break;
    }
    if (node) node.after(element);
    else this.list.prepend(element);
  }

  time(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "" : timeFormat.format(date);
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  fit() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  sleep(ms) {
    return new Promise((resolve) => this.timers.push(setTimeout(resolve, ms)));
  }

  stop() {
    this.offs.forEach((off) => off());
    this.timers.forEach(clearTimeout);
    [this.typingIdle, this.typingShown, this.seenSoon].forEach(clearTimeout);
    this.seenWatch.disconnect();
    this.olderWatch.disconnect();
    document.removeEventListener("visibilitychange", this.onVisible);
  }
}
