// The duty lawyer's console: one websocket to lawline (offers, state, signalling)
// and one WebRTC audio connection per accepted call, to the telephony worker that
// holds the caller's line. Everything shown comes from lawline's frames; a reload
// or a short network loss reconnects and gets the same state back.
"use strict";

// LABELS (the names of services, domains, dispositions...) come from labels.js.

const $ = (id) => document.getElementById(id);

// The form's choices come from LABELS: one list of names for the whole page.
function fillSelect(id, labels, first = null) {
  const options = first ? [first, ...Object.entries(labels)] : Object.entries(labels);
  $(id).innerHTML = options.map(([value, label]) => `<option value="${value}">${label}</option>`).join("");
}
fillSelect("case-service", LABELS.service);
fillSelect("case-domain", LABELS.domain, ["", "（未分类）"]);
fillSelect("case-disposition", LABELS.disposition);
fillSelect("transfer-service", LABELS.service, ["", "（同一队列）"]);
fillSelect("open-triage", LABELS.triage);
fillSelect("open-referral", LABELS.referral);
$("open-triage").value = "general";
const console_ = {
  ws: null,
  lawyer: null,
  offer: null,        // {contact, deadline, waited_s, history}
  call: null,         // the connected contact
  caseContact: null,  // the contact the case form belongs to
  histories: {},      // contact id -> the caller's earlier contacts (from its offer)
  pc: null,
  video: null,        // the VideoCall of a call from a village terminal
  tap: null,          // its voices to lawline, for the transcript
  localStream: null,
  remoteStream: null,
  meter: null,
  muted: false,
  held: false,
  retryMs: 500,
};
window.lawlineConsole = console_;  // for the browser tests and for support staff

// ----- the websocket ------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/console/ws`);
  console_.ws = ws;
  ws.onopen = () => {
    console_.retryMs = 500;
    setLink(true);
  };
  ws.onmessage = (event) => {
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    (handlers[frame.type] || (() => {}))(frame);
  };
  ws.onclose = (event) => {
    setLink(false);
    if (event.code === 4401) { location.href = "/login"; return; }
    if (event.code === 4403 || event.code === 4404) { toast(event.reason || "无权使用工作台。"); return; }
    // Back quickly: lawline keeps duty and the call for a short while.
    setTimeout(connect, console_.retryMs);
    console_.retryMs = Math.min(console_.retryMs * 2, 5000);
  };
}

function send(type, fields = {}) {
  if (console_.ws && console_.ws.readyState === WebSocket.OPEN) {
    console_.ws.send(JSON.stringify({ type, ...fields }));
    return true;
  }
  toast("与服务器的连接已中断，正在重连…");
  return false;
}

// A sign of life every few seconds: a console silent for long is taken off duty.
setInterval(() => {
  if (console_.ws && console_.ws.readyState === WebSocket.OPEN) send("ping");
}, 5000);

let audioRetries = 0;

