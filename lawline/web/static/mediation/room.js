// What the mediator's page and a party's page share: a connection to the room with
// the microphone, its complete offer (lawline takes no trickle ICE), and the room's
// audio played and measured.
import { $, html } from "../lib/dom.js";
import { iceComplete } from "../lib/ice.js";
import { LABELS } from "../lib/labels.js";
import { LevelMeter } from "../lib/meter.js";

export const room = { pc: null, meter: null };

// A connection with the microphone, its offer complete; null without a microphone.
export async function connectAudio(rtcConfig) {
  closeAudio();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true } });
  } catch {
    return null;
  }
  const pc = new RTCPeerConnection(rtcConfig || { iceServers: [] });
  for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  pc.ontrack = (event) => {
    const heard = event.streams[0] || new MediaStream([event.track]);
    $("room-audio").srcObject = heard;
    if (room.meter) room.meter.stop();
    room.meter = new LevelMeter(heard, $("room-level"));
  };
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  room.pc = pc;
  return pc;
}

export function answered(sdp) {
  if (room.pc) room.pc.setRemoteDescription({ type: "answer", sdp }).catch((e) => console.warn(e));
}

export function closeAudio() {
  if (room.pc) {
    for (const sender of room.pc.getSenders()) if (sender.track) sender.track.stop();
    room.pc.close();
  }
  if (room.meter) room.meter.stop();
  Object.assign(room, { pc: null, meter: null });
  $("room-audio").srcObject = null;
}

// One line per seat: name, role, how they take part, whether they are in the room.
export function seatLine(p, controls = null) {
  const status = !p.present ? "未加入" : p.muted ? "已静音" : p.joined ? "在线" : "正在接入";
  return html`<li data-who=${p.who} data-present=${p.present} data-muted=${p.muted}>
    <strong>${p.name}</strong> · ${LABELS.partyRole[p.role] || ""} · ${LABELS.reach[p.reach] || ""}
    · <em>${status}</em>${controls ? controls(p) : ""}</li>`;
}
