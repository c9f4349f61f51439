// A face-to-face video call between a village terminal and a lawyer's browser, the same
// code on both sides. Media goes peer to peer; the signalling (SDP and trickled ICE
// candidates) goes through lawline's websockets, which only relay it. The terminal
// makes the offers (the first, after the lawyer's browser says it is ready, and every
// ICE restart); the lawyer's browser answers.
// Why the camera or microphone could not be used, in words (the browser's own message is
// English and technical: it goes to the browser's console, not the screen).
const DEVICE_ERRORS = {
  NotAllowedError: "未允许使用摄像头和麦克风",
  NotFoundError: "没有找到摄像头或麦克风",
  NotReadableError: "摄像头或麦克风正被占用",
};
export function deviceError(e) {
  console.warn("camera or microphone:", e);
  return DEVICE_ERRORS[e && e.name] || "无法使用摄像头和麦克风";
}

export class VideoCall {
  // options: {role: "terminal"|"lawyer", rtc, frameRate, iceTimeoutS, videoStallS,
  //   send(signal), status(text), failed(text), localVideo, remoteVideo, connected()?}
  constructor(options) {
    this.o = options;
    this.pc = null;
    this.stream = null;
    this.pendingCandidates = [];
    this.audioOnly = false;
    this.everConnected = false;
    this.closed = false;
    this.restarts = 0;
    this.iceStates = [];        // every ICE state seen, for support staff and the tests
    this.offered = false;
    this.deadline = null;       // ICE must be connected by then, or the session fails
    this.disconnectTimer = null;
    this.lastFrames = 0;
    this.framesChangedAt = 0;
    this.statsTimer = null;
  }

  // The camera at 3840x2160 if it can, else whatever it gives, else no camera.
  async openMedia() {
    const fps = this.o.frameRate || 30;
    const wants = [
      { audio: true, video: { width: { ideal: 3840 }, height: { ideal: 2160 }, frameRate: { ideal: fps } } },
      { audio: true, video: true },
      { audio: true },
    ];
    let lastError = null;
    for (const want of wants) {
      try {
        return await navigator.mediaDevices.getUserMedia(want);
      } catch (e) {
        lastError = e;
      }
    }
    throw lastError;
  }

  async start() {
    this.stream = await this.openMedia();
    if (this.closed) { this.stopMedia(); return; }
    if (this.o.localVideo) this.o.localVideo.srcObject = this.stream;
    const pc = new RTCPeerConnection(this.o.rtc || { iceServers: [] });
    this.pc = pc;
    for (const track of this.stream.getTracks()) {
      // Keep the picture sharp (a document held up to the camera must stay legible): when
      // the link or the CPU is short, the browser lowers the frame rate, not the size.
      // Its bitrate adaptation stays on.
      if (track.kind === "video") track.contentHint = "detail";
      const sender = pc.addTrack(track, this.stream);
      if (track.kind === "video") this.keepResolution(sender);
    }
    if (!this.stream.getVideoTracks().length) {
      // No camera: still receive the other side's video.
      pc.addTransceiver("video", { direction: "recvonly" });
      this.notice("audio_only", "本端没有摄像头，仅语音通话", false);
    }
    this.preferH264();
    pc.onicecandidate = (e) => this.o.send({ kind: "candidate", candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      const stream = e.streams[0] || new MediaStream([e.track]);
      if (this.o.remoteVideo && this.o.remoteVideo.srcObject !== stream) this.o.remoteVideo.srcObject = stream;
    };
    pc.oniceconnectionstatechange = () => this.iceChanged();
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") this.connected();
    };
    this.statsTimer = setInterval(() => this.watchVideo(), 1000);
  }

  keepResolution(sender) {
    try {
      const params = sender.getParameters();
      params.degradationPreference = "maintain-resolution";
      sender.setParameters(params).catch(() => {});
    } catch { /* older browsers: the content hint alone */ }
  }

  // Set-top boxes decode H.264 in hardware: put it first where the browser has it.
  preferH264() {
    if (!window.RTCRtpReceiver || !RTCRtpReceiver.getCapabilities) return;
    const caps = RTCRtpReceiver.getCapabilities("video");
    if (!caps) return;
    const rank = (c) => (c.mimeType.toLowerCase() === "video/h264" ? 0 : 1);
    const codecs = [...caps.codecs].sort((a, b) => rank(a) - rank(b));
    for (const t of this.pc.getTransceivers()) {
      if (t.receiver.track && t.receiver.track.kind === "video" && t.setCodecPreferences) {
        try { t.setCodecPreferences(codecs); } catch { /* keep the browser's order */ }
      }
    }
  }

  armDeadline() {
    clearTimeout(this.deadline);
    const seconds = this.o.iceTimeoutS || 30;
    this.deadline = setTimeout(() => {
      if (this.closed || (this.pc && this.pc.connectionState === "connected")) return;
      this.fail(this.everConnected
        ? "网络中断，视频通话无法恢复。"
        : "无法建立视频连接：两端之间没有可用的网络通路（可能未配置中继服务器），请稍后再试。");
    }, seconds * 1000);
  }