const handlers = {
  hello(f) {
    renderLawyer(f.lawyer);
    if (f.offer) showOffer(f.offer); else hideOffer();
    if (f.call) startCall(f.call);  // a reload mid-call: audio again, same call
    loadFigures();
  },
  offer(f) { showOffer(f); },
  offer_withdrawn(f) {
    if (console_.offer && console_.offer.contact.id === f.contact_id) hideOffer();
    if (f.reason === "timeout") toast("来电未在时限内接听，已转给其他律师。");
  },
  connected(f) { hideOffer(); startCall(f.contact); },
  ended(f) {
    if (console_.call && console_.call.id === f.contact.id) endCall();
    if (console_.caseContact && console_.caseContact.id === f.contact.id) showOpenCase();
    loadFigures();
  },
  webrtc_answer(f) {
    audioRetries = 0;
    if (console_.pc && console_.call && console_.call.id === f.contact_id) {
      console_.pc.setRemoteDescription({ type: "answer", sdp: f.sdp })
        .catch((e) => setAudioStatus(`音频连接失败：${e}`));
    }
  },
  state(f) { renderLawyer(f.lawyer); },
  result(f) {
    if (f.request === "webrtc_offer" && !f.ok && console_.call && audioRetries < 10) {
      // The line may not be ready yet (a callback still ringing out): try again shortly.
      audioRetries += 1;
      setAudioStatus("正在等待线路接通…");
      const call = console_.call;
      setTimeout(() => { if (console_.call === call) connectAudio(call); }, 1000);
      return;
    }
    if (f.request === "case" && f.ok) {
      $("case-saved").textContent = `已保存 ${new Date().toLocaleTimeString("zh-CN")}`;
    }
    if (!f.ok) toast(explain(f));
  },
  error(f) { toast(`服务器无法处理请求：${f.message}`); },
  pong() {},
  tap_answer(f) {
    if (console_.tap && console_.call && console_.call.id === f.contact_id) {
      console_.tap.setRemoteDescription({ type: "answer", sdp: f.sdp }).catch(() => {});
    }
  },
  video_signal(f) {
    if (console_.video && console_.call && console_.call.id === f.contact_id) {
      console_.video.handle(f).catch((e) => setVideoStatus(`视频连接出错：${e}`));
    }
  },
  transcript_backlog(f) {
    showTranscript(f.contact_id);
    if (f.status) addSegment(f.status);
    for (const s of f.segments) addSegment(s);
  },
  transcript(f) {
    showTranscript(f.contact_id);
    addSegment(f.segment);
  },
};

function explain(result) {
  const known = {
    "this offer is no longer yours": "该来电已不再分配给您（可能已超时或来电人已挂机）。",
    "this contact is not yours": "该来电不属于您。",
    "the contact is not connected": "通话已结束。",
    "no such lawyer": "没有这个律师工号。",
  };
  return known[result.message] || `操作未成功：${result.message || result.request}`;
}

// ----- duty state -----------------------------------------------------------------------

let wrapupTimer = null;

function renderLawyer(lawyer) {
  console_.lawyer = lawyer;
  $("who").textContent = `${lawyer.name || lawyer.id}`;
  const el = $("state");
  el.dataset.state = lawyer.state;
  el.textContent = LABELS.state[lawyer.state] || lawyer.state;
  $("state-detail").textContent = lawyer.state === "break" && lawyer.break_reason
    ? `（${lawyer.break_reason}）` : "";
  const wrapping = lawyer.state === "wrapup" || (lawyer.wrapup_until > 0 && !lawyer.talking);
  $("wrapup").hidden = !wrapping;
  $("ready").hidden = !wrapping;
  clearInterval(wrapupTimer);
  if (wrapping) {
    const tick = () => {
      const left = Math.max(0, Math.round(lawyer.wrapup_until - Date.now() / 1000));
      $("wrapup-countdown").textContent = lawyer.wrapup_until > 0 ? `剩余 ${left} 秒` : "";
    };
    tick();
    wrapupTimer = setInterval(tick, 1000);
  }
  $("go-available").disabled = lawyer.presence === "available";
}

async function loadFigures() {
  if (!console_.lawyer) return;
  const r = await fetch(`/api/lawyers/${encodeURIComponent(console_.lawyer.id)}/figures`);
  if (!r.ok) return;
  const f = await r.json();
  const minutes = (s) => Math.round((s || 0) / 60);
  const rows = [
    ["今日接听", f.today_handled],
    ["今日通话（分钟）", minutes(f.today_talk_s)],
    ["累计接听", f.handled],
    ["累计话后整理（分钟）", minutes(f.seconds_wrapup)],
  ];
  $("figures").innerHTML = rows.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join("");
}

$("go-available").onclick = () => send("state", { state: "available" });
$("go-break").onclick = () => send("state", { state: "break", reason: $("break-reason").value });
$("go-offline").onclick = () => send("state", { state: "offline" });
$("ready").onclick = () => send("ready");
$("sign-out").onclick = async () => {
  await fetch("/api/session", { method: "DELETE" });
  location.href = "/login";
};

// ----- an offer ----------------------------------------------------------------------------

let ringTimer = null;

