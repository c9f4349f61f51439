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
// How lawline's call to a party's phone stands (the seat's `dial`), and why one failed.
const DIAL = {
  calling: "正在呼叫", ringing: "电话振铃中", answered: "已接听，等待按键",
  joining: "正在接入", in_room: "电话在线", ended: "电话已挂断", failed: "未接通",
  invited: "已向村终端发出邀请",
};
const DIAL_FAILED = {
  busy: "对方忙", "no answer": "无人接听", declined: "对方拒接", unreachable: "无法接通",
  "no free line": "线路繁忙", "could not dial": "无法拨号", "room refused": "调解室未能接入",
};

function seatStatus(p) {
  if (p.dial && (!p.present || p.dial === "in_room")) {
    const why = p.dial === "failed" ? `（${DIAL_FAILED[p.dial_reason] || p.dial_reason}）` : "";
    return (p.muted && p.present ? "已静音 · " : "") + DIAL[p.dial] + why;
  }
  return !p.present ? "未加入" : p.muted ? "已静音" : p.joined ? "在线" : "正在接入";
}

export function seatLine(p, controls = null) {
  return html`<li data-who=${p.who} data-present=${p.present} data-muted=${p.muted}
      data-dial=${p.dial || ""} data-speaking=${Boolean(p.speaking)}>
    <strong>${p.name}</strong> · ${LABELS.partyRole[p.role] || ""} · ${LABELS.reach[p.reach] || ""}
    · <em>${seatStatus(p)}</em>${p.speaking ? html` <span class="speaking">正在说话</span>` : ""}
    ${controls ? controls(p) : ""}</li>`;
}

// A phone party started or stopped speaking (`speaking`): the last `participants` frame
// changed to say so, for the page to draw again.
export function withSpeaking(frame, f) {
  if (!frame || frame.case_id !== f.case_id) return null;
  const participants = frame.participants.map((p) => (p.who === f.who ? { ...p, speaking: f.on } : p));
  return { ...frame, participants };
}
