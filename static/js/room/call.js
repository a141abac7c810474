
import { clock } from "../money.js";
import { uuid } from "./http.js";

const PAGE = uuid();
const RESEND_MS = [1500, 2000, 2000, 2000, 3000, 3000, 5000];
const KEEP_VIDEO = /^video\/(VP8|H264|rtx)$/i; // a smaller offer (frames are 8 KiB at most)
const MEDIA_ERRORS = {
  NotAllowedError: "media_denied",
  SecurityError: "media_denied",
  NotFoundError: "media_missing",
  OverconstrainedError: "media_missing",
  NotReadableError: "media_busy",
  AbortError: "media_busy",
};

export class Call {
  constructor(root, { socket, config, t, http, announce }) {
    Object.assign(this, { root, socket, config, t, http, announce });
    this.session = config.id;
    this.video = config.channel === "video";
    this.caller = config.role === "client";
    const find = (selector) => root.querySelector(selector);
    this.remote = find("[data-remote]");
    this.local = find("[data-local]");
    this.placeholder = find("[data-call-placeholder]");
    this.stateText = find("[data-call-state]");
    this.timerText = find("[data-call-timer]");
    this.mute = find("[data-mute]");
    this.camera = find("[data-camera]");
    this.errorBox = find("[data-call-error]");
    this.retry = find("[data-call-retry]");
    this.playButton = find("[data-play]");
    this.pc = this.stream = this.call = this.remotePeer = this.answer = null;
    this.mine = []; // our candidates for the current offer or answer
    this.theirs = []; // theirs that came before their description
    this.work = Promise.resolve();
    const on = (type, fn) => socket.on(type, (f) => f.session_id === this.session && fn(f));
    this.offs = [
      on("call_offer", (f) => this.serial(() => this.offered(f.sdp))),
      on("call_answer", (f) => this.serial(() => this.answered(f.sdp))),
      on("ice_candidate", (f) => this.serial(() => this.candidate(f.candidate))),
      on("call_end", () => this.serial(() => this.peerLeft())),
    ];
    this.mute.onclick = () => this.toggle("audio", this.mute);
    if (this.camera) this.camera.onclick = () => this.toggle("video", this.camera);
    this.retry.onclick = () => this.retryMedia();
    this.playButton.onclick = () => this.play();
    this.onPageHide = () => this.signal("call_end", {}); // "I left the call"
    window.addEventListener("pagehide", this.onPageHide);
    this.ticker = setInterval(() => this.renderTimer(), 1000);
  }

  async start() {
    this.setState(this.t("call_connecting"));
    await this.getMedia();
    try {
      this.iceServers = (await this.http.json(this.config.urls.rtc)).ice_servers;
    } catch {
      this.iceServers = []; // host candidates still join two pages on one network
    }
    if (this.stopped) return;
    if (this.caller) await this.serial(() => this.offer({ fresh: true }));
    else if (!this.pc) this.setState(this.t("call_waiting", { name: this.config.peer.name }));
  }

  serial(step) {
    this.work = this.work.then(step).catch((error) => console.error("call:", error));
    return this.work;
  }

  signal(type, fields) {
    return this.socket.send({ type, session_id: this.session, ...fields });
  }


  async getMedia() {
    this.errorBox.hidden = true;
    const devices = navigator.mediaDevices;
    const ask = (video) => devices.getUserMedia({ audio: true, video });
    try {
      if (!devices) throw { name: "NotSupportedError" };
      this.stream = await ask(this.video && { width: { ideal: 1280 }, height: { ideal: 720 } });
    } catch (error) {
      try {
        if (!this.video || !["NotFoundError", "NotReadableError"].includes(error.name)) throw error;
        this.stream = await ask(false); // no camera: the voice alone
        this.showError(this.t("camera_missing"), false);
      } catch (failure) {
        this.showError(this.t(MEDIA_ERRORS[failure.name] || "media_failed"), true);
        return;
      }
    }
    if (this.stopped) return this.stream.getTracks().forEach((track) => track.stop());
    this.local.srcObject = this.stream;
    this.mute.disabled = false;
    if (this.camera) this.camera.disabled = !this.stream.getVideoTracks().length;
    await this.attachLocal();
  }

  showError(text, canRetry) {
    this.errorBox.querySelector("p").textContent = text;
    this.retry.hidden = !canRetry;
    this.errorBox.hidden = false;
    this.announce(text);
  }