function describe(contact) {
  const parts = [LABELS.service[contact.service] || contact.service];
  if (contact.domain) parts.push(LABELS.domain[contact.domain] || contact.domain);
  if (contact.language === "mn") parts.push("蒙古语");
  return parts.join(" · ");
}

function showOffer(offer) {
  console_.offer = offer;
  const c = offer.contact;
  console_.histories = { [c.id]: offer.history || [] };
  $("offer").hidden = false;
  $("offer-summary").innerHTML = escapeHtml(describe(c))
    + (c.green ? `<span class="green">绿色通道 ${escapeHtml(LABELS.green[c.green] || c.green)}</span>` : "")
    + (c.callback ? `<span class="green">预约回电</span>` : "");
  const waitedMin = Math.floor(offer.waited_s / 60), waitedSec = Math.round(offer.waited_s % 60);
  $("offer-detail").textContent = `${LABELS.channel[c.channel] || c.channel} · 来电号码 ${c.caller || "未显示"}`
    + ` · 已等待 ${waitedMin} 分 ${waitedSec} 秒`
    + (c.attrs && c.attrs.menu ? ` · 语音菜单按键：${menuKeys(c.attrs.menu)}` : "")
    + (c.attrs && c.attrs.village ? ` · ${c.attrs.township || ""} ${c.attrs.village}` : "");
  $("offer-notes").textContent = c.attrs && c.attrs.notes ? `转接说明：${c.attrs.notes}` : "";
  renderHistory(offer.history || []);
  startRinging(offer.deadline);
}

// "main:1 consultation:1" -> "1 → 1"; a wrong key shows as "7？", no key as "（无）".
function menuKeys(path) {
  return path.split(" ").map((step) => {
    const key = step.split(":")[1] || "";
    return key === "timeout" ? "（无）" : key;
  }).join(" → ");
}

function renderHistory(history) {
  if (!history.length) {
    $("offer-history").innerHTML = `<p class="sub">该号码此前无来电记录。</p>`;
    return;
  }
  const rows = history.map((h) => `<tr><td>${new Date(h.entered_at * 1000).toLocaleString("zh-CN")}</td>`
    + `<td>${escapeHtml(LABELS.service[h.service] || h.service)}</td>`
    + `<td>${escapeHtml(h.lawyer || "—")}</td>`
    + `<td>${escapeHtml(LABELS.disposition[h.disposition] || LABELS.contactState[h.state] || h.state)}</td>`
    + `<td>${escapeHtml(h.summary || "")}</td></tr>`).join("");
  $("offer-history").innerHTML = `<p>此前来电（首问负责）：</p><table><thead><tr><th>时间</th>`
    + `<th>服务</th><th>承办律师</th><th>结果</th><th>摘要</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function hideOffer() {
  console_.offer = null;
  $("offer").hidden = true;
  stopRinging();
}

function startRinging(deadline) {
  stopRinging();
  const tick = () => {
    const left = Math.max(0, Math.round(deadline - Date.now() / 1000));
    $("offer-countdown").textContent = `${left} 秒内接听`;
    beep();
  };
  tick();
  ringTimer = setInterval(tick, 1000);
}

function stopRinging() {
  if (ringTimer) clearInterval(ringTimer);
  ringTimer = null;
}

let audioCtx = null;
function beep() {
  // Two short tones a second: heard even with the tab in the background.
  try {
    audioCtx = audioCtx || new AudioContext();
    for (const [at, hz] of [[0, 440], [0.25, 480]]) {
      const osc = audioCtx.createOscillator(), gain = audioCtx.createGain();
      osc.frequency.value = hz;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audioCtx.destination);
      osc.start(audioCtx.currentTime + at);
      osc.stop(audioCtx.currentTime + at + 0.2);
    }
  } catch { /* no audio output: the card still flashes */ }
}

$("accept").onclick = () => console_.offer && send("accept", { contact_id: console_.offer.contact.id });
$("decline").onclick = () => console_.offer && send("reject", { contact_id: console_.offer.contact.id });

// ----- the call -------------------------------------------------------------------------

let callTimer = null;

async function startCall(contact) {
  const again = console_.call && console_.call.id === contact.id;
  console_.call = contact;
  $("call").hidden = false;
  const video = contact.channel === "video";
  const from = video
    ? `视频终端 ${contact.attrs.township || ""} ${contact.attrs.village || ""}`
    : contact.caller || "未显示号码";
  $("call-summary").textContent = `${describe(contact)} · ${from}`;
  $("video").hidden = !video;
  $("hold").hidden = video;  // hold music is for phone calls
  if (!again) {
    audioRetries = 0;
    openCaseForm(contact);
    const started = contact.answered_at ? contact.answered_at * 1000 : Date.now();
    clearInterval(callTimer);
    callTimer = setInterval(() => {
      const s = Math.round((Date.now() - started) / 1000);
      $("call-timer").textContent = `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
    }, 1000);
  }
  if (video) await connectVideo(contact); else await connectAudio(contact);
}

