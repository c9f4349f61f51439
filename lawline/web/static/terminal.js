// The village video terminal: one big button to a duty lawyer, face to face.
// Driven by a TV remote (arrow keys and OK) or by touch. The device token is given
// once as /terminal#token=... and kept in the box's storage.
import { $, draw, html, setLink } from "./lib/dom.js";
import { LABELS } from "./lib/labels.js";
import { Socket } from "./lib/socket.js";
import { VideoCall } from "./lib/videocall.js";

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
  rating: 0,
  refused: false,
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

function show(name) {
  term.screen = name;
  for (const s of document.querySelectorAll(".screen")) s.hidden = s.id !== `screen-${name}`;
  const first = { home: "call", waiting: "cancel", talk: "hangup", message: "message-ok" }[name];
  if (first) $(first).focus();
  if (name === "rating") focusStar(term.rating || 5);
}

function focusables() {
  const screen = $(`screen-${term.screen}`);
  return screen ? [...screen.querySelectorAll("button.tv")].filter((b) => !b.hidden) : [];
}

// Arrow keys move between the big buttons in reading order; OK (Enter) presses.
document.addEventListener("keydown", (e) => {
  const keys = { ArrowLeft: -1, ArrowUp: -1, ArrowRight: 1, ArrowDown: 1 };
  if (!(e.key in keys)) return;
  e.preventDefault();
  if (term.screen === "rating") { focusStar(Math.min(5, Math.max(1, term.rating + keys[e.key]))); return; }
  const list = focusables();
  if (!list.length) return;
  const at = list.indexOf(document.activeElement);
  list[(at + keys[e.key] + list.length) % list.length].focus();
});

function renderServices(services) {
  const pick = (service) => {
    term.service = service;
    renderServices(services);
  };
  draw($("services"), services.map((s) => html`<button class="tv" role="radio" data-service=${s}
    aria-checked=${String(s === term.service)} @click=${() => pick(s)}>${LABELS.service[s] || s}</button>`));
}

function renderStars() {
  draw($("stars"), [1, 2, 3, 4, 5].map((n) => html`<button class="tv" data-score=${n} aria-label="${n} 星"
    @click=${() => rate(n)} @focus=${() => focusStar(n)}>★</button>`));
}

function focusStar(n) {
  term.rating = n;
  for (const b of $("stars").querySelectorAll("button")) {
    b.classList.toggle("lit", Number(b.dataset.score) <= n);
    b.setAttribute("aria-checked", String(Number(b.dataset.score) === n));
  }
  const el = $("stars").querySelector(`[data-score="${n}"]`);
  if (el && document.activeElement !== el) el.focus();
}

function message(title, text) {
  $("message-title").textContent = title;
  $("message-text").textContent = text;
  show("message");
}

// ----- the websocket ----------------------------------------------------------------------

// The device token goes in the first frame, never in the URL (access logs keep URLs).
function connect() {
  term.socket = new Socket("/api/terminal/ws", {
    handlers,
    onOpen: (ws) => {
      ws.send(JSON.stringify({ type: "auth", token: token() }));
      setLink(true, "", "网络连接中断，正在重连…");
    },
    onClose: (event) => {
      setLink(false, "", "网络连接中断，正在重连…");
      if (event.code === 4401 || event.code === 4403) {
        term.refused = true;
        const why = event.code === 4403 ? "此终端已停用" : "此终端尚未登记";
        message(why, `${event.reason || ""}。请联系司法所工作人员。`);
        $("message-ok").hidden = true;
        return false;
      }
      return true;
    },
  });
  term.socket.connect();
}

const send = (type, fields = {}) => Boolean(term.socket) && term.socket.send(type, fields);

setInterval(() => send("ping"), 10000);

const handlers = {
  hello(f) {
    term.hello = f;
    $("place").textContent = `${f.terminal.township} ${f.terminal.village} 法律服务室`;
    renderServices(f.services);
    if (f.call && f.call.state === "connected") {
      term.contactId = f.call.contact_id;
      startTalk(f.call.lawyer);
    } else if (f.call) {
      term.contactId = f.call.contact_id;
      show("waiting");
    } else if (term.screen !== "rating" && term.screen !== "message") {
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
    $("position").textContent = f.position == null ? "…" : String(Math.max(0, f.position - 1));
    $("estimate").textContent = f.estimated_wait_s == null ? "请稍候"
      : f.estimated_wait_s < 60 ? "不到 1 分钟" : `约 ${Math.round(f.estimated_wait_s / 60)} 分钟`;
  },
  connected(f) {
    term.contactId = f.contact_id;
    startTalk(f.lawyer);
  },
  signal(f) {
    if (f.kind === "ready") {
      term.lawyerReady = true;
      if (term.call && term.call.pc) {
        if (term.call.offered) restartCall(); else term.call.makeOffer();
      }
      return;
    }
    if (term.call) term.call.handle(f).catch((e) => setStatus(`连接出错：${e}`));
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
    if (f.request === "call" && !f.ok) message("暂时无法呼叫", f.message);
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

async function startTalk(lawyer) {
  term.talked = true;
  $("lawyer-name").textContent = lawyer && lawyer.name ? `值班律师：${lawyer.name}` : "值班律师";
  setStatus("正在接通视频…");
  show("talk");
  if (term.call) return;
  term.call = newCall();
  try {
    await term.call.start();
  } catch (e) {
    term.call.fail(`无法使用摄像头和麦克风：${e.name || e}`);
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

function rate(score) {
  focusStar(score);
  send("rate", { score });
}

$("call").onclick = () => { if (send("call", { service: term.service })) show("waiting"); };
$("cancel").onclick = () => { send("cancel"); show("home"); };
$("hangup").onclick = () => send("hangup");
$("message-ok").onclick = () => show("home");

renderStars();
show("home");
connect();
