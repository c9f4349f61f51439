// The village video terminal: one big button to a duty lawyer, face to face.
// Driven by a TV remote (arrow keys and OK) or by touch. The device token is given
// once as /terminal#token=... and kept in the box's storage.
import { $, draw, html, setLink } from "./lib/dom.js";
import { LABELS } from "./lib/labels.js";
import { Socket } from "./lib/socket.js";
import { VideoCall, deviceError } from "./lib/videocall.js";

const TOKEN_KEY = "lawline-terminal-token";

const term = {
  socket: null,    // the lib/socket.js Socket
  get ws() { return this.socket && this.socket.ws; },
  hello: null,
  service: "consultation",
  screen: "home",
  contactId: null,
  talked: false,   // a lawyer answered: the talk can be rated
  call: null,      // the VideoCall
  lawyerReady: false,
  rating: 0,      // 0: nothing chosen yet (a rating starts empty)
  rated: false,
  refused: false,
  tooMany: false,     // refused for too many sockets (4429): the message stays till hello
  waitMode: "queue",  // queue | nobody (no lawyer can answer now) | callback (one is booked)
  confirming: null,   // the open #confirm: {yes()}
};
window.lawlineTerminal = term;  // for the browser tests and for support staff

function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);  // not left on screen or in history
  }
  return localStorage.getItem(TOKEN_KEY) || "";
}

// ----- screens and the remote control ----------------------------------------------------

// Where the focus lands on each screen: never on something that cancels, hangs up or
// rates, since OK is what an anxious resident presses again and again.
const HARMLESS = { home: "call", waiting: "keep-waiting", talk: "hangup", message: "message-ok",
  rating: "stars", invite: "invite-accept" };