// ----- a video call from a village terminal ------------------------------------------------
// Peer to peer with the terminal; lawline relays the signalling (video_signal frames).

function setVideoStatus(text) { $("video-status").textContent = text; }

async function connectVideo(contact) {
  closeVideo();
  setVideoStatus("正在接通视频…");
  let rtc = window.LAWLINE_RTC_CONFIG || { iceServers: [] };
  try {
    // Fresh TURN credentials for every call: they are short-lived.
    const r = await fetch("/api/webrtc/config");
    if (r.ok) rtc = await r.json();
  } catch { /* keep the last configuration */ }
  const media = (await (await fetch("/api/webrtc/media")).json().catch(() => ({}))) || {};
  const call = new VideoCall({
    role: "lawyer",
    rtc,
    frameRate: media.frame_rate,
    iceTimeoutS: media.ice_timeout_s,
    videoStallS: media.video_stall_s,
    send: (signal) => send("video_signal", { contact_id: contact.id, ...signal }),
    status: setVideoStatus,
    failed: (text) => { setVideoStatus(text); toast(text); },
    localVideo: $("own-video"),
    remoteVideo: $("resident-video"),
    connected: () => connectTap(contact, call),
  });
  console_.video = call;
  try {
    await call.start();
  } catch (e) {
    call.fail(`无法使用摄像头和麦克风：${e.name || e}`);
    return;
  }
  if (console_.video !== call) { call.close(); return; }
  send("video_signal", { contact_id: contact.id, kind: "ready" });
}

// Both voices of the video call to lawline for the transcript (the picture never goes
// there): the lawyer's microphone and the resident's audio as received, one audio-only
// connection, lawline told which is whom.
async function connectTap(contact, call) {
  if (console_.tap || !call.pc || !call.stream) return;
  const mine = call.stream.getAudioTracks()[0];
  const receiver = call.pc.getReceivers().find((r) => r.track && r.track.kind === "audio");
  if (!mine || !receiver) return;
  const pc = new RTCPeerConnection(window.LAWLINE_RTC_CONFIG || { iceServers: [] });
  console_.tap = pc;
  const lawyer = pc.addTransceiver(mine, { direction: "sendonly" });
  const citizen = pc.addTransceiver(receiver.track, { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  if (console_.tap !== pc) return;
  send("tap_offer", {
    contact_id: contact.id, sdp: pc.localDescription.sdp,
    legs: { [lawyer.mid]: "lawyer", [citizen.mid]: "citizen" },
  });
}

function closeVideo() {
  if (console_.video) console_.video.close();
  console_.video = null;
  if (console_.tap) console_.tap.close();
  console_.tap = null;
}

function iceComplete(pc) {
  // lawline answers without trickle ICE: send the offer with every candidate in it.
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 3000);
  });
}

