// The platform's WebSocket for pages (CONTRACT.md "WebSocket: /ws/"), shared by every live
// page (the dashboard's ring, the consultation room). The socket is signed in by the session
// cookie the page already has; no token is handled here.
//
//   (a page module imports `connect` from this file, by a path relative to itself)
//   const socket = connect();
//   socket.on("consultation_requested", (frame) => ...);   // by frame type; "*" for all
//   socket.on("open", () => socket.send({ type: "join_session", session_id }));  // every (re)connect
//   socket.on("state", (state) => ...);   // "connecting" | "open" | "reconnecting" | "closed"
//   const answer = await socket.request({ type: "join_session", session_id }, "session_joined");
//   socket.close();
//
// Reconnects by itself with a growing, jittered delay (0.5 s doubling to 15 s) after the
// network drops or the server restarts; a page re-reads its state in its "open" handler, since
// frames sent while it was away are lost. A close with 4401 (not signed in) does not retry:
// "unauthorized" is dispatched instead. A ping every 20 s notices a dead connection.

const UNAUTHORIZED = 4401;
const PING_EVERY_MS = 20000;
const DEAD_AFTER_MS = 10000;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;

export function socketUrl(path = "/ws/") {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export class Socket {
  constructor(url = socketUrl()) {
    this.url = url;
    this.handlers = new Map();
    this.state = "connecting";
    this.attempt = 0;
    this.refs = 0;
    this.closedByUs = false;
    this.ws = null;
    this.pingTimer = null;
    this.deadTimer = null;
    this.retryTimer = null;
    // The browser knows the network is gone long before a ping times out: drop the socket at
    // once (so pages show "reconnecting" and queue what they send) and retry as soon as it is
    // back, instead of waiting out the backoff.
    this.onOffline = () => this.drop();
    this.onOnline = () => {
      if (this.state !== "reconnecting") return;
      clearTimeout(this.retryTimer);
      this.attempt = 0;
      this.open();
    };
    window.addEventListener("offline", this.onOffline);
    window.addEventListener("online", this.onOnline);
    this.open();
  }

  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.handlers.get(type).delete(handler);
  }

  emit(type, payload) {
    for (const key of [type, "*"]) {
      for (const handler of this.handlers.get(key) || []) {
        try {
          handler(payload, type);
        } catch (error) {
          console.error(`socket handler for ${type} failed`, error);
        }
      }
    }
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  open() {
    const ws = new WebSocket(this.url);
    this.ws = ws;
    // A socket given up by drop() may still say something while it closes: not heard.
    const current = (handler) => (event) => ws === this.ws && handler(event);
    ws.addEventListener("open", current(() => {
      this.attempt = 0;
      this.setState("open");
      this.keepAlive();
      this.emit("open");
    }));
    ws.addEventListener("message", current((event) => {
      this.heardFrom();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") this.emit(frame.type, frame);
    }));
    ws.addEventListener("close", current((event) => this.closed(event.code)));
  }

  // Gives the connection up at once, without waiting for its closing handshake: with the
  // network gone (or the connection dead) the server's answer may never come, and the browser
  // waits up to a minute before it reports the close.
  drop() {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED || this.closedByUs) return; // closed() ran
    this.ws = null;
    ws.close();
    this.closed(1006);
  }

  closed(code) {
    clearInterval(this.pingTimer);
    clearTimeout(this.deadTimer);
    if (this.closedByUs) {
      this.setState("closed");
      return;
    }
    if (code === UNAUTHORIZED) {
      this.setState("closed");
      this.emit("unauthorized");
      return;
    }
    this.setState("reconnecting");
    if (navigator.onLine === false) return; // the "online" event opens it again
    const delay = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.open(), delay / 2 + Math.random() * (delay / 2));
  }

  keepAlive() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      this.send({ type: "ping" });
      clearTimeout(this.deadTimer);
      // No frame at all within DEAD_AFTER_MS: the connection is dead; drop it and reconnect.
      this.deadTimer = setTimeout(() => this.drop(), DEAD_AFTER_MS);
    }, PING_EVERY_MS);
  }

  heardFrom() {
    clearTimeout(this.deadTimer);
  }

  // Sends a frame (an object). Returns false when the socket is not open: the frame is not
  // queued, the page's "open" handler re-sends what matters after a reconnect.
  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // Sends `frame` with a fresh `ref` and resolves with the first frame of type `answerType`
  // (or rejects with an `error` frame carrying that ref), within `timeoutMs`.
  request(frame, answerType, timeoutMs = 10000) {
    const ref = `r${++this.refs}`;
    return new Promise((resolve, reject) => {
      const done = [];
      const finish = (fn, value) => {
        done.forEach((off) => off());
        clearTimeout(timer);
        fn(value);
      };
      done.push(this.on(answerType, (answer) => finish(resolve, answer)));
      done.push(
        this.on("error", (error) => {
          if (error.ref === ref) finish(reject, error);
        }),
      );
      const timer = setTimeout(() => finish(reject, { code: "timeout", ref }), timeoutMs);
      if (!this.send({ ...frame, ref })) finish(reject, { code: "not_connected", ref });
    });
  }

  // Opens again after a final close (say an "unauthorized" one, once the page has checked
  // that its session is still good), keeping every handler.
  reopen() {
    clearTimeout(this.retryTimer);
    this.closedByUs = false;
    this.attempt = 0;
    this.setState("connecting");
    this.open();
  }

  close() {
    this.closedByUs = true;
    clearTimeout(this.retryTimer);
    window.removeEventListener("offline", this.onOffline);
    window.removeEventListener("online", this.onOnline);
    if (this.ws && this.ws.readyState !== WebSocket.CLOSED) this.ws.close(1000);
    else this.setState("closed"); // already down, waiting to retry
  }
}

export function connect(url) {
  return new Socket(url);
}
