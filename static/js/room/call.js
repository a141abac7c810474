// The call of a voice or video consultation: WebRTC between the two pages, signalled over the
// socket (CONTRACT.md's call_offer, call_answer, ice_candidate, call_end), with the ICE servers
// of the room's rtc route.
//
// The client offers, the consultant answers. The client offers as soon as the room is active,
// and again every few seconds until an answer comes, so it does not matter which page arrives
// first. When the network drops (the connection goes "disconnected" or "failed", or the socket
// comes back) the client offers again with an ICE restart; when the other page is a new one (a
// reload) the call starts over on a fresh connection.
//
// The server relays `sdp` and `candidate` as they are, so they carry three words of ours beside
// the browser's fields: `call` (the offer an answer or a candidate belongs to), `peer` (the
// page that sent it) and `fresh` (an offer from a new connection).

import { clock } from "../money.js";
import { uuid } from "./http.js";

const PAGE = uuid();
// An unanswered offer goes again soon and often (the other page may be loading); it is small.
const RESEND_MS = [1500, 2000, 2000, 2000, 3000, 3000, 5000];
const DISCONNECTED_GRACE_MS = 2500;
const KEEP_VIDEO = /^video\/(VP8|H264|rtx)$/i;

export class Call {
  constructor(root, { socket, config, t, http, announce }) {
    this.root = root;
    this.socket = socket;
    this.config = config;
    this.t = t;
    this.http = http;
    this.announce = announce;
    this.session = config.id;
    this.video = config.channel === "video";
    this.caller = config.role === "client";
    this.peerName = config.peer.name;
    const find = (selector) => root.querySelector(selector);
    this.remote = find("[data-remote]");
    this.local = find("[data-local]");
    this.placeholder = find("[data-call-placeholder]");
    this.stateText = find("[data-call-state]");
    this.timerText = find("[data-call-timer]");
    this.muteButton = find("[data-mute]");
    this.cameraButton = find("[data-camera]");
    this.errorBox = find("[data-call-error]");
    this.errorText = find("[data-call-error-text]");
    this.retryButton = find("[data-call-retry]");
    this.playButton = find("[data-play]");
    this.pc = null;
    this.stream = null;
    this.call = null; // the offer in play (caller: ours; callee: the one we answered)
    this.remotePeer = null;
    this.localCandidates = [];
    this.remoteCandidates = [];
    this.answer = null;
    this.answeredCall = null;
    this.connectedAt = null;
    this.resendCount = 0;
    this.work = Promise.resolve();
    this.offs = [];
    this.stopped = false;

    const on = (type, fn) =>
      this.offs.push(this.socket.on(type, (frame) => frame.session_id === this.session && fn(frame)));
    on("call_offer", (frame) => this.serial(() => this.offered(frame.sdp)));
    on("call_answer", (frame) => this.serial(() => this.answered(frame.sdp)));
    on("ice_candidate", (frame) => this.serial(() => this.addCandidate(frame.candidate)));
    on("call_end", () => this.serial(() => this.peerLeft()));
    this.muteButton?.addEventListener("click", () => this.toggle("audio", this.muteButton));
    this.cameraButton?.addEventListener("click", () => this.toggle("video", this.cameraButton));
    this.retryButton?.addEventListener("click", () => this.retryMedia());
    this.playButton?.addEventListener("click", () => this.play());
    this.onPageHide = () => this.signal("call_end", {});
    window.addEventListener("pagehide", this.onPageHide);
    this.ticker = setInterval(() => this.renderTimer(), 1000);
  }

  async start() {
    this.setState(this.t("call_connecting"));
    await this.getMedia();
    this.iceServers = await this.fetchIceServers();
    if (this.stopped) return;
    if (this.caller) await this.serial(() => this.offer({ fresh: true }));
    else if (!this.pc) this.setState(this.t("call_waiting", { name: this.peerName }));
  }

  // Runs signalling steps one after the other (each awaits the browser).
  serial(step) {
    this.work = this.work.then(step).catch((error) => console.error("call:", error));
    return this.work;
  }

  signal(type, fields) {
    return this.socket.send({ type, session_id: this.session, ...fields });
  }

  async fetchIceServers() {
    try {
      const answer = await this.http.json(this.config.urls.rtc);
      return answer.ice_servers || [];
    } catch {
      return []; // host candidates still connect two pages on one network
    }
  }