async function connectAudio(contact) {
  closeAudio();
  setAudioStatus("正在接通音频…");
  try {
    console_.localStream = console_.localStream
      || await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
  } catch (e) {
    setAudioStatus("无法使用麦克风，请检查浏览器权限。");
    return;
  }
  const pc = new RTCPeerConnection(window.LAWLINE_RTC_CONFIG || { iceServers: [] });
  console_.pc = pc;
  for (const track of console_.localStream.getAudioTracks()) {
    track.enabled = !console_.muted;
    pc.addTrack(track, console_.localStream);
  }
  pc.ontrack = (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    console_.remoteStream = stream;
    // Chrome plays a remote WebRTC stream through WebAudio only if an element plays it too.
    $("remote-audio").srcObject = stream;
    console_.meter = new LevelMeter(stream, $("caller-level"));
  };
  pc.onconnectionstatechange = () => {
    const labels = { connected: "音频已接通", connecting: "正在接通音频…", failed: "音频连接失败",
      disconnected: "音频中断，正在恢复…" };
    setAudioStatus(labels[pc.connectionState] || "");
  };
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  if (console_.pc !== pc) return;  // replaced meanwhile
  send("webrtc_offer", { contact_id: contact.id, sdp: pc.localDescription.sdp });
}

function closeAudio() {
  if (console_.meter) console_.meter.stop();
  console_.meter = null;
  if (console_.pc) console_.pc.close();
  console_.pc = null;
  console_.remoteStream = null;
}

function endCall() {
  closeAudio();
  closeVideo();
  $("video").hidden = true;
  clearInterval(callTimer);
  console_.call = null;
  console_.held = false;
  $("hold").setAttribute("aria-pressed", "false");
  $("call").hidden = true;
  setAudioStatus("");
}

function setAudioStatus(text) { $("audio-status").textContent = text; }

// ----- the live transcript ----------------------------------------------------------------
// Kept on screen from the answer through wrap-up, until the next call's transcript starts.

const SPEAKERS = { citizen: "来电人", lawyer: "律师" };
const transcript = { contact: null, seen: new Set() };

function showTranscript(contactId) {
  if (transcript.contact !== contactId) {
    transcript.contact = contactId;
    transcript.seen.clear();
    $("transcript-lines").replaceChildren();
    $("partial-citizen").textContent = "";
    $("partial-lawyer").textContent = "";
    $("transcript-status").textContent = "";
    for (const fmt of ["txt", "srt", "vtt"]) {
      $(`export-${fmt}`).href = `/api/contacts/${encodeURIComponent(contactId)}/transcript?format=${fmt}`;
    }
  }
  $("transcript").hidden = false;
}

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function addSegment(s) {
  if (s.kind === "status") {
    $("transcript-status").textContent = s.text === "on" ? "转写中" : `转写已关闭：${s.text.replace(/^off: /, "")}`;
    return;
  }
  if (s.kind === "listening") {  // no words until the speaker pauses: say we are listening
    const el = $(`partial-${s.leg}`);
    if (el) el.textContent = `${SPEAKERS[s.leg]}：正在听…`;
    return;
  }
  if (s.kind === "partial") {
    const el = $(`partial-${s.leg}`);
    if (el) el.textContent = s.text ? `${SPEAKERS[s.leg]}：${s.text}…` : "";
    return;
  }
  const key = `${s.kind}|${s.leg}|${s.start}|${s.text}`;
  if (transcript.seen.has(key)) return;  // already had it from the backlog
  transcript.seen.add(key);
  const li = document.createElement("li");
  li.dataset.leg = s.leg || "";
  li.dataset.kind = s.kind;
  li.dataset.start = s.start;
  if (s.kind === "final") {
    li.innerHTML = `<span class="at">${clock(s.start)}</span><span class="who">${SPEAKERS[s.leg] || ""}</span>`;
    li.append(document.createTextNode(s.text));
    const partial = $(`partial-${s.leg}`);
    if (partial) partial.textContent = "";
  } else if (s.kind === "gap") {
    li.className = "gap";
    li.textContent = `${clock(s.start)} ${SPEAKERS[s.leg] || ""}：转写服务中断` + (s.resent ? "，已切换到其他转写服务" : "，这段话未能转写");
  } else {
    return;
  }
  // In time order: the two legs' finals may arrive out of order.
  const lines = $("transcript-lines");
  const after = [...lines.children].find((x) => Number(x.dataset.start) > s.start);
  lines.insertBefore(li, after || null);
  lines.scrollTop = lines.scrollHeight;
}

