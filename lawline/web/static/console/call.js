// The connected call: its summary and timer, the audio (one WebRTC connection to the
// call's room on the media server; lawline relays the offer and the answer), mute, hold,
// transfer, hang up. While on duty one connection stays parked between calls and
// lawline moves it into each phone call's room at accept (lawline/media/standby.py):
// the audio starts without a new connection.
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

export async function startCall(contact, audio = null) {
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
  if (video) await connectVideo(contact);
  else if (audio !== "parked" || !takeParked()) await connectAudio(contact);
}

// The call is over; `parked`: lawline parked its connection again for the next call.
export function endCall(parked = false) {
  if (parked && state.onStandby && state.pc) {
    const standby = { pc: state.pc, stream: state.remoteStream };
    state.pc = null;
    stopMeter();
    silence(standby.pc);
    watchParked(standby);
    state.standby = standby;
  }
  state.onStandby = false;
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
async function newOffer(parked = false) {
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
  if (parked) silence(pc);
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  return pc;
}

// The microphone's track to a connection, or none (parked: nothing is sent at all).
function silence(pc) {
  for (const sender of pc.getSenders()) sender.replaceTrack(null).catch(() => {});
}

function speak(pc) {
  const track = state.localStream && state.localStream.getAudioTracks()[0];
  if (!track) return;
  track.enabled = !state.muted;
  for (const sender of pc.getSenders()) sender.replaceTrack(track).catch(() => {});
}

// What the call's room sends: played (Chrome plays a remote WebRTC stream through WebAudio
// only if an element plays it too) and shown on the level meter.
function hear(stream) {
  state.remoteStream = stream;
  $("remote-audio").srcObject = stream;
  state.meter = new LevelMeter(stream, $("caller-level"));
}

function stopMeter() {
  if (state.meter) state.meter.stop();
  state.meter = null;
  state.remoteStream = null;
}

// ----- the parked connection ----------------------------------------------------------------

const onDuty = () => state.park && state.lawyer && state.lawyer.state !== "offline";
const PARK_AGAIN_MS = 30_000;  // after lawline could not park one (no media server)
let parkRefusedAt = -Infinity;

// On duty and none parked: park one (its offer to lawline's standby room, muted).
export async function park() {
  if (state.standby || state.onStandby || !onDuty() || !window.RTCPeerConnection) return;
  if (Date.now() - parkRefusedAt < PARK_AGAIN_MS) return;
  const standby = { pc: null, stream: null };
  state.standby = standby;
  const pc = await newOffer(true);
  if (state.standby !== standby || !pc) {  // dropped meanwhile, or no microphone
    if (pc) pc.close();
    if (state.standby === standby) state.standby = null;
    return;
  }
  standby.pc = pc;
  watchParked(standby);
  send("standby_offer", { sdp: pc.localDescription.sdp });
}

function watchParked(standby) {
  const pc = standby.pc;
  pc.ontrack = (event) => { standby.stream = event.streams[0] || new MediaStream([event.track]); };
  pc.onconnectionstatechange = () => {
    // Lost on the way (the network moved): park afresh, unless it is the call's now.
    if (pc.connectionState === "failed" && state.standby === standby) unpark(false).then(park);
  };
}

export function parkAnswered(frame) {
  const standby = state.standby;
  if (!standby || !standby.pc) return;
  standby.pc.setRemoteDescription({ type: "answer", sdp: frame.sdp })
    .catch((e) => console.warn("parked connection answer:", e));
}

// Off duty (or the socket closed: lawline let go of it): no parked connection.
export async function unpark(tell = true) {
  const standby = state.standby;
  state.standby = null;
  if (standby && standby.pc) standby.pc.close();
  if (tell && standby) send("standby_leave");
}

// lawline lost the parked connection (the media server restarted): park another.
export function parkLost() {
  parkRefusedAt = -Infinity;
  unpark(false).then(park);
}

// lawline could not park it: calls connect as they are accepted, until a later try.
export function parkRefused() {
  parkRefusedAt = Date.now();
  unpark(false);
}

// lawline moved the parked connection into the accepted call's room: it is the call's.
function takeParked() {
  const standby = state.standby;
  if (!standby || !standby.pc) return false;
  state.standby = null;
  dropPrepared();
  closeAudio();
  state.onStandby = true;
  state.pc = standby.pc;
  speak(state.pc);
  const pc = state.pc;
  const stream = standby.stream || new MediaStream(pc.getReceivers().map((r) => r.track));
  hear(stream);
  pc.ontrack = null;
  watchCall(pc);
  return true;
}

// A phone call is being offered: its offer is made now (about 200 ms: the microphone,
// ICE gathering), so the audio starts soon after the lawyer accepts (unless the parked
// connection takes the call).
export function prepareAudio(contact) {
  dropPrepared();
  if (contact.channel !== "video" && !(state.standby && state.standby.pc)) {
    state.prepared = { id: contact.id, pc: newOffer() };
  }
}

export function dropPrepared() {
  const prepared = state.prepared;
  state.prepared = null;
  if (prepared) prepared.pc.then((pc) => { if (pc && pc !== state.pc) pc.close(); });
}

async function connectAudio(contact) {
  state.onStandby = false;
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
  pc.ontrack = (event) => hear(event.streams[0] || new MediaStream([event.track]));
  watchCall(pc);
  send("webrtc_offer", { contact_id: contact.id, sdp: pc.localDescription.sdp });
}

// The call's connection, as the lawyer sees it.
function watchCall(pc) {
  const show = () => {
    const labels = { connected: "音频已接通", connecting: "正在接通音频…", failed: "音频连接失败",
      disconnected: "音频中断，正在恢复…", new: "正在接通音频…" };
    setAudioStatus(labels[pc.connectionState] || "");
  };
  pc.onconnectionstatechange = () => {
    show();
    // The path to the media server failed (it restarted, the network moved): join again.
    if (pc.connectionState === "failed" && state.pc === pc && state.call) audioRefused();
  };
  show();
}

function closeAudio() {
  stopMeter();
  if (state.pc && state.pc.close) state.pc.close();
  state.pc = null;
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
