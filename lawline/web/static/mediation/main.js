// The mediator's page: their mediations still to hold, and the room of the one opened:
// the parties' links, who is in, 静音 / 背靠背 / 移出 per party, 锁定, 结束调解.
// Frames: lawline/web/mediation_room.py.
import { $, draw, html, setLink, toast } from "../lib/dom.js";
import { LABELS } from "../lib/labels.js";
import { Socket } from "../lib/socket.js";
import { answered, closeAudio, connectAudio, room, seatLine } from "./room.js";

const page = { caseId: null, locked: false, caucus: false, rtc: null };
window.lawlineMediation = room;  // the tests read the room's audio here

const socket = new Socket("/api/mediation/ws", {
  handlers: {
    room: opened,
    answer: (f) => answered(f.sdp),
    participants: showSeats,
    result,
  },
  onOpen: () => {
    setLink(true, "已连接", "连接中断，正在重连…");
    if (page.caseId) socket.send("room_open", { case_id: page.caseId });  // back after a drop
  },
  onClose: (event) => {
    setLink(false, "已连接", "连接中断，正在重连…");
    if (event.code === 4401) { location.href = "/login"; return false; }
    return true;
  },
});

async function listMediations() {
  const r = await fetch("/api/mediations?state=scheduled");
  if (r.status === 401) { location.href = "/login"; return; }
  if (!r.ok) { toast("无法读取调解案件。"); return; }
  const items = await r.json();
  $("none").hidden = items.length > 0;
  draw($("mediations"), html`${items.map((m) => html`<li data-case=${m.id}>
    <strong>${m.citizen_name || m.id}</strong> · ${LABELS.domain[m.domain] || ""} · ${m.summary}
    <span class="row"><button class="primary" @click=${() => openRoom(m)}>开启调解室</button></span>
    </li>`)}`);
}

function openRoom(m) {
  page.caseId = m.id;
  $("room-title").textContent = `调解室 · ${m.citizen_name || m.id}`;
  $("room-card").hidden = false;
  socket.send("room_open", { case_id: m.id });
}

async function opened(f) {
  if (f.case_id !== page.caseId) return;
  const base = `${location.origin}/mediation/join#`;
  draw($("links"), html`${f.links.map((l) => html`<li data-who=${l.who}>
    ${l.name}（${LABELS.partyRole[l.role] || ""}）：<input readonly size="60"
      value=${base + l.token} @focus=${(e) => e.target.select()}></li>`)}`);
  const pc = await connectAudio(page.rtc);
  if (!pc) { toast("无法使用麦克风，请检查浏览器权限。"); return; }
  socket.send("offer", { case_id: page.caseId, sdp: pc.localDescription.sdp });
}

function showSeats(f) {
  if (f.case_id !== page.caseId) return;
  page.locked = f.locked;
  $("lock").setAttribute("aria-pressed", String(f.locked));
  $("lock").textContent = f.locked ? "解除锁定" : "锁定调解室";
  $("room-state").textContent = f.locked ? "· 已锁定：新的当事人不能加入" : "";
  page.caucus = f.caucus;
  $("listening").hidden = !f.listeners;
  $("end-caucus").hidden = !f.caucus;
  draw($("participants"), html`${f.participants.map((p) => seatLine(p, controls))}`);
}

function controls(p) {
  if (p.role === "mediator") return "";
  return html`<span class="row">
    <button @click=${() => socket.send("mute", { case_id: page.caseId, who: p.who, muted: !p.muted })}>
      ${p.muted ? "取消静音" : "静音"}</button>
    <button @click=${() => socket.send("caucus", { case_id: page.caseId, who: [p.who] })}
      ?disabled=${!p.joined || page.caucus}>背靠背</button>
    <button @click=${() => socket.send("remove", { case_id: page.caseId, who: p.who })}
      ?disabled=${!p.present}>移出</button></span>`;
}

function result(f) {
  if (!f.ok) toast(`操作未成功：${f.message}`);
  if (f.request === "room_close" && f.ok) {
    closeAudio();
    page.caseId = null;
    $("room-card").hidden = true;
    listMediations();
  }
}

$("lock").addEventListener("click", () => {
  socket.send("lock", { case_id: page.caseId, locked: !page.locked });
});
$("end-caucus").addEventListener("click", () => {
  socket.send("caucus_end", { case_id: page.caseId });
});
$("close-room").addEventListener("click", () => {
  if (confirm("结束调解并关闭调解室？所有当事人将离开。")) socket.send("room_close", { case_id: page.caseId });
});

async function start() {
  const r = await fetch("/api/webrtc/config");
  if (r.ok) page.rtc = await r.json();
  await listMediations();
  socket.connect();
}
start();