$("mute").onclick = () => {
  console_.muted = !console_.muted;
  if (console_.localStream) console_.localStream.getAudioTracks().forEach((t) => { t.enabled = !console_.muted; });
  if (console_.video && console_.video.stream) {
    console_.video.stream.getAudioTracks().forEach((t) => { t.enabled = !console_.muted; });
  }
  $("mute").setAttribute("aria-pressed", String(console_.muted));
  $("mute").textContent = console_.muted ? "取消静音" : "静音";
};
$("hold").onclick = () => {
  if (!console_.call) return;
  console_.held = !console_.held;
  send("hold", { contact_id: console_.call.id, on: console_.held });
  $("hold").setAttribute("aria-pressed", String(console_.held));
  $("hold").textContent = console_.held ? "恢复通话" : "保持";
};
$("hang-up").onclick = () => console_.call && send("end", { contact_id: console_.call.id });
// Colleagues to transfer to, on duty first, with what they are doing now.
async function fillColleagues() {
  const r = await fetch("/api/colleagues");
  if (!r.ok) return;
  const me = console_.lawyer && console_.lawyer.id;
  const onDuty = (c) => (c.state === "offline" ? 1 : 0);
  const others = (await r.json()).filter((c) => c.id !== me)
    .sort((a, b) => onDuty(a) - onDuty(b) || a.id.localeCompare(b.id));
  const options = others.map((c) => {
    const label = `${c.name || c.id}（${c.id}，${LABELS.state[c.state] || c.state}）`;
    return `<option value="${escapeHtml(c.id)}">${escapeHtml(label)}</option>`;
  });
  $("transfer-lawyer").innerHTML = `<option value="">（不指定）</option>${options.join("")}`;
}
$("transfer-open").onclick = async () => {
  $("transfer-form").hidden = false;
  $("transfer-note").focus();
  await fillColleagues();
};
$("transfer-cancel").onclick = () => { $("transfer-form").hidden = true; };
$("transfer-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!console_.call) return;
  send("transfer", {
    contact_id: console_.call.id,
    to_lawyer: $("transfer-lawyer").value || null,
    to_service: $("transfer-service").value || null,
    note: $("transfer-note").value,
  });
  $("transfer-form").hidden = true;
});

// The caller's loudness, and the strongest frequency (what the tests check).
class LevelMeter {
  constructor(stream, meterEl) {
    this.ctx = new AudioContext();
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 4096;
    this.source = this.ctx.createMediaStreamSource(stream);
    this.source.connect(this.analyser);
    this.samples = new Float32Array(this.analyser.fftSize);
    this.spectrum = new Float32Array(this.analyser.frequencyBinCount);
    this.timer = setInterval(() => { meterEl.value = Math.min(1, this.rms() * 4); }, 200);
  }
  rms() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let sum = 0;
    for (const x of this.samples) sum += x * x;
    return Math.sqrt(sum / this.samples.length);
  }
  peakHz() {
    this.analyser.getFloatFrequencyData(this.spectrum);
    let best = 0;
    for (let i = 1; i < this.spectrum.length; i++) if (this.spectrum[i] > this.spectrum[best]) best = i;
    return best * this.ctx.sampleRate / this.analyser.fftSize;
  }
  stop() { clearInterval(this.timer); this.ctx.close(); }
}

// ----- the case form -----------------------------------------------------------------------

function openCaseForm(contact) {
  console_.caseContact = contact;
  $("case").hidden = false;
  $("case-service").value = contact.service;
  $("case-domain").value = contact.domain || "";
  $("case-disposition").value = "answered";
  $("case-summary").value = "";
  $("case-advice").value = "";
  $("case-saved").textContent = "";
  resetOpenCase();
}

