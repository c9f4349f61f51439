// A supervisor on the call: the banner that says so (督导正在旁听 / 指导 / 已加入通话,
// where the centre announces monitoring), and the coach room: while a supervisor
// coaches, a second connection (muted) hears them; the caller does not.
import { $ } from "../lib/dom.js";
import { iceComplete } from "../lib/ice.js";
import { send, state } from "./state.js";

const WORDS = { listen: "督导正在旁听", whisper: "督导正在指导", barge: "督导已加入通话" };
let coachPc = null;

export function monitored(frame) {
  const el = $("monitored");
  if (!state.call || state.call.id !== frame.contact_id || !frame.mode) {
    el.hidden = true;
    return;
  }
  el.textContent = WORDS[frame.mode] || "督导正在旁听";
  el.dataset.mode = frame.mode;
  el.hidden = false;
}

// The supervisor opened the coach room: join it, hearing only.
export async function coachStart(frame) {
  if (!state.call || state.call.id !== frame.contact_id) return;
  closeCoach();
  const pc = new RTCPeerConnection(window.LAWLINE_RTC_CONFIG || { iceServers: [] });
  coachPc = pc;
  pc.addTransceiver("audio", { direction: "recvonly" });
  pc.ontrack = (event) => {
    $("coach-audio").srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  if (coachPc !== pc) return;  // stopped meanwhile
  send("coach_offer", { contact_id: frame.contact_id, sdp: pc.localDescription.sdp });
}

export function coachAnswered(frame) {
  if (coachPc && state.call && state.call.id === frame.contact_id) {
    coachPc.setRemoteDescription({ type: "answer", sdp: frame.sdp })
      .catch((e) => console.warn("coach answer:", e));
  }
}

export function closeCoach() {
  if (coachPc) coachPc.close();
  coachPc = null;
  $("coach-audio").srcObject = null;
}

// The call is over: no banner, no coach.
export function endMonitoring() {
  closeCoach();
  $("monitored").hidden = true;
}
