// A video call from a village terminal: peer to peer with the terminal, lawline relaying
// the signalling (video_signal frames); both voices also go to lawline for the transcript.
import { $, toast } from "../lib/dom.js";
import { iceComplete } from "../lib/ice.js";
import { VideoCall, deviceError } from "../lib/videocall.js";
import { send, state } from "./state.js";

export function setVideoStatus(text) { $("video-status").textContent = text; }

export async function connectVideo(contact) {
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
  state.video = call;
  try {
    await call.start();
  } catch (e) {
    call.fail(deviceError(e));
    return;
  }
  if (state.video !== call) { call.close(); return; }
  send("video_signal", { contact_id: contact.id, kind: "ready" });
}

// Both voices of the video call to lawline for the transcript (the picture never goes
// there): the lawyer's microphone and the resident's audio as received, one audio-only
// connection, lawline told which is whom.
async function connectTap(contact, call) {
  if (state.tap || !call.pc || !call.stream) return;
  const mine = call.stream.getAudioTracks()[0];
  const receiver = call.pc.getReceivers().find((r) => r.track && r.track.kind === "audio");
  if (!mine || !receiver) return;
  const pc = new RTCPeerConnection(window.LAWLINE_RTC_CONFIG || { iceServers: [] });
  state.tap = pc;
  const lawyer = pc.addTransceiver(mine, { direction: "sendonly" });
  const citizen = pc.addTransceiver(receiver.track, { direction: "sendonly" });
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  if (state.tap !== pc) return;
  send("tap_offer", {
    contact_id: contact.id, sdp: pc.localDescription.sdp,
    legs: { [lawyer.mid]: "lawyer", [citizen.mid]: "citizen" },
  });
}

export function closeVideo() {
  if (state.video) state.video.close();
  state.video = null;
  if (state.tap) state.tap.close();
  state.tap = null;
}

// Signalling from the terminal, relayed by lawline.
export function videoSignal(frame) {
  if (state.video && state.call && state.call.id === frame.contact_id) {
    state.video.handle(frame).catch((e) => {
      console.warn("video signalling:", e);
      setVideoStatus("视频连接出错");
    });
  }
}

// lawline's answer to the transcript tap's offer.
export function tapAnswered(frame) {
  if (state.tap && state.call && state.call.id === frame.contact_id) {
    state.tap.setRemoteDescription({ type: "answer", sdp: frame.sdp }).catch(() => {});
  }
}