  async retryMedia() {
    await this.getMedia();
    if (this.caller && this.stream && !this.pc) this.serial(() => this.offer({ fresh: true }));
  }

  async attachLocal() {
    for (const transceiver of this.pc ? this.pc.getTransceivers() : []) {
      const kind = transceiver.receiver.track.kind;
      const track = this.stream && this.stream.getTracks().find((t) => t.kind === kind);
      if (track && transceiver.sender.track !== track) {
        await transceiver.sender.replaceTrack(track);
        transceiver.sender.setStreams?.(this.stream);
      }
    }
  }

  toggle(kind, button) {
    const off = button.getAttribute("aria-pressed") !== "true";
    button.setAttribute("aria-pressed", String(off));
    this.stream?.getTracks().forEach((track) => track.kind === kind && (track.enabled = !off));
    if (kind === "video") this.root.classList.toggle("call-camera-off", off);
  }


  build() {
    this.close();
    const pc = (this.pc = new RTCPeerConnection({ iceServers: this.iceServers || [] }));
    this.mine = [];
    this.theirs = [];
    pc.onicecandidate = ({ candidate }) => {
      if (!candidate || pc !== this.pc) return;
      const ours = { ...candidate.toJSON(), call: this.call, peer: PAGE };
      this.mine.push(ours);
      this.signal("ice_candidate", { candidate: ours });
    };
    pc.ontrack = ({ streams, track }) => {
      if (pc !== this.pc) return;
      let stream = streams[0];
      if (!stream) {
        stream = this.remote.srcObject || new MediaStream();
        stream.addTrack(track);
      }
      if (this.remote.srcObject !== stream) this.remote.srcObject = stream;
      this.play();
    };
    pc.oniceconnectionstatechange = () => pc === this.pc && this.iceChanged();
  }

  preferCodecs() {
    const all = this.video && window.RTCRtpReceiver?.getCapabilities?.("video");
    const codecs = all ? all.codecs.filter((c) => KEEP_VIDEO.test(c.mimeType)) : [];
    for (const transceiver of codecs.length ? this.pc.getTransceivers() : []) {
      if (transceiver.receiver.track.kind !== "video") continue;
      try {
        transceiver.setCodecPreferences(codecs);
      } catch {
      }
    }
  }

  async offer({ fresh = false, restart = false }) {
    if (this.stopped || !this.caller) return;
    const pc0 = this.pc;
    if (fresh || !pc0?.currentRemoteDescription || /closed|failed/.test(pc0.connectionState)) {
      this.build();
      for (const kind of this.video ? ["audio", "video"] : ["audio"]) {
        const track = this.stream?.getTracks().find((t) => t.kind === kind);
        const streams = this.stream ? [this.stream] : [];
        this.pc.addTransceiver(track || kind, { direction: "sendrecv", streams });
      }
      this.remotePeer = null;
      fresh = true;
    }
    const pc = this.pc;
    if (pc.signalingState === "have-local-offer") {
      await pc.setLocalDescription({ type: "rollback" });
    }
    this.call = uuid();
    this.mine = [];
    this.preferCodecs();
    await pc.setLocalDescription(await pc.createOffer({ iceRestart: restart && !fresh }));
    const sdp = pc.localDescription.sdp;
    this.offerSdp = { type: "offer", sdp, call: this.call, peer: PAGE, fresh };
    this.nudge();
  }

  nudge(count = 0) {
    clearTimeout(this.resend);
    const offer = this.offerSdp;
    if (!this.caller || this.stopped || !offer || this.answeredCall === offer.call) return;
    this.signal("call_offer", { sdp: offer });
    this.mine.forEach((candidate) => this.signal("ice_candidate", { candidate }));
    const wait = RESEND_MS[Math.min(count, RESEND_MS.length - 1)];
    this.resend = setTimeout(() => this.nudge(count + 1), wait);
  }

  async answered(sdp) {
    if (!this.pc || !sdp || sdp.call !== this.call || this.answeredCall === sdp.call) return;
    if (this.remotePeer && sdp.peer !== this.remotePeer) return this.offer({ fresh: true });
    if (this.pc.signalingState !== "have-local-offer") return;
    await this.pc.setRemoteDescription({ type: "answer", sdp: sdp.sdp });
    this.answeredCall = sdp.call;
    this.remotePeer = sdp.peer;
    clearTimeout(this.resend);
    await this.flush();
  }