  connected() {
    if (this.o.connected) this.o.connected();
    clearTimeout(this.deadline);
    this.deadline = null;
    if (this.everConnected) this.o.status(this.audioOnly ? "网络已恢复（仅语音）" : "网络已恢复");
    else this.o.status(this.audioOnly ? "已接通（仅语音）" : "");
    this.everConnected = true;
    this.framesChangedAt = Date.now();
  }

  iceChanged() {
    const state = this.pc.iceConnectionState;
    this.iceStates.push(state);
    if (state === "disconnected" || state === "failed") {
      this.o.status("网络不稳定，正在恢复连接…");
      if (!this.deadline) this.armDeadline();
      clearTimeout(this.disconnectTimer);
      // "disconnected" often heals by itself within a second or two; "failed" never does.
      const wait = state === "failed" ? 0 : 2000;
      this.disconnectTimer = setTimeout(() => {
        const now = this.pc && this.pc.iceConnectionState;
        if (!this.closed && (now === "disconnected" || now === "failed")) this.restartIce();
      }, wait);
    }
  }

  restartIce() {
    this.restarts += 1;
    if (this.o.role === "terminal") this.makeOffer(true);
    else this.o.send({ kind: "restart" });
  }

  async makeOffer(iceRestart = false) {
    if (!this.pc || this.closed) return;
    this.offered = true;
    if (!this.deadline && !this.everConnected) this.armDeadline();
    const offer = await this.pc.createOffer({ iceRestart });
    await this.pc.setLocalDescription(offer);
    this.o.send({ kind: "description", description: { type: offer.type, sdp: this.pc.localDescription.sdp } });
  }

  async handle(signal) {
    if (this.closed) return;
    if (signal.kind === "description") {
      const d = signal.description;
      if (!this.pc) return;
      if (!this.deadline && !this.everConnected) this.armDeadline();
      await this.pc.setRemoteDescription(d);
      if (d.type === "offer") {
        await this.pc.setLocalDescription(await this.pc.createAnswer());
        this.o.send({ kind: "description", description: { type: "answer", sdp: this.pc.localDescription.sdp } });
      }
      for (const c of this.pendingCandidates.splice(0)) await this.addCandidate(c);
    } else if (signal.kind === "candidate") {
      if (!this.pc || !this.pc.remoteDescription) this.pendingCandidates.push(signal.candidate);
      else await this.addCandidate(signal.candidate);
    } else if (signal.kind === "restart" && this.o.role === "terminal") {
      this.makeOffer(true);
    } else if (signal.kind === "notice" && signal.notice) {
      if (signal.notice.kind === "audio_only") this.goAudioOnly(false);
      if (signal.notice.kind === "failed") this.fail(signal.notice.message || "对方的视频连接失败。", false);
    }
  }

  async addCandidate(candidate) {
    try {
      await this.pc.addIceCandidate(candidate || null);
    } catch { /* a candidate of an older ICE generation: harmless */ }
  }

  // No video frame for a while although the path is up: the link cannot carry video.
  // Both sides stop sending it and say so; the voice goes on.
  async watchVideo() {
    if (!this.pc || this.closed || this.audioOnly || this.pc.connectionState !== "connected") return;
    const stats = await this.pc.getStats();
    let frames = 0, video = false;
    stats.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") { video = true; frames += r.framesDecoded || 0; }
    });
    if (!video) return;
    if (frames !== this.lastFrames) {
      this.lastFrames = frames;
      this.framesChangedAt = Date.now();
    } else if (Date.now() - this.framesChangedAt > (this.o.videoStallS || 15) * 1000) {
      this.goAudioOnly(true);
    }
  }

  goAudioOnly(tellOther) {
    if (this.audioOnly) return;
    this.audioOnly = true;
    if (this.pc) {
      for (const s of this.pc.getSenders()) {
        if (s.track && s.track.kind === "video") s.replaceTrack(null).catch(() => {});
      }
    }
    if (tellOther) this.notice("audio_only", "网络较差，视频无法传输，已改为仅语音通话。", true);
    this.o.status("网络较差，视频无法传输，已改为仅语音通话。");
  }

  notice(kind, message, tellOther) {
    if (tellOther) this.o.send({ kind: "notice", notice: { kind, message } });
    if (kind === "audio_only") { this.audioOnly = true; this.o.status(message); }
  }

  fail(message, tellOther = true) {
    if (this.closed) return;
    if (tellOther) this.o.send({ kind: "notice", notice: { kind: "failed", message } });
    this.close();
    this.o.failed(message);
  }

  stopMedia() {
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
  }

  close() {
    this.closed = true;
    clearTimeout(this.deadline);
    clearTimeout(this.disconnectTimer);
    clearInterval(this.statsTimer);
    if (this.pc) this.pc.close();
    this.stopMedia();
    if (this.o.remoteVideo) this.o.remoteVideo.srcObject = null;
    if (this.o.localVideo) this.o.localVideo.srcObject = null;
  }
}