  // --- Local media -------------------------------------------------------------------------

  async getMedia() {
    this.errorBox.hidden = true;
    const md = navigator.mediaDevices;
    if (!md || !md.getUserMedia) {
      this.mediaFailed({ name: "NotSupportedError" });
      return;
    }
    const video = this.video ? { width: { ideal: 1280 }, height: { ideal: 720 } } : false;
    try {
      this.stream = await md.getUserMedia({ audio: true, video });
    } catch (error) {
      if (this.video && ["NotFoundError", "OverconstrainedError", "NotReadableError"].includes(error.name)) {
        try {
          this.stream = await md.getUserMedia({ audio: true });
          this.showError(this.t("camera_missing"), false);
        } catch (second) {
          this.mediaFailed(second);
        }
      } else {
        this.mediaFailed(error);
      }
    }
    if (!this.stream) return;
    if (this.stopped) {
      this.stream.getTracks().forEach((track) => track.stop());
      return;
    }
    this.local.srcObject = this.stream;
    this.muteButton.disabled = false;
    if (this.cameraButton) this.cameraButton.disabled = this.stream.getVideoTracks().length === 0;
    await this.attachLocal();
  }

  mediaFailed(error) {
    const key =
      {
        NotAllowedError: "media_denied",
        SecurityError: "media_denied",
        NotFoundError: "media_missing",
        OverconstrainedError: "media_missing",
        NotReadableError: "media_busy",
        AbortError: "media_busy",
      }[error && error.name] || "media_failed";
    this.showError(this.t(key), true);
  }

  showError(text, canRetry) {
    this.errorText.textContent = text;
    this.retryButton.hidden = !canRetry;
    this.errorBox.hidden = false;
    this.announce(text);
  }

  async retryMedia() {
    await this.getMedia();
    if (this.caller && this.stream && !this.pc) await this.serial(() => this.offer({ fresh: true }));
  }

  // Our tracks on the connection's transceivers (made sendrecv, so that a camera allowed later
  // joins without a new negotiation).
  async attachLocal() {
    if (!this.pc) return;
    for (const transceiver of this.pc.getTransceivers()) {
      const kind = transceiver.receiver.track && transceiver.receiver.track.kind;
      if (!kind || transceiver.stopped) continue;
      const track = this.stream ? this.stream.getTracks().find((t) => t.kind === kind) : null;
      if (track && transceiver.sender.track !== track) {
        await transceiver.sender.replaceTrack(track);
        if (transceiver.sender.setStreams) transceiver.sender.setStreams(this.stream);
      }
    }
  }

