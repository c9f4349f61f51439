// The duty lawyer's console: one websocket to lawline (offers, state, signalling)
// and one WebRTC audio connection per accepted call, to the telephony worker that
// holds the caller's line. Everything shown comes from lawline's frames; a reload
// or a short network loss reconnects and gets the same state back.
// The panels are modules of their own: duty.js, offer.js, call.js (and video.js for a
// village terminal's call), transcript.js, case-form.js, recent.js (my recent calls);
// state.js is what they share.
import { $, setLink, signOut, toast } from "../lib/dom.js";
import { setZone } from "../lib/format.js";
import { Socket } from "../lib/socket.js";
import {
  audioAnswered, audioLost, audioRefused, dropPrepared, endCall, park, parkAnswered, parkLost,
  parkRefused, prepareAudio, startCall, unpark, wireCall,
} from "./call.js";
import { closeCoach, coachAnswered, coachStart, endMonitoring, monitored } from "./coach.js";
import { caseSaved, fillCaseChoices, loadOverdue, showOpenCase, wireCaseForm } from "./case-form.js";
import { loadFigures, renderLawyer, wireDuty } from "./duty.js";
import { hintPinned, hintsArrived, showHints, wireHints } from "./hints.js";
import { hideOffer, showOffer, wireOffer } from "./offer.js";
import { refreshRecent, wireRecent } from "./recent.js";
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
    "not in wrap-up": "当前不在话后整理中。",
    "no wrap-up extension left": "本次话后整理已不能再延长。",
    "no such article": "法条库中没有这一条，未能加入告知内容。",
  };
  return known[result.message] || `操作未成功：${result.message || result.request}`;
}

// What each frame from lawline does to the page.
const handlers = {
  hello(f) {
    state.wrapupRules = f.wrapup;
    state.park = f.park;
    renderLawyer(f.lawyer);
    refreshRecent();
    // A new socket: lawline let go of the old one's connections; park one afresh.
    unpark(false).then(park);
    if (f.offer) { showOffer(f.offer); prepareAudio(f.offer.contact); } else hideOffer();
    if (f.call) startCall(f.call);  // a reload mid-call: audio again, same call
    loadFigures();
  },
  offer(f) { showOffer(f); prepareAudio(f.contact); },
  offer_withdrawn(f) {
    if (state.offer && state.offer.contact.id === f.contact_id) { hideOffer(); dropPrepared(); }
    if (f.reason === "timeout") toast("来电未在时限内接听，已转给其他律师。");
  },
  connected(f) { hideOffer(); startCall(f.contact, f.audio); },
  ended(f) {
    if (state.call && state.call.id === f.contact.id) { endCall(f.parked); endMonitoring(); park(); }
    if (state.caseContact && state.caseContact.id === f.contact.id) showOpenCase();
    loadFigures();
    refreshRecent();
  },
  webrtc_answer: audioAnswered,
  audio_lost: audioLost,
  standby_answer: parkAnswered,
  standby_lost: parkLost,
  monitored,
  coach_start: coachStart,
  coach_answer: coachAnswered,
  coach_stop: closeCoach,
  state(f) {
    const was = state.lawyer && state.lawyer.state;
    renderLawyer(f.lawyer);
    if (f.lawyer.state === "offline") unpark(); else park();
    if (was === "wrapup" && f.lawyer.state !== "wrapup") refreshRecent();
    if (f.lawyer.wrapup_extensions) loadFigures();
  },
  result(f) {
    if (f.request === "webrtc_offer" && !f.ok && audioRefused()) return;
    // No parked connection (no media server yet): calls connect as they are accepted.
    if (f.request === "standby_offer" && !f.ok) { parkRefused(); return; }
    if (f.request === "case" && f.ok) { caseSaved(); refreshRecent(); }
    if (!f.ok) toast(explain(f));
  },
  error(f) { toast(`服务器无法处理请求：${f.message}`); },
  pong() {},
  tap_answer: tapAnswered,
  video_signal: videoSignal,
  hints: hintsArrived,
  hint_pinned: hintPinned,
  transcript_backlog(f) {
    showTranscript(f.contact_id);
    showHints(f.contact_id);
    if (f.status) addSegment(f.status);
    for (const s of f.segments) addSegment(s);
  },
  transcript(f) {
    showTranscript(f.contact_id);
    addSegment(f.segment);
  },
};

const up = (on) => setLink(on, "已连接", "连接中断，正在重连…");

// Refused for too many sockets (4429): this account has consoles open elsewhere. Trying
// again on its own would only be refused again, so the console waits for the lawyer:
// a click on the pill, once the other windows are closed, connects again.
const TOO_MANY = "此账号打开的工作台过多，请关闭其他窗口后重试";
function tooMany() {
  setLink(false, "已连接", "工作台过多 · 点此重连");
  $("link").title = TOO_MANY;
  toast(TOO_MANY, 60_000);
  const link = $("link");
  link.dataset.retry = "";
  link.onclick = () => {
    link.onclick = null;
    link.title = "";
    delete link.dataset.retry;
    setLink(false, "已连接", "连接中…");
    state.socket.connect();
  };
}

state.socket = new Socket("/api/console/ws", {
  handlers,
  onOpen: () => up(true),
  onClose: (event) => {
    up(false);
    if (event.code === 4401) { location.href = "/login"; return false; }
    if (event.code === 4403 || event.code === 4404) { toast(event.reason || "无权使用工作台。"); return false; }
    if (event.code === 4429) { tooMany(); return false; }
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
  wireHints();
  wireRecent();
  $("sign-out").onclick = signOut;
  // ICE servers come from lawline's settings, never a browser default.
  try {
    const r = await fetch("/api/session");
    if (r.status === 401) { location.href = "/login"; return; }
    if (r.ok) setZone((await r.json()).time_zone);  // before any frame is shown
    loadOverdue();
    setInterval(loadOverdue, 60_000);
    const rtc = await fetch("/api/webrtc/config");
    if (rtc.ok) window.LAWLINE_RTC_CONFIG = await rtc.json();
  } catch { /* the websocket's reconnect loop reports the network */ }
  state.socket.connect();
}
start();