$("case-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!console_.caseContact) return;
  const form = {
    service: $("case-service").value,
    domain: $("case-domain").value || null,
    disposition: $("case-disposition").value,
    summary: $("case-summary").value,
    advice: $("case-advice").value,
  };
  send("case", { contact_id: console_.caseContact.id, form });
});

// ----- cases: the overdue badge, and 立案 in wrap-up ------------------------------------------

// How many of my cases are past their deadline, on the link to /cases.
async function loadOverdue() {
  let cases;
  try {
    const r = await fetch("/api/cases?overdue=true");
    if (!r.ok) return;
    cases = await r.json();
  } catch { return; }
  const badge = $("overdue-badge");
  badge.textContent = cases.length ? `逾期 ${cases.length}` : "";
  badge.hidden = !cases.length;
  $("cases-link").title = cases.length ? `${cases.length} 件案件已超过办理期限` : "没有逾期案件";
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const openCase = { touched: new Set(), busy: false };

function resetOpenCase() {
  $("open-case").hidden = true;
  openCase.touched.clear();
  document.querySelector('input[name="open-mode"][value="new"]').checked = true;
  $("open-new").hidden = false;
  $("open-join").hidden = true;
  $("open-triage").value = "general";
  for (const id of ["open-name", "open-told", "open-referral-body", "open-join-case"]) $(id).value = "";
  $("open-referral").value = "";
  $("open-join-pick-label").hidden = true;
  $("open-join-hint").hidden = true;
  $("open-case-send").disabled = false;
  $("open-case-send").textContent = "立案";
  setOpenResult("");
}

// 立案 is offered once the call is over, pre-filled from the case form above.
function showOpenCase() {
  $("open-case").hidden = false;
  prefillOpenCase();
  suggestCases(console_.caseContact);
}

function prefillOpenCase() {
  if (!openCase.touched.has("open-told")) $("open-told").value = $("case-advice").value;
  if (!openCase.touched.has("open-referral")) {
    $("open-referral").value = REFERRAL_OF_DISPOSITION[$("case-disposition").value] || "";
  }
}
$("case-advice").addEventListener("input", prefillOpenCase);
$("case-disposition").addEventListener("change", prefillOpenCase);
for (const id of ["open-told", "open-referral"]) {
  $(id).addEventListener("input", () => openCase.touched.add(id));
}
for (const radio of document.querySelectorAll('input[name="open-mode"]')) {
  radio.addEventListener("change", () => {
    const join = radio.value === "join" && radio.checked;
    $("open-new").hidden = join;
    $("open-join").hidden = !join;
    $("open-case-send").textContent = join ? "并入案件" : "立案";
  });
}
$("open-join-pick").addEventListener("change", () => { $("open-join-case").value = $("open-join-pick").value; });

// The caller's earlier contacts (in the offer) lead to their cases: those open and mine
// are offered to join. (A lawyer sees only the calls they took and the cases they own.)
async function suggestCases(contact) {
  const history = console_.histories[contact.id] || [];
  if (!history.length) return;
  const caseIds = new Set((await Promise.all(history.map(async (h) => {
    try {
      const r = await fetch(`/api/ledger/contacts/${encodeURIComponent(h.id)}`);
      return r.ok ? (await r.json()).case_id : null;
    } catch { return null; }
  }))).filter(Boolean));
  if (!caseIds.size) return;
  const r = await fetch("/api/cases?status=open");
  if (!r.ok || console_.caseContact !== contact) return;
  const theirs = (await r.json()).filter((c) => caseIds.has(c.id));
  if (!theirs.length) return;
  $("open-join-pick").innerHTML = `<option value="">（请选择）</option>` + theirs.map((c) =>
    `<option value="${escapeHtml(c.id)}">${escapeHtml(c.id)} · ${escapeHtml(c.citizen_name || "未填姓名")} · `
    + `${escapeHtml(c.summary.slice(0, 30))}</option>`).join("");
  $("open-join-pick-label").hidden = false;
  $("open-join-hint").textContent = `该来电人有 ${theirs.length} 件由您承办、尚在办理中的案件，可选择“并入”。`;
  $("open-join-hint").hidden = false;
}

function setOpenResult(html, error = false) {
  const el = $("open-case-result");
  el.innerHTML = html;
  el.className = error ? "error" : "";
}

const OPEN_ERRORS = {
  "no such case": "没有这个案件编号，请核对。",
  "this case is not yours": "该案件不是您承办的，无法并入。",
  "that case is another citizen's": "该案件属于其他来电人，不能并入。",
  "this contact is not yours": "本次来电不是您接听的，不能立案。",
  "no such contact in the ledger (yet)": "本次来电尚未记入台帐，请稍后再试。",
};

function openCaseError(detail) {
  if (typeof detail !== "string") return "填写有误，请检查后重试。";
  const already = detail.match(/^this contact is already in case (.+)$/);
  if (already) return `本次来电已在案件 ${escapeHtml(already[1])} 中。`;
  return OPEN_ERRORS[detail] || `立案未成功：${escapeHtml(detail)}`;
}

$("open-case-send").onclick = async () => {
  const contact = console_.caseContact;
  if (!contact || openCase.busy) return;
  const join = document.querySelector('input[name="open-mode"]:checked').value === "join";
  const body = { contact_id: contact.id };
  if (join) {
    body.join_case = $("open-join-case").value.trim();
    if (!body.join_case) { setOpenResult("请填写要并入的案件编号。", true); $("open-join-case").focus(); return; }
  } else {
    Object.assign(body, {
      triage: $("open-triage").value,
      service: $("case-service").value,
      domain: $("case-domain").value || null,
      disposition: $("case-disposition").value || null,
      summary: $("case-summary").value,
      citizen_name: $("open-name").value.trim(),
      told: $("open-told").value,
      referral_to: $("open-referral").value,
      referral_body: $("open-referral-body").value.trim(),
    });
  }
  openCase.busy = true;
  $("open-case-send").disabled = true;
  setOpenResult("正在立案…");
  try {
    // The ledger is written from the event stream: the contact may take a moment to be there.
    for (let attempt = 0; ; attempt++) {
      const r = await fetch("/api/cases", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (r.status === 401) { location.href = "/login"; return; }
      const answer = await r.json().catch(() => ({}));
      if (r.ok) {
        const link = `<a href="/cases#case/${encodeURIComponent(answer.id)}" target="_blank" rel="noopener">${escapeHtml(answer.id)}</a>`;
        const due = new Date(answer.deadline).toLocaleString("zh-CN");
        setOpenResult(join ? `已并入案件 ${link}。` : `已立案，案件编号 ${link}，办理期限 ${escapeHtml(due)}。`);
        $("open-case-send").textContent = join ? "已并入" : "已立案";
        loadOverdue();
        return;
      }
      const notYet = (r.status === 404 && answer.detail === "no such contact in the ledger (yet)")
        || (r.status === 403 && answer.detail === "this contact is not yours");
      if (notYet && attempt < 8) {
        setOpenResult("来电记录正在记入台帐，请稍候…");
        await sleep(1000);
        continue;
      }
      setOpenResult(openCaseError(answer.detail), true);
      $("open-case-send").disabled = false;
      return;
    }
  } catch {
    setOpenResult("无法连接服务器，请稍后重试。", true);
    $("open-case-send").disabled = false;
  } finally {
    openCase.busy = false;
  }
};

// ----- small things ---------------------------------------------------------------------

function setLink(up) {
  const el = $("link");
  el.dataset.link = up ? "up" : "down";
  el.textContent = up ? "已连接" : "连接中断，正在重连…";
}

let toastTimer = null;
function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

async function start() {
  // ICE servers come from lawline's settings, never a browser default.
  try {
    const r = await fetch("/api/session");
    if (r.status === 401) { location.href = "/login"; return; }
    loadOverdue();
    setInterval(loadOverdue, 60_000);
    const rtc = await fetch("/api/webrtc/config");
    if (rtc.ok) window.LAWLINE_RTC_CONFIG = await rtc.json();
  } catch { /* the websocket's reconnect loop reports the network */ }
  connect();
}
start();
