// The duty lawyer's console: one websocket to lawline (offers, state, signalling)
// and one WebRTC audio connection per accepted call, to the telephony worker that
// holds the caller's line. Everything shown comes from lawline's frames; a reload
// or a short network loss reconnects and gets the same state back.
// The panels are modules of their own: duty.js, offer.js, call.js (and video.js for a
// village terminal's call), transcript.js, case-form.js; state.js is what they share.
import { $, setLink, signOut, toast } from "../lib/dom.js";
import { Socket } from "../lib/socket.js";
import { audioAnswered, audioRefused, endCall, startCall, wireCall } from "./call.js";
import { caseSaved, fillCaseChoices, loadOverdue, showOpenCase, wireCaseForm } from "./case-form.js";
import { loadFigures, renderLawyer, wireDuty } from "./duty.js";
import { hideOffer, showOffer, wireOffer } from "./offer.js";
import { send, state } from "./state.js";
import { addSegment, showTranscript } from "./transcript.js";
import { tapAnswered, videoSignal } from "./video.js";

// lawline's refusals, in words a lawyer reads at a glance.
function explain(result) {
  const known = {
    "this offer is no longer yours": "该来电已不再分配给您（可能已超时或来电人已挂机）。",
    "this contact is not yours": "该来电不属于您。",
    "the contact is not connected": "通话已结束。",
    "no such lawyer": "没有这个律师工号。",
  };
  return known[result.message] || `操作未成功：${result.message || result.request}`;
}

// What each frame from lawline does to the page.
const handlers = {
  hello(f) {
    renderLawyer(f.lawyer);
    if (f.offer) showOffer(f.offer); else hideOffer();
    if (f.call) startCall(f.call);  // a reload mid-call: audio again, same call
    loadFigures();
  },
  offer(f) { showOffer(f); },
  offer_withdrawn(f) {
    if (state.offer && state.offer.contact.id === f.contact_id) hideOffer();
    if (f.reason === "timeout") toast("来电未在时限内接听，已转给其他律师。");
  },
  connected(f) { hideOffer(); startCall(f.contact); },
  ended(f) {
    if (state.call && state.call.id === f.contact.id) endCall();
    if (state.caseContact && state.caseContact.id === f.contact.id) showOpenCase();
    loadFigures();
  },
  webrtc_answer: audioAnswered,
  state(f) { renderLawyer(f.lawyer); },
  result(f) {
    if (f.request === "webrtc_offer" && !f.ok && audioRefused()) return;
    if (f.request === "case" && f.ok) caseSaved();
    if (!f.ok) toast(explain(f));
  },
  error(f) { toast(`服务器无法处理请求：${f.message}`); },
  pong() {},
  tap_answer: tapAnswered,
  video_signal: videoSignal,
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

const up = (on) => setLink(on, "已连接", "连接中断，正在重连…");

state.socket = new Socket("/api/console/ws", {
  handlers,
  onOpen: () => up(true),
  onClose: (event) => {
    up(false);
    if (event.code === 4401) { location.href = "/login"; return false; }
    if (event.code === 4403 || event.code === 4404) { toast(event.reason || "无权使用工作台。"); return false; }
    return true;  // back quickly: lawline keeps duty and the call for a short while
  },
});

// A sign of life every few seconds: a console silent for long is taken off duty.
setInterval(() => { if (state.socket.open) send("ping"); }, 5000);

async function start() {
  fillCaseChoices();
  wireDuty();
  wireOffer();
  wireCall();
  wireCaseForm();
  $("sign-out").onclick = signOut;
  // ICE servers come from lawline's settings, never a browser default.
  try {
    const r = await fetch("/api/session");
    if (r.status === 401) { location.href = "/login"; return; }
    loadOverdue();
    setInterval(loadOverdue, 60_000);
    const rtc = await fetch("/api/webrtc/config");
    if (rtc.ok) window.LAWLINE_RTC_CONFIG = await rtc.json();
  } catch { /* the websocket's reconnect loop reports the network */ }
  state.socket.connect();
}
start();