  async offered(sdp) {
    if (this.caller || this.stopped || !sdp || typeof sdp.sdp !== "string") return;
    if (this.answer && this.answer.call === sdp.call) return this.sendAnswer(); // a resend
    if (!this.pc || sdp.fresh || sdp.peer !== this.remotePeer) this.build();
    const pc = this.pc;
    this.call = sdp.call;
    this.remotePeer = sdp.peer;
    this.mine = [];
    await pc.setRemoteDescription({ type: "offer", sdp: sdp.sdp });
    pc.getTransceivers().forEach((transceiver) => (transceiver.direction = "sendrecv"));
    await this.attachLocal();
    this.preferCodecs();
    await pc.setLocalDescription(await pc.createAnswer());
    this.answer = { type: "answer", sdp: pc.localDescription.sdp, call: sdp.call, peer: PAGE };
    this.sendAnswer();
    await this.flush();
    if (!this.connectedAt) this.setState(this.t("call_connecting"));
  }

  sendAnswer() {
    this.signal("call_answer", { sdp: this.answer });
    this.mine.forEach((candidate) => this.signal("ice_candidate", { candidate }));
  }

  async candidate(candidate) {
    if (!candidate || !candidate.candidate) return;
    if (!this.pc?.remoteDescription || candidate.call !== this.call) {
      this.theirs = [...this.theirs.slice(-99), candidate]; // kept until its description
      return;
    }
    const { sdpMid, sdpMLineIndex, usernameFragment } = candidate;
    const init = { candidate: candidate.candidate, sdpMid, sdpMLineIndex, usernameFragment };
    try {
      await this.pc.addIceCandidate(init);
    } catch {
    }
  }

  async flush() {
    const waiting = this.theirs;
    this.theirs = [];
    for (const candidate of waiting) {
      if (candidate.call === this.call) await this.candidate(candidate);
    }
  }

  iceChanged() {
    const state = this.pc.iceConnectionState;
    clearTimeout(this.downTimer);
    if (state === "connected" || state === "completed") return this.connected();
    if (state !== "disconnected" && state !== "failed") return;
    this.setState(this.t("call_reconnecting"));
    this.placeholder.hidden = false;
    if (this.caller) {
      const wait = state === "failed" ? 0 : 2500;
      this.downTimer = setTimeout(() => this.serial(() => this.restartIfDown()), wait);
    }
  }

  connected() {
    clearTimeout(this.resend);
    if (!this.connectedAt) {
      this.connectedAt = performance.now();
      this.announce(this.t("call_connected"));
    }
    this.setState(this.t("call_connected"));
    this.placeholder.hidden = this.video;
    this.renderTimer();
  }

  async restartIfDown() {
    const up = ["connected", "completed"].includes(this.pc?.iceConnectionState);
    if (!up) await this.offer({ restart: true });
  }

  resume() {
    if (this.caller && !this.stopped) this.serial(() => this.restartIfDown());
  }

  async peerLeft() {
    if (this.stopped) return;
    this.close();
    this.answer = this.remotePeer = null;
    this.placeholder.hidden = false;
    this.setState(this.t("call_closed", { name: this.config.peer.name }));
    if (this.caller) await this.offer({ fresh: true });
  }

  play() {
    this.remote
      .play?.()
      .then(() => (this.playButton.hidden = true))
      .catch(() => (this.playButton.hidden = false));
  }

  setState(text) {
    if (this.stateText.textContent !== text) this.stateText.textContent = text;
  }

  renderTimer() {
    if (!this.connectedAt) return;
    this.timerText.textContent = clock((performance.now() - this.connectedAt) / 1000);
  }

  close() {
    clearTimeout(this.resend);
    clearTimeout(this.downTimer);
    if (this.pc) {
      this.pc.onicecandidate = this.pc.ontrack = this.pc.oniceconnectionstatechange = null;
      this.pc.close(); // ends every remote track
      this.pc = null;
    }
    this.remote.srcObject?.getTracks().forEach((track) => track.stop());
    this.remote.srcObject = null;
    this.offerSdp = null;
  }

  stop() {
    this.stopped = true;
    this.offs.forEach((off) => off());
    clearInterval(this.ticker);
    window.removeEventListener("pagehide", this.onPageHide);
    this.close();
    this.stream?.getTracks().forEach((track) => track.stop());
    this.stream = this.local.srcObject = null;
    this.setState(this.t("call_ended"));
  }
}
