// A party's page, opened from the link the mediator gave them (/mediation/join#TOKEN):
// one big button, then they are in the room: they hear everyone, everyone hears them.
// The token goes in the socket's first frame, never in a URL the server logs.
import { $, draw, html } from "../lib/dom.js";
import { LABELS } from "../lib/labels.js";
import { Socket } from "../lib/socket.js";
import { answered, closeAudio, connectAudio, room, seatLine, withSpeaking } from "./room.js";
import { closeVideo, connectCamera, framesFrom, published, showTiles, video, watchOffer }
  from "./video.js";

const token = location.hash.slice(1);
// Opened from a village terminal's invitation: the button was pressed there already, and
// the box goes back to its home screen when the mediation ends.
const fromTerminal = new URLSearchParams(location.search).get("from") === "terminal";
const ENDED = {
  removed: "调解员已请您离开调解室。", closed: "调解已结束，谢谢您的参与。",
  replaced: "您已在另一台设备上加入调解。",
};
const CLOSED = {
  4401: "这个链接无效或已过期，请联系调解员。", 4404: "这个链接已失效，请联系调解员。",
};
let rtc = null;
let over = false;
let me = null;
let seats = null;  // the last `participants` frame
window.lawlineParty = room;  // the tests read the room's audio here
window.lawlineVideo = { video, framesFrom };  // and its video here

const status = (text) => { $("status").textContent = text; };

const socket = new Socket("/api/mediation/party/ws", {
  handlers: {
    joined: async (f) => {
      rtc = f.rtc || null;
      me = f.who;
      $("who").textContent = `${f.name}（${LABELS.partyRole[f.role] || ""}）`;
      await offerAudio();
    },
    // The media server restarted: the room is back, join it again (audio, then camera).
    reoffer: () => { closeVideo(); offerAudio(); },
    answer: (f) => {
      answered(f.sdp);
      status("已加入调解，请讲话。");
      $("room-level").hidden = false;
      if (!video.camera) offerCamera();
    },
    published: (f) => published(f.sdp),
    watch: (f) => watchOffer(f, rtc, (sdp) => socket.send("watching", { sdp })),
    speaking: (f) => { const changed = withSpeaking(seats, f); if (changed) showSeats(changed); },
    participants: (f) => showSeats(f),
    // Captions, when the mediator turned them on: the last line said, large.
    transcript: (f) => {
      if (f.kind !== "final") return;
      $("caption").textContent = `${f.speaker}：${f.text}`;
      $("caption").hidden = false;
    },
    removed: () => end("removed"),
    closed: () => end("closed"),
    replaced: () => end("replaced"),
  },
  onOpen: (ws) => ws.send(JSON.stringify({ type: "hello", token })),
  onClose: (event) => {
    if (over) return false;
    if (CLOSED[event.code]) { status(CLOSED[event.code]); return false; }
    closeAudio();
    closeVideo();
    if (event.code === 4409) { status(event.reason || "调解尚未开始，请稍候…"); return 5000; }
    status("连接中断，正在重新加入…");
    return true;
  },
});

// Who is in the room: the list, the tiles, and this party's own state in a caucus.
function showSeats(f) {
  seats = f;
  draw($("participants"), html`${f.participants.map((p) => seatLine(p))}`);
  showTiles(f.participants, me);
  if (!f.captions) $("caption").hidden = true;
  const mine = f.participants.find((p) => p.who === me);
  if (mine && mine.joined) {
    status(f.caucus && !mine.caucus
      ? "调解员正在与另一方单独谈话（背靠背），请稍候。"
      : f.caucus ? "背靠背调解：现在只有您和调解员在谈话。" : "已加入调解，请讲话。");
  }
}

// The party's camera, once their audio is in (without a camera they take part by voice).
async function offerCamera() {
  const pc = await connectCamera(rtc);
  if (pc) socket.send("publish", { sdp: pc.localDescription.sdp });
}

async function offerAudio() {
  status("正在接通…");
  const pc = await connectAudio(rtc);
  if (!pc) { status("无法使用麦克风，请允许浏览器使用麦克风后重试。"); return; }
  socket.send("offer", { sdp: pc.localDescription.sdp });
}

function end(why) {
  over = true;
  closeAudio();
  closeVideo();
  status(ENDED[why]);
  $("join").hidden = true;
  if (fromTerminal) setTimeout(() => { location.href = "/terminal"; }, 8000);
}

function join() {
  $("join").hidden = true;
  status("正在加入…");
  socket.connect();
}

$("join").addEventListener("click", join);
if (!token) { status("链接不完整，请联系调解员。"); $("join").hidden = true; }
else if (fromTerminal) join();
