// The connected call: its summary and timer, the audio (one WebRTC connection to the
// call's room on the media server; lawline relays the offer and the answer), mute, hold,
// transfer, hang up.
import { $, draw, html } from "../lib/dom.js";
import { clock } from "../lib/format.js";
import { iceComplete } from "../lib/ice.js";
import { LABELS } from "../lib/labels.js";
import { LevelMeter } from "../lib/meter.js";
import { openCaseForm } from "./case-form.js";
import { describe } from "./offer.js";
import { send, state } from "./state.js";
import { closeVideo, connectVideo } from "./video.js";

// A lawyer's headset: echo cancelled, noise suppressed (a page may set its own, as the
// tests do: Chromium's processing fades a steady test tone as if it were noise).
const MICROPHONE = { echoCancellation: true, noiseSuppression: true };
let callTimer = null;
let audioRetries = 0;

export async function startCall(contact) {
  const again = state.call && state.call.id === contact.id;
  state.call = contact;
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
      $("call-timer").textContent = clock((Date.now() - started) / 1000);
    }, 1000);
  }
  if (video) await connectVideo(contact); else await connectAudio(contact);
}

export function endCall() {
  closeAudio();
  closeVideo();
  $("video").hidden = true;
  clearInterval(callTimer);
  state.call = null;
  state.held = false;
  $("hold").setAttribute("aria-pressed", "false");
  $("call").hidden = true;
  setAudioStatus("");
}

// ----- the audio ---------------------------------------------------------------------------

function setAudioStatus(text) { $("audio-status").textContent = text; }

// A peer connection with the microphone and its complete offer (no trickle: every
// candidate in it); null when the microphone cannot be used.
async function newOffer() {
  try {
    state.localStream = state.localStream
      || await navigator.mediaDevices.getUserMedia({ audio: window.LAWLINE_AUDIO_CONSTRAINTS || MICROPHONE });
  } catch {
    return null;
  }
  const pc = new RTCPeerConnection(window.LAWLINE_RTC_CONFIG || { iceServers: [] });
  for (const track of state.localStream.getAudioTracks()) {
    track.enabled = !state.muted;
    pc.addTrack(track, state.localStream);
  }
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  return pc;
}

// A phone call is being offered: its offer is made now (about 200 ms: the microphone,
// ICE gathering), so the audio starts as soon as the lawyer accepts.
export function prepareAudio(contact) {
  dropPrepared();
  if (contact.channel !== "video") state.prepared = { id: contact.id, pc: newOffer() };
}

export function dropPrepared() {
  const prepared = state.prepared;
  state.prepared = null;
  if (prepared) prepared.pc.then((pc) => { if (pc && pc !== state.pc) pc.close(); });
}

async function connectAudio(contact) {
  closeAudio();
  setAudioStatus("正在接通音频…");
  const prepared = state.prepared && state.prepared.id === contact.id ? state.prepared : null;
  state.prepared = null;
  const promise = prepared ? prepared.pc : newOffer();
  state.pc = promise;  // taken: a newer connectAudio replaces it
  const pc = await promise;
  if (!pc) {
    setAudioStatus("无法使用麦克风，请检查浏览器权限。");
    return;
  }
  if (state.pc !== promise) { pc.close(); return; }  // replaced meanwhile
  state.pc = pc;
  for (const track of state.localStream.getAudioTracks()) track.enabled = !state.muted;
  pc.ontrack = (event) => {
    const stream = event.streams[0] || new MediaStream([event.track]);
    state.remoteStream = stream;
    // Chrome plays a remote WebRTC stream through WebAudio only if an element plays it too.
    $("remote-audio").srcObject = stream;
    state.meter = new LevelMeter(stream, $("caller-level"));
  };
  pc.onconnectionstatechange = () => {
    const labels = { connected: "音频已接通", connecting: "正在接通音频…", failed: "音频连接失败",
      disconnected: "音频中断，正在恢复…" };
    setAudioStatus(labels[pc.connectionState] || "");
    // The path to the media server failed (it restarted, the network moved): join again.
    if (pc.connectionState === "failed" && state.pc === pc && state.call) audioRefused();
  };
  send("webrtc_offer", { contact_id: contact.id, sdp: pc.localDescription.sdp });
}