  toggle(kind, button) {
    const off = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(off));
    for (const track of this.stream ? this.stream.getTracks() : []) {
      if (track.kind === kind) track.enabled = !off;
    }
    if (kind === "video") this.root.classList.toggle("call-camera-off", off);
  }

  // --- The connection ------------------------------------------------------------------------

  build() {
    this.closeConnection();
    const pc = new RTCPeerConnection({ iceServers: this.iceServers || [] });
    this.pc = pc;
    this.localCandidates = [];
    this.remoteCandidates = [];
    this.remoteStream = null;
    pc.onicecandidate = (event) => {
      if (!event.candidate || pc !== this.pc) return;
      const candidate = { ...event.candidate.toJSON(), call: this.call, peer: PAGE };
      this.localCandidates.push(candidate);
      this.signal("ice_candidate", { candidate });
    };
    pc.ontrack = (event) => {
      if (pc !== this.pc) return;
      let stream = event.streams[0];
      if (!stream) {
        this.remoteStream = this.remoteStream || new MediaStream();
        this.remoteStream.addTrack(event.track);
        stream = this.remoteStream;
      }
      if (this.remote.srcObject !== stream) this.remote.srcObject = stream;
      this.play();
    };
    pc.oniceconnectionstatechange = () => pc === this.pc && this.iceChanged();
    return pc;
  }

  addTransceivers() {
    const kinds = this.video ? ["audio", "video"] : ["audio"];
    for (const kind of kinds) {
      const track = this.stream ? this.stream.getTracks().find((t) => t.kind === kind) : null;
      const options = { direction: "sendrecv", streams: this.stream ? [this.stream] : [] };
      this.pc.addTransceiver(track || kind, options);
    }
  }

  // Fewer video codecs: a smaller session description (every frame is at most 8 KiB), and
  // the ones every browser decodes.
  preferCodecs() {
    if (!this.video || !window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities) return;
    const codecs = (RTCRtpReceiver.getCapabilities("video") || { codecs: [] }).codecs.filter((c) =>
      KEEP_VIDEO.test(c.mimeType),
    );
    if (!codecs.length) return;
    for (const transceiver of this.pc.getTransceivers()) {
      const kind = transceiver.receiver.track && transceiver.receiver.track.kind;
      if (kind === "video" && transceiver.setCodecPreferences) {
        try {
          transceiver.setCodecPreferences(codecs);
        } catch {
          // the browser keeps its own list
        }
      }
    }
  }

  // Caller: a new offer (on a fresh connection, or an ICE restart on this one).
  async offer({ fresh = false, restart = false } = {}) {
    if (this.stopped || !this.caller) return;
    if (fresh || !this.pc || ["closed", "failed"].includes(this.pc.connectionState)) {
      this.build();
      this.addTransceivers();
      this.remotePeer = null;
      fresh = true;
    }
    const pc = this.pc;
    if (pc.signalingState === "have-local-offer") await pc.setLocalDescription({ type: "rollback" });
    this.call = uuid();
    this.localCandidates = [];
    this.answeredCall = null;
    this.preferCodecs();
    const offer = await pc.createOffer({ iceRestart: restart && !fresh });
    await pc.setLocalDescription(offer);
    this.offerSdp = { type: "offer", sdp: pc.localDescription.sdp, call: this.call, peer: PAGE, fresh };
    this.resendCount = 0;
    this.sendOffer();
  }

  sendOffer() {
    clearTimeout(this.resendTimer);
    if (this.stopped || !this.offerSdp || this.answeredCall === this.offerSdp.call) return;
    this.signal("call_offer", { sdp: this.offerSdp });
    for (const candidate of this.localCandidates) this.signal("ice_candidate", { candidate });
    const wait = RESEND_MS[Math.min(this.resendCount, RESEND_MS.length - 1)];
    this.resendCount += 1;
    this.resendTimer = setTimeout(() => this.sendOffer(), wait);
  }

  // Caller: the answer to our offer.
  async answered(sdp) {
    if (!this.caller || !this.pc || !sdp || sdp.call !== this.call) return;
    if (this.answeredCall === sdp.call) return;
    if (this.remotePeer && sdp.peer !== this.remotePeer) {
      // Another page of theirs (they reloaded): start over on a new connection with it.
      await this.offer({ fresh: true });
      return;
    }
    if (this.pc.signalingState !== "have-local-offer") return;
    await this.pc.setRemoteDescription({ type: "answer", sdp: sdp.sdp });
    this.answeredCall = sdp.call;
    this.remotePeer = sdp.peer;
    clearTimeout(this.resendTimer);
    await this.flushCandidates();
  }

  // Callee: an offer (a first one, a resend, an ICE restart, or a new page's).
  async offered(sdp) {
    if (this.caller || this.stopped || !sdp || typeof sdp.sdp !== "string") return;
    if (this.answer && this.answer.call === sdp.call) {
      this.sendAnswer(); // a resend: our answer was lost on the way
      return;
    }
    const fresh =
      !this.pc || sdp.fresh || sdp.peer !== this.remotePeer || this.pc.connectionState === "closed";
    if (fresh) this.build();
    const pc = this.pc;
    this.call = sdp.call;
    this.remotePeer = sdp.peer;
    this.localCandidates = [];
    await pc.setRemoteDescription({ type: "offer", sdp: sdp.sdp });
    for (const transceiver of pc.getTransceivers()) {
      if (!transceiver.stopped) transceiver.direction = "sendrecv";
    }
    await this.attachLocal();
    this.preferCodecs();
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    this.answer = { type: "answer", sdp: pc.localDescription.sdp, call: sdp.call, peer: PAGE };
    this.sendAnswer();
    await this.flushCandidates();
    if (!this.connectedAt) this.setState(this.t("call_connecting"));
  }

  sendAnswer() {
    this.signal("call_answer", { sdp: this.answer });
    for (const candidate of this.localCandidates) this.signal("ice_candidate", { candidate });
  }

  async addCandidate(candidate) {
    if (!candidate || typeof candidate !== "object" || !candidate.candidate) return;
    if (!this.pc || !this.pc.remoteDescription || candidate.call !== this.call) {
      // Before its offer or answer (or for an offer not applied yet): kept for a moment.
      this.remoteCandidates.push(candidate);
      if (this.remoteCandidates.length > 100) this.remoteCandidates.shift();
      return;
    }
    await this.applyCandidate(candidate);
  }

  async flushCandidates() {
    const waiting = this.remoteCandidates;
    this.remoteCandidates = [];
    for (const candidate of waiting) {
      if (candidate.call === this.call) await this.applyCandidate(candidate);
    }
  }

  async applyCandidate(candidate) {
    try {
      await this.pc.addIceCandidate({
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid,
        sdpMLineIndex: candidate.sdpMLineIndex,
        usernameFragment: candidate.usernameFragment,
      });
    } catch {
      // a candidate of an older round: harmless
    }
  }

  iceChanged() {
    const state = this.pc.iceConnectionState;
    clearTimeout(this.disconnectedTimer);
    if (state === "connected" || state === "completed") {
      this.connected();
    } else if (state === "disconnected") {
      this.setState(this.t("call_reconnecting"));
      this.placeholder.hidden = false;
      if (this.caller) {
        this.disconnectedTimer = setTimeout(() => this.serial(() => this.restartIfDown()), DISCONNECTED_GRACE_MS);
      }
    } else if (state === "failed") {
      this.setState(this.t("call_reconnecting"));
      this.placeholder.hidden = false;
      if (this.caller) this.serial(() => this.offer({ restart: true }));
    }
  }

  connected() {
    clearTimeout(this.resendTimer);
    const first = !this.connectedAt;
    if (first) this.connectedAt = performance.now();
    this.setState(this.t("call_connected"));
    this.placeholder.hidden = this.video;
    if (first) this.announce(this.t("call_connected"));
    this.renderTimer();
  }

  isUp() {
    return this.pc && ["connected", "completed"].includes(this.pc.iceConnectionState);
  }

  async restartIfDown() {
    if (!this.isUp()) await this.offer({ restart: true });
  }

  // The socket is back (after a drop): the caller makes sure the call is too.
  resume() {
    if (!this.caller || this.stopped) return;
    this.serial(() => (this.pc ? this.restartIfDown() : this.offer({ fresh: true })));
  }

  // The socket has just joined the room: an offer still unanswered goes out now, not at its
  // next retry.
  nudge() {
    if (!this.caller || this.stopped || !this.offerSdp) return;
    if (this.answeredCall === this.offerSdp.call) return;
    this.resendCount = 0;
    this.sendOffer();
  }

  // The other side came online again.
  peerBack() {
    this.resume();
  }

  // call_end from the other side: they left the call (closed their page, or their app hung
  // up). Our side stops receiving; the caller offers again until they are back.
  async peerLeft() {
    if (this.stopped) return;
    this.closeConnection();
    this.answer = null;
    this.remotePeer = null;
    this.placeholder.hidden = false;
    this.setState(this.t("call_closed", { name: this.peerName }));
    if (this.caller) await this.offer({ fresh: true });
  }

  play() {
    const playing = this.remote.play && this.remote.play();
    if (playing && playing.catch) {
      playing.then(() => (this.playButton.hidden = true)).catch(() => (this.playButton.hidden = false));
    }
  }

  setState(text) {
    if (this.stateText && this.stateText.textContent !== text) this.stateText.textContent = text;
  }

  renderTimer() {
    if (!this.connectedAt || !this.timerText) return;
    this.timerText.textContent = clock((performance.now() - this.connectedAt) / 1000);
  }

  closeConnection() {
    clearTimeout(this.resendTimer);
    clearTimeout(this.disconnectedTimer);
    if (this.pc) {
      this.pc.onicecandidate = this.pc.ontrack = this.pc.oniceconnectionstatechange = null;
      this.pc.close(); // ends every remote track
      this.pc = null;
    }
    if (this.remote.srcObject) {
      this.remote.srcObject.getTracks().forEach((track) => track.stop());
      this.remote.srcObject = null;
    }
    this.offerSdp = null;
  }

  // The consultation is over (or the page leaves the active room): every track stops.
  stop() {
    this.stopped = true;
    this.offs.forEach((off) => off());
    clearInterval(this.ticker);
    window.removeEventListener("pagehide", this.onPageHide);
    this.closeConnection();
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.stream = null;
    this.local.srcObject = null;
    this.setState(this.t("call_ended"));
  }
}
