// Listening in on live phone calls from the supervisors' page: the calls in progress
// (lawyers talking, from /api/lawyers), and per call 旁听 (listen: hear both sides),
// 指导 (whisper: the lawyer alone hears you), 加入 (barge: both hear you), 停止.
// The browser's audio goes to the call's room on the media server (muting is done
// there, so the microphone stays on); whisper adds a second connection to the call's
// coach room. Frames: lawline/web/monitor.py.
import { $, draw, html, toast } from "./lib/dom.js";
import { iceComplete } from "./lib/ice.js";

const MODES = { listen: "旁听中", whisper: "指导中", barge: "已加入通话" };
const watch = { id: null, mode: null, pc: null, coachPc: null, want: null };
let socket = null;
let calls = [];

export function startMonitoring(sock) {
  socket = sock;
  refreshCalls();
  refreshRooms();
  setInterval(() => { refreshCalls(); refreshRooms(); }, 5000);
}

// ----- mediation rooms: who is in, since when; 旁听 hears the room, unheard ------------

const roomWatch = { id: null, pc: null };
let rooms = [];

async function refreshRooms() {
  const r = await fetch("/api/mediation/rooms");
  if (!r.ok) return;
  rooms = await r.json();
  renderRooms();
}

function renderRooms() {
  $("no-rooms").hidden = rooms.length > 0;
  const since = (t) => `${Math.max(0, Math.round((Date.now() / 1000 - t) / 60))} 分钟`;
  draw($("rooms"), html`${rooms.map((room) => html`<li data-case=${room.case_id}>
    <strong>${room.case_id}</strong> · 已进行 ${since(room.opened_at)}
    ${room.caucus ? " · 背靠背中" : ""} · ${room.participants.filter((p) => p.present)
      .map((p) => p.name).join("、") || "无人在线"}
    <span class="row">${roomWatch.id === room.case_id
      ? html`<em>旁听中</em><button @click=${stopRoom}>停止</button>`
      : html`<button @click=${() => listenRoom(room.case_id)}>旁听</button>`}</span></li>`)}`);
}

async function listenRoom(caseId) {
  stopRoom();
  const pc = await newPc();
  if (!pc) return;
  pc.ontrack = (event) => {
    $("room-listen-audio").srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  Object.assign(roomWatch, { id: caseId, pc });
  socket.send("room_listen", { case_id: caseId, sdp: pc.localDescription.sdp });
  renderRooms();
}

function stopRoom() {
  if (roomWatch.id) socket.send("room_listen_stop", { case_id: roomWatch.id });
  if (roomWatch.pc) roomWatch.pc.close();
  Object.assign(roomWatch, { id: null, pc: null });
  $("room-listen-audio").srcObject = null;
  renderRooms();
}

export const monitorHandlers = {
  monitor_answer(f) { answered(watch.pc, f); if (watch.want === "whisper") coach(); },
  coach_answer(f) {
    answered(watch.coachPc, f);
    if (watch.want === "whisper" && watch.mode !== "whisper") setMode("whisper");
  },
  room_listen_answer(f) {
    if (roomWatch.pc && f.case_id === roomWatch.id) {
      roomWatch.pc.setRemoteDescription({ type: "answer", sdp: f.sdp }).catch((e) => console.warn(e));
    }
  },
  // The media server restarted and the room was made anew: listen again.
  room_listen_lost(f) { if (f.case_id === roomWatch.id) listenRoom(f.case_id); },
  monitor_ended(f) { if (f.contact_id === watch.id) { closeAll(); toast("所监听的通话已结束。"); } },
  result(f) {
    if (f.request === "room_listen" && !f.ok) { toast(`旁听未成功：${f.message}`); stopRoom(); return; }
    if (!String(f.request).startsWith("monitor") && f.request !== "coach_offer") return;
    if (!f.ok) { toast(`操作未成功：${f.message}`); if (f.request === "monitor_offer") closeAll(); }
  },
};

async function refreshCalls() {
  const r = await fetch("/api/lawyers");
  if (!r.ok) return;
  calls = (await r.json()).filter((lw) => lw.talking);
  render();
}

function render() {
  $("no-calls").hidden = calls.length > 0;
  draw($("calls"), html`${calls.map((lw) => html`<li>
    <strong>${lw.name || lw.id}</strong> · 来电 ${lw.talking}
    ${watch.id === lw.talking ? html` · <em>${MODES[watch.mode] || "正在接通…"}</em>` : ""}
    <span class="row">
      <button @click=${() => choose(lw.talking, "listen")}>旁听</button>
      <button @click=${() => choose(lw.talking, "whisper")}>指导</button>
      <button @click=${() => choose(lw.talking, "barge")}>加入通话</button>
      ${watch.id === lw.talking ? html`<button @click=${stop}>停止</button>` : ""}
    </span></li>`)}`);
}

async function choose(contactId, mode) {
  watch.want = mode;
  if (watch.id !== contactId) {
    if (watch.id) stop();
    watch.id = contactId;
    const pc = await newPc();
    if (!pc) { watch.id = null; return; }
    watch.pc = pc;
    watch.mode = mode;
    socket.send("monitor_offer", { contact_id: contactId, mode, sdp: pc.localDescription.sdp });
  } else if (mode === "whisper" && !watch.coachPc) {
    coach();  // the coach connection first; its answer switches the mode
  } else {
    setMode(mode);
  }
  render();
}

function setMode(mode) {
  watch.mode = mode;
  socket.send("monitor_mode", { contact_id: watch.id, mode });
  render();
}

async function coach() {
  const pc = await newPc();
  if (!pc || !watch.id) return;
  watch.coachPc = pc;
  socket.send("coach_offer", { contact_id: watch.id, sdp: pc.localDescription.sdp });
}

function stop() {
  if (watch.id) socket.send("monitor_stop", { contact_id: watch.id });
  closeAll();
}

function closeAll() {
  for (const pc of [watch.pc, watch.coachPc]) if (pc) pc.close();
  Object.assign(watch, { id: null, mode: null, pc: null, coachPc: null, want: null });
  $("monitor-audio").srcObject = null;
  render();
}

function answered(pc, f) {
  if (pc && f.contact_id === watch.id) {
    pc.setRemoteDescription({ type: "answer", sdp: f.sdp }).catch((e) => console.warn(e));
  }
}

// A connection with the microphone and its complete offer; null without a microphone.
async function newPc() {
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true } });
  } catch {
    toast("无法使用麦克风，请检查浏览器权限。");
    return null;
  }
  const pc = new RTCPeerConnection(window.LAWLINE_RTC_CONFIG || { iceServers: [] });
  for (const track of stream.getAudioTracks()) pc.addTrack(track, stream);
  pc.ontrack = (event) => {
    // The call's room: what the supervisor hears (the coach room sends nothing back
    // worth playing: only the supervisor speaks there).
    if (pc === watch.pc) $("monitor-audio").srcObject = event.streams[0] || new MediaStream([event.track]);
  };
  await pc.setLocalDescription(await pc.createOffer());
  await iceComplete(pc);
  return pc;
}