function closeAudio() {
  if (state.meter) state.meter.stop();
  state.meter = null;
  if (state.pc && state.pc.close) state.pc.close();
  state.pc = null;
  state.remoteStream = null;
}

// The media server restarted under the call: a new offer joins the room it remakes.
export function audioLost(frame) {
  if (!state.call || state.call.id !== frame.contact_id) return;
  audioRetries = 0;
  setAudioStatus("音频中断，正在恢复…");
  connectAudio(state.call);
}

// lawline's answer to the browser's offer.
export function audioAnswered(frame) {
  audioRetries = 0;
  if (state.pc && state.pc.setRemoteDescription && state.call && state.call.id === frame.contact_id) {
    state.pc.setRemoteDescription({ type: "answer", sdp: frame.sdp })
      .catch((e) => {
        console.warn("audio answer:", e);
        setAudioStatus("音频连接失败");
      });
  }
}

// The offer was refused: the line may not be ready yet (a callback still ringing out),
// so try again shortly, ten times at most. False when it is not worth another try.
export function audioRefused() {
  if (!state.call || audioRetries >= 10) return false;
  audioRetries += 1;
  setAudioStatus("正在等待线路接通…");
  const call = state.call;
  setTimeout(() => { if (state.call === call) connectAudio(call); }, 1000);
  return true;
}

// ----- transfer ----------------------------------------------------------------------------

// Colleagues to transfer to, on duty first, with what they are doing now.
async function fillColleagues() {
  const r = await fetch("/api/colleagues");
  if (!r.ok) return;
  const me = state.lawyer && state.lawyer.id;
  const onDuty = (c) => (c.state === "offline" ? 1 : 0);
  const others = (await r.json()).filter((c) => c.id !== me)
    .sort((a, b) => onDuty(a) - onDuty(b) || a.id.localeCompare(b.id));
  draw($("transfer-lawyer"), html`<option value="">（不指定）</option>${others.map((c) => html`<option
    value=${c.id}>${c.name || c.id}（${c.id}，${LABELS.state[c.state] || c.state}）</option>`)}`);
}

// ----- the buttons -------------------------------------------------------------------------

export function wireCall() {
  $("mute").onclick = () => {
    state.muted = !state.muted;
    if (state.localStream) state.localStream.getAudioTracks().forEach((t) => { t.enabled = !state.muted; });
    if (state.video && state.video.stream) {
      state.video.stream.getAudioTracks().forEach((t) => { t.enabled = !state.muted; });
    }
    $("mute").setAttribute("aria-pressed", String(state.muted));
    $("mute").textContent = state.muted ? "取消静音" : "静音";
  };
  $("hold").onclick = () => {
    if (!state.call) return;
    state.held = !state.held;
    send("hold", { contact_id: state.call.id, on: state.held });
    $("hold").setAttribute("aria-pressed", String(state.held));
    $("hold").textContent = state.held ? "恢复通话" : "保持";
  };
  $("hang-up").onclick = () => state.call && send("end", { contact_id: state.call.id });
  $("transfer-open").onclick = async () => {
    $("transfer-form").hidden = false;
    $("transfer-note").focus();
    await fillColleagues();
  };
  $("transfer-cancel").onclick = () => { $("transfer-form").hidden = true; };
  $("transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!state.call) return;
    send("transfer", {
      contact_id: state.call.id,
      to_lawyer: $("transfer-lawyer").value || null,
      to_service: $("transfer-service").value || null,
      note: $("transfer-note").value,
    });
    $("transfer-form").hidden = true;
  });
}