function show(name) {
  term.screen = name;
  term.confirming = null;
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${name}`;
  if (name === "waiting") { showWaitMode(term.waitMode, true); return; }
  if (name === "rating") startRating();
  $(HARMLESS[name]).focus();
}

// Leaving is a deliberate second step: a question with "stay" focused, "leave" beside it.
function askFirst(title, text, stay, leave, yes) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-no").textContent = stay;
  $("confirm-yes").textContent = leave;
  term.confirming = { yes, back: document.activeElement };
  $("confirm").hidden = false;
  $("confirm-no").focus();
}

function closeConfirm() {
  const back = term.confirming && term.confirming.back;
  term.confirming = null;
  $("confirm").hidden = true;
  if (back && back.isConnected && !back.hidden) back.focus(); else $(HARMLESS[term.screen]).focus();
}

function focusables() {
  const box = term.confirming ? $("confirm") : $(`screen-${term.screen}`);
  return box ? [...box.querySelectorAll("button.tv")].filter((b) => !b.hidden) : [];
}

// Arrow keys move between the big buttons in reading order; OK (Enter) presses.
document.addEventListener("keydown", (e) => {
  if (term.screen === "rating" && !term.confirming && ratingKey(e)) { e.preventDefault(); return; }
  const keys = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 };
  if (!(e.key in keys)) return;
  e.preventDefault();
  const list = focusables();
  if (!list.length) return;
  const at = list.indexOf(document.activeElement);
  const next = at < 0 ? (keys[e.key] > 0 ? 0 : list.length - 1) : (at + keys[e.key] + list.length) % list.length;
  list[next].focus();
});

function renderServices(services) {
  const pick = (service) => {
    term.service = service;
    renderServices(services);
  };
  draw($("services"), services.map((s) => html`<button class="tv" role="radio" data-service=${s}
    aria-checked=${String(s === term.service)} @click=${() => pick(s)}>${LABELS.service[s] || s}</button>`));
}

// ----- the rating: starts empty, each level says what it means, OK needs a choice ----------

const RATING_HINT = "按左右键选择，再按确认键提交";
const RATING_IDLE_MS = 120000;  // nobody rates: back to the start for the next resident
let ratingIdle = null;

function renderStars() {
  draw($("stars"), [1, 2, 3, 4, 5].map((n) => html`<button class="tv star" role="radio" data-score=${n}
    aria-label="${n} 星 ${LABELS.rating[n]}" aria-checked="false" tabindex="-1"
    @click=${() => rate(n)}>★<small>${LABELS.rating[n]}</small></button>`));
}

function startRating() {
  term.rating = 0;
  term.rated = false;
  chooseStar(0);
  $("rating-hint").textContent = RATING_HINT;
  idleRating();
}

function idleRating() {
  clearTimeout(ratingIdle);
  ratingIdle = setTimeout(() => { if (term.screen === "rating") show("home"); }, RATING_IDLE_MS);
}

function chooseStar(n) {
  term.rating = n;
  for (const b of $("stars").querySelectorAll("button")) {
    b.classList.toggle("lit", Number(b.dataset.score) <= n);
    b.setAttribute("aria-checked", String(Number(b.dataset.score) === n));
  }
  $("rating-choice").textContent = n ? `${n} 星：${LABELS.rating[n]}` : "未选择";
  const el = n ? $("stars").querySelector(`[data-score="${n}"]`) : $("stars");
  if (document.activeElement !== el) el.focus();
}

// The rating screen's keys: left/right choose a level (the first press lands in the middle,
// 一般, so neither end is a default), down/up go to 不评价 and back, OK with nothing chosen
// only asks for a choice. True when the key was handled here.
function ratingKey(e) {
  idleRating();
  const onSkip = document.activeElement === $("rating-skip");
  if (e.key === "ArrowDown") { $("rating-skip").focus(); return true; }
  if (e.key === "ArrowUp") { chooseStar(term.rating); return true; }
  if (term.rated) return true;  // sent: the thanks shows, then the start screen
  if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
    if (onSkip || !term.rating) { chooseStar(term.rating || 3); return true; }
    chooseStar(Math.min(5, Math.max(1, term.rating + (e.key === "ArrowRight" ? 1 : -1))));
    return true;
  }
  if (e.key === "Enter" && !onSkip && !term.rating) {
    $("rating-hint").textContent = "请先按左右键选择评价，再按确认键提交";
    return true;
  }
  return false;
}

function message(title, text) {
  $("message-title").textContent = title;
  $("message-text").textContent = text;
  show("message");
}

// ----- the websocket ----------------------------------------------------------------------

// A terminal lawline will not let in: said in the resident's words, no retrying, and no
// "reconnecting" line (the network is fine; the box needs the centre's staff).
function refuse(title) {
  term.refused = true;
  message(title, "请联系司法所工作人员处理。");
  $("message-ok").hidden = true;
  setLink(false, "", "");
}

// Refused for too many sockets (4429): other screens hold this box's or this address's
// share. The staff are asked to close them; the box tries again only after a long pause.
const TOO_MANY_RETRY_MS = 60_000;
function tooMany() {
  term.tooMany = true;
  message("终端画面打开过多", "请司法所工作人员关闭本机或同一网络中多余的终端画面，稍后将自动重新连接。");
  $("message-ok").hidden = true;
  setLink(false, "", "");
}

// The device token goes in the first frame, never in the URL (access logs keep URLs).
function connect(deviceToken) {
  term.socket = new Socket("/api/terminal/ws", {
    handlers,
    onOpen: (ws) => ws.send(JSON.stringify({ type: "auth", token: deviceToken })),
    onClose: (event) => {
      if (event.code === 4401 || event.code === 4403) {
        refuse(event.code === 4403 ? "此终端已停用" : "此终端尚未登记");
        return false;
      }
      if (event.code === 4429) { tooMany(); return TOO_MANY_RETRY_MS; }
      setLink(false, "", "网络连接中断，正在重连…");
      return true;
    },
  });
  term.socket.connect();
}

const send = (type, fields = {}) => Boolean(term.socket) && term.socket.send(type, fields);

setInterval(() => send("ping"), 10000);

const handlers = {
  // A mediator invites this box's resident into a mediation room. Offered only when the
  // box is free (not waiting, talking or rating); accepting opens the party's page.
  mediation_invite(f) {
    if (!["home", "message", "invite"].includes(term.screen)) return;
    term.invite = f.token;
    $("invite-who").textContent = `${f.name}（${LABELS.partyRole[f.role] || ""}），请按确认键加入`;
    show("invite");
  },
  hello(f) {
    term.hello = f;
    setLink(true, "", "");
    const wasTooMany = term.tooMany;
    if (wasTooMany) {
      term.tooMany = false;
      $("message-ok").hidden = false;
    }
    $("place").textContent = `${f.terminal.township} ${f.terminal.village} 法律服务室`;
    renderServices(f.services);
    if (f.call && f.call.state === "connected") {
      term.contactId = f.call.contact_id;
      startTalk(f.call.lawyer, f.call.callback);
    } else if (f.call) {
      term.contactId = f.call.contact_id;
      if (f.call.callback) term.waitMode = "callback";
      show("waiting");
    } else if (term.screen !== "rating" && (term.screen !== "message" || wasTooMany)) {
      show("home");
    }
  },
  waiting(f) {
    if (term.screen === "talk") {
      // A place computed just before the answer may arrive after it: only a hand-over
      // to another lawyer or queue ends the talk and waits again.
      if (!f.handed_on) return;
      endTalk();
    }
    term.contactId = f.contact_id;
    if (term.screen !== "waiting") show("waiting");
    if (f.handed_on) { showWaitMode("queue"); return; }
    const nobody = f.lawyers_on_duty === 0;  // the roster only picks the words below
    showWaitMode(f.callback ? "callback" : nobody ? "nobody" : "queue");
    $("nobody-title").textContent = f.hotline_open === false ? "现在不是值班时间" : "现在没有值班律师可以接听";
    $("duty-hours").textContent = `律师值班时间：${dutyHours(f.duty_hours || [])}`;
    $("position").textContent = f.position == null ? "…" : String(Math.max(0, f.position - 1));
    $("estimate").textContent = f.estimated_wait_s == null ? "请稍候"
      : f.estimated_wait_s < 60 ? "不到 1 分钟" : `约 ${Math.round(f.estimated_wait_s / 60)} 分钟`;
  },
  connected(f) {
    term.contactId = f.contact_id;
    startTalk(f.lawyer, f.callback);
  },
  signal(f) {
    if (f.kind === "ready") {
      term.lawyerReady = true;
      if (term.call && term.call.pc) {
        if (term.call.offered) restartCall(); else term.call.makeOffer();
      }
      return;
    }
    if (term.call) term.call.handle(f).catch(() => setStatus("视频连接出错，正在重试…"));
  },
  ended(f) {
    if (f.contact_id !== term.contactId) return;
    const failed = term.call && term.call.closed && term.screen === "message";
    endTalk();
    term.contactId = null;
    if (failed) return;  // the failure is on screen already
    if (term.talked) { term.talked = false; show("rating"); } else show("home");
  },
  result(f) {
    if (f.request === "rate") {
      $("rating-hint").textContent = f.ok ? "谢谢您的评价！" : "评价未能保存。";
      setTimeout(() => { if (term.screen === "rating") show("home"); }, 4000);
    }
    if (f.request === "call" && !f.ok) message("暂时无法呼叫", "请稍后再试，或联系司法所工作人员。");
    if (f.request === "callback" && !f.ok) {
      note("这台终端今天的预约回电次数已经用完，请您继续等待，律师会尽快接听。");
    }
  },
  pong() {},
  error(f) { console.warn("lawline:", f.message); },
};

// ----- the talk -----------------------------------------------------------------------------

function setStatus(text) { $("talk-status").textContent = text; }

function newCall() {
  const h = term.hello;
  return new VideoCall({
    role: "terminal",
    rtc: h.rtc,
    frameRate: h.media.frame_rate,
    iceTimeoutS: h.media.ice_timeout_s,
    videoStallS: h.media.video_stall_s,
    send: (signal) => send("signal", signal),
    status: setStatus,
    failed: (text) => {
      send("hangup");
      term.talked = false;
      message("视频连接失败", text);
    },
    localVideo: $("local-video"),
    remoteVideo: $("remote-video"),
  });
}

// Why the camera or microphone could not be opened, in the resident's words.
async function startTalk(lawyer, callback = false) {
  term.talked = true;
  $("lawyer-name").textContent = lawyer && lawyer.name ? `值班律师：${lawyer.name}` : "值班律师";
  setStatus(callback ? "值班律师给您回电了，正在接通视频…" : "正在接通视频…");
  if (callback && term.screen !== "talk") ring();
  show("talk");
  if (term.call) return;
  term.call = newCall();
  try {
    await term.call.start();
  } catch (e) {
    term.call.fail(`${deviceError(e)}，请联系司法所工作人员。`);
    return;
  }
  if (term.lawyerReady) term.call.makeOffer();
}

// The lawyer's browser is (again) ready, e.g. after a reload: a fresh connection.
async function restartCall() {
  if (!term.call) return;
  term.call.close();
  term.call = newCall();
  await term.call.start();
  term.call.makeOffer();
}

function endTalk() {
  if (term.call) term.call.close();
  term.call = null;
  term.lawyerReady = false;
  setStatus("");
}

// A lawyer rings the terminal back: a few tones so someone in the room comes to the TV.
// The page was pressed before (预约回电), so the browser lets it play sound.
function ring() {
  try {
    const ctx = new AudioContext();
    for (let i = 0; i < 6; i++) {
      const tone = ctx.createOscillator();
      const gain = ctx.createGain();
      tone.frequency.value = i % 2 ? 660 : 880;
      gain.gain.value = 0.2;
      tone.connect(gain).connect(ctx.destination);
      tone.start(ctx.currentTime + i * 0.4);
      tone.stop(ctx.currentTime + i * 0.4 + 0.3);
    }
    setTimeout(() => ctx.close(), 3000);
  } catch { /* no sound: the screen still says who is calling */ }
}

function rate(score) {
  if (term.rated) return;
  chooseStar(score);
  term.rated = true;
  send("rate", { score });
}

// ----- the waiting screen ---------------------------------------------------------------

const WAIT_BUTTONS = {
  queue: { keep: "继续等待", cancel: "不等了", focus: "keep-waiting" },
  nobody: { keep: "继续等待", cancel: "不等了", focus: "ask-callback" },
  callback: { keep: "好的", cancel: "取消回电", focus: "keep-waiting" },
};

// What the waiting screen says: the place and the wait, or plainly that no lawyer can
// answer now (with the duty hours and a callback), or that a callback is booked. The
// focus moves only when the mode changes, to that mode's harmless button.
function showWaitMode(mode, force = false) {
  const changed = mode !== term.waitMode;
  term.waitMode = mode;
  $("screen-waiting").dataset.mode = mode;
  $("waiting-queue").hidden = mode !== "queue";
  $("waiting-nobody").hidden = mode !== "nobody";
  $("waiting-callback").hidden = mode !== "callback";
  $("duty-hours").hidden = mode === "queue";
  $("ask-callback").hidden = mode !== "nobody";
  const b = WAIT_BUTTONS[mode];
  $("keep-waiting").textContent = b.keep;
  $("cancel").textContent = b.cancel;
  if (changed) $("waiting-note").hidden = true;
  if ((changed || force) && !term.confirming && term.screen === "waiting") $(b.focus).focus();
}

function note(text) {
  $("waiting-note").textContent = text;
  $("waiting-note").hidden = false;
}

const WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

// [{weekdays: [0..4], start: "08:30", end: "17:30"}] -> "周一至周五 08:30-17:30".
function dutyHours(shifts) {
  if (!shifts.length) return "请咨询司法所工作人员";
  return shifts.map((s) => `${weekdayRuns(s.weekdays)} ${s.start}-${s.end}`).join("；");
}

function weekdayRuns(days) {
  if (days.length === 7) return "每天";
  const runs = [];
  for (const d of days) {
    const last = runs[runs.length - 1];
    if (last && d === last[1] + 1) last[1] = d; else runs.push([d, d]);
  }
  return runs.map(([a, b]) => (a === b ? WEEKDAYS[a] : b === a + 1 ? `${WEEKDAYS[a]}、${WEEKDAYS[b]}`
    : `${WEEKDAYS[a]}至${WEEKDAYS[b]}`)).join("、");
}

// ----- buttons ----------------------------------------------------------------------------

$("call").onclick = () => {
  term.waitMode = "queue";
  if (send("call", { service: term.service })) show("waiting");
};
$("keep-waiting").onclick = () => note(term.waitMode === "callback"
  ? "好的。律师有空时会呼叫这台电视。" : "好的，请您继续等待，律师接听后会自动开始视频。");
$("ask-callback").onclick = () => send("callback");
$("cancel").onclick = () => {
  const callback = term.waitMode === "callback";
  askFirst(callback ? "要取消预约回电吗？" : "确定不等了吗？",
    callback ? "取消后律师不会再呼叫这台电视。" : "离开后需要重新排队。",
    callback ? "保留回电" : "继续等待", callback ? "取消回电" : "不等了", () => {
      send("cancel");
      show("home");
    });
};
$("hangup").onclick = () => askFirst("要结束通话吗？", "结束后不能回到这次通话。",
  "继续通话", "挂断", () => send("hangup"));
$("confirm-no").onclick = () => closeConfirm();
$("confirm-yes").onclick = () => {
  const yes = term.confirming && term.confirming.yes;
  closeConfirm();
  if (yes) yes();
};
$("rating-skip").onclick = () => show("home");
$("message-ok").onclick = () => show("home");
$("invite-accept").onclick = () => {
  location.href = `/mediation/join?from=terminal#${term.invite}`;
};
$("invite-decline").onclick = () => { term.invite = null; show("home"); };

renderStars();
const deviceToken = token();
if (deviceToken) {
  show("home");
  connect(deviceToken);
} else {
  refuse("此终端尚未登记");
}
