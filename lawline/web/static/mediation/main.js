// The mediator's page: their mediations still to hold, and the room of the one opened:
// the parties' links, who is in, 静音 / 背靠背 / 移出 per party, 锁定, 结束调解.
// Frames: lawline/web/mediation_room.py.
import { $, draw, fillSelect, html, setLink, toast } from "../lib/dom.js";
import { LABELS } from "../lib/labels.js";
import { Socket } from "../lib/socket.js";
import { answered, closeAudio, connectAudio, room, seatLine, withSpeaking } from "./room.js";
import { closeVideo, connectCamera, framesFrom, published, showTiles, video, watchOffer }
  from "./video.js";

const page = { caseId: null, locked: false, caucus: false, rtc: null, seats: null, basis: [] };
window.lawlineMediation = room;  // the tests read the room's audio here
window.lawlineVideo = { video, framesFrom };  // and its video here

const socket = new Socket("/api/mediation/ws", {
  handlers: {
    room: opened,
    answer: (f) => { answered(f.sdp); if (!video.camera) offerCamera(); },
    published: (f) => published(f.sdp),
    watch: (f) => {
      if (f.case_id !== page.caseId) return;
      watchOffer(f, page.rtc, (sdp) => socket.send("watching", { case_id: page.caseId, sdp }));
    },
    participants: showSeats,
    speaking: (f) => { const changed = withSpeaking(page.seats, f); if (changed) showSeats(changed); },
    transcript: showLine,
    hints: showHints,
    hint_pinned: pinned,
    result,
    // The media server restarted: the room is back, join it again (audio, then camera).
    reoffer: () => { closeVideo(); offerAudio(); },
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
    <span class="row"><button class="primary" @click=${() => openRoom(m)}>开启调解室</button>
      <button @click=${() => showOutcome(m.id, m.citizen_name)}>记录结果</button></span>
    </li>`)}`);
}

// ----- a new mediation: the dispute and its parties ----------------------------------------

const parties = [{ role: "applicant", reach: "phone" }, { role: "respondent", reach: "link" }];

function drawParties() {
  const field = (i, key) => (e) => { parties[i][key] = e.target.value; drawParties(); };
  draw($("new-parties"), html`${parties.map((p, i) => html`<li class="row" data-party=${i}>
    <input placeholder="姓名" maxlength="50" .value=${p.name || ""} @change=${field(i, "name")}>
    <select @change=${field(i, "role")}>${Object.entries(LABELS.partyRole)
      .filter(([k]) => k !== "mediator")
      .map(([k, v]) => html`<option value=${k} ?selected=${p.role === k}>${v}</option>`)}</select>
    <select @change=${field(i, "reach")}>${Object.entries(LABELS.reach)
      .filter(([k]) => k !== "console")
      .map(([k, v]) => html`<option value=${k} ?selected=${p.reach === k}>${v}</option>`)}</select>
    ${p.reach === "phone" ? html`<input placeholder="电话号码" maxlength="32" inputmode="tel"
      .value=${p.phone || ""} @change=${field(i, "phone")}>` : ""}
    ${p.reach === "terminal" ? html`<input placeholder="终端编号" maxlength="64"
      .value=${p.terminal_id || ""} @change=${field(i, "terminal_id")}>` : ""}
    ${parties.length > 2 ? html`<button type="button" class="quiet"
      @click=${() => { parties.splice(i, 1); drawParties(); }}>删除</button>` : ""}</li>`)}`);
}

async function createMediation(event) {
  event.preventDefault();
  const at = $("new-at").value;
  const body = {
    domain: $("new-domain").value || null,
    summary: $("new-summary").value.trim(),
    scheduled_at: at ? new Date(at).toISOString() : null,
    parties: parties.map((p) => ({
      name: (p.name || "").trim(), role: p.role, reach: p.reach,
      phone: p.reach === "phone" ? (p.phone || "").trim() : "",
      terminal_id: p.reach === "terminal" ? (p.terminal_id || "").trim() : "",
    })),
  };
  const r = await fetch("/api/mediations", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!r.ok) { toast(`未能建立：${await problem(r)}`); return; }
  toast("调解案件已建立。");
  $("new-mediation").reset();
  parties.splice(0, parties.length, { role: "applicant", reach: "phone" }, { role: "respondent", reach: "link" });
  drawParties();
  await listMediations();
}

// What went wrong, in a line of Chinese: the server's message, or which value was refused.
const FIELDS = {
  name: "姓名", phone: "电话号码", terminal_id: "终端编号", address: "住址", role: "身份",
  reach: "参与方式", summary: "纠纷简述", domain: "纠纷类型", scheduled_at: "调解时间",
  facts: "纠纷主要事实", text: "协议内容", how: "履行方式", by: "履行期限", outcome: "结果",
};
function refused(d) {
  const loc = (d.loc || []).slice(1);
  const at = loc.indexOf("parties") >= 0 && typeof loc[loc.indexOf("parties") + 1] === "number"
    ? `第 ${loc[loc.indexOf("parties") + 1] + 1} 位当事人的` : "";
  const field = loc[loc.length - 1];
  if (field === "parties") return "当事人应为 2 至 7 位";
  if (d.type === "string_too_short" || d.type === "missing") return `请填写${at}${FIELDS[field] || "必填项"}`;
  if (d.type === "string_too_long") return `${at}${FIELDS[field] || "内容"}太长`;
  return `${at}${FIELDS[field] || "内容"}填写有误`;
}
async function problem(r) {
  const body = await r.json().catch(() => ({}));
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) return body.detail.map(refused).join("；");
  return `请求未成功（${r.status}）`;
}

// ----- the end: outcome, facts and terms; then the agreement to print ------------------------

const terms = [{}];
let outcomeCase = null;

function drawTerms() {
  const field = (i, key) => (e) => { terms[i][key] = e.target.value; };
  draw($("terms"), html`${terms.map((t, i) => html`<li class="row" data-term=${i}>
    <input placeholder="协议内容" maxlength="2000" .value=${t.text || ""} @change=${field(i, "text")}>
    <input placeholder="履行方式" maxlength="500" .value=${t.how || ""} @change=${field(i, "how")}>
    <input placeholder="履行期限" maxlength="100" .value=${t.by || ""} @change=${field(i, "by")}></li>`)}`);
}

// The room's live transcript: each final line under its speaker; who is talking now.
function showLine(f) {
  if (f.case_id !== page.caseId) return;
  if (f.kind === "final") {
    const li = document.createElement("li");
    li.dataset.side = f.side;
    li.textContent = `${f.speaker}：${f.text}`;
    $("room-transcript").append(li);
    $("room-speaking").textContent = "";
  } else if (f.kind === "partial" || f.kind === "listening") {
    $("room-speaking").textContent = `${f.speaker}正在发言${f.text ? `：${f.text}` : "…"}`;
  }
}

// 法条提示: the articles the parties' words turn on (lawline's own transcript searched);
// one kept (作为调解依据) is the agreement's legal basis.
function showHints(f) {
  if (f.case_id !== page.caseId) return;
  const pin = (h) => socket.send("hint_pin", { case_id: page.caseId, law: h.law, article: h.article });
  draw($("room-hints"), html`${f.hints.map((h) => html`<li class="hint" data-citation=${h.citation}>
    <details><summary><strong>${h.citation}</strong> ${h.text.slice(0, 40)}…</summary>
      <p class="article-text">${h.title}${h.chapter ? ` · ${h.chapter}` : ""}</p>
      <p class="article-text">${h.text}</p></details>
    <button class="pin" @click=${() => pin(h)}>作为调解依据</button></li>`)}`);
}

function pinned(f) {
  if (f.case_id !== page.caseId) return;
  page.basis = [...new Set([...page.basis, f.citation])];
  $("room-basis").textContent = page.basis.length ? `调解依据：${page.basis.join("、")}` : "";
  toast(`已将${f.citation}列为调解依据。`);
}

async function showRecord(caseId) {
  const r = await fetch(`/api/mediations/${encodeURIComponent(caseId)}`);
  const m = r.ok ? await r.json() : {};
  const lines = m.record || [];
  $("outcome-basis").textContent = (m.basis || []).length
    ? `调解依据（写入协议书）：${m.basis.join("、")}` : "";
  draw($("record-lines"), html`${lines.map((l) => html`<li data-side=${l.side}>
    ${l.speaker}：${l.text}</li>`)}`);
  $("record").hidden = !lines.length;
}

function showOutcome(caseId, name) {
  outcomeCase = caseId;
  showRecord(caseId);
  terms.splice(0, terms.length, {});
  drawTerms();
  $("outcome-form").reset();
  $("agreement").hidden = true;
  $("outcome-title").textContent = `调解结果 · ${name || caseId}`;
  $("outcome-card").hidden = false;
  $("outcome-card").scrollIntoView();
}

async function saveOutcome(event) {
  event.preventDefault();
  const outcome = $("outcome").value;
  const body = {
    outcome,
    facts: $("facts").value.trim(),
    oral: $("oral").checked,
    terms: outcome === "none" ? [] : terms.filter((t) => (t.text || "").trim())
      .map((t) => ({ text: t.text.trim(), how: (t.how || "").trim(), by: (t.by || "").trim() })),
  };
  const r = await fetch(`/api/mediations/${encodeURIComponent(outcomeCase)}/outcome`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  if (!r.ok) { toast(`未能保存：${await problem(r)}`); return; }
  toast("调解结果已保存，案件已结案。");
  if (outcome !== "none") {
    const base = `/api/mediations/${encodeURIComponent(outcomeCase)}/agreement`;
    $("agreement-docx").href = `${base}.docx`;
    $("agreement-pdf").href = `${base}.pdf`;
    $("agreement").hidden = false;
  }
  await listMediations();
}

function openRoom(m) {
  page.caseId = m.id;
  $("room-title").textContent = `调解室 · ${m.citizen_name || m.id}`;
  $("room-card").hidden = false;
  $("room-transcript").replaceChildren();
  $("room-hints").replaceChildren();
  page.basis = [];
  $("room-basis").textContent = "";
  socket.send("room_open", { case_id: m.id });
}

async function opened(f) {
  if (f.case_id !== page.caseId) return;
  const base = `${location.origin}/mediation/join#`;
  draw($("links"), html`${f.links.map((l) => html`<li data-who=${l.who}>
    ${l.name}（${LABELS.partyRole[l.role] || ""}）：<input readonly size="60"
      value=${base + l.token} @focus=${(e) => e.target.select()}>
    ${f.dial_in && l.pin ? html`<span class="dial-in">电话入会：拨打12348按0，
      调解室号 <strong>${f.dial_in}</strong>，密码 <strong>${l.pin}</strong></span>` : ""}</li>`)}`);
  await offerAudio();
}

async function offerAudio() {
  if (!page.caseId) return;
  const pc = await connectAudio(page.rtc);
  if (!pc) { toast("无法使用麦克风，请检查浏览器权限。"); return; }
  socket.send("offer", { case_id: page.caseId, sdp: pc.localDescription.sdp });
}

// The mediator's camera, once their audio is in (without a camera the room goes on).
async function offerCamera() {
  const pc = await connectCamera(page.rtc);
  if (pc && page.caseId) socket.send("publish", { case_id: page.caseId, sdp: pc.localDescription.sdp });
}

function showSeats(f) {
  if (f.case_id !== page.caseId) return;
  page.seats = f;
  page.locked = f.locked;
  $("lock").setAttribute("aria-pressed", String(f.locked));
  $("lock").textContent = f.locked ? "解除锁定" : "锁定调解室";
  $("room-state").textContent = f.locked ? "· 已锁定：新的当事人不能加入" : "";
  page.caucus = f.caucus;
  page.captions = f.captions;
  $("captions").setAttribute("aria-pressed", String(f.captions));
  $("captions").textContent = f.captions ? "关闭当事人字幕" : "当事人屏幕显示字幕";
  $("listening").hidden = !f.listeners;
  $("end-caucus").hidden = !f.caucus;
  draw($("participants"), html`${f.participants.map((p) => seatLine(p, controls))}`);
  showTiles(f.participants, "mediator");
}

const DIALLING = new Set(["calling", "ringing", "answered", "joining"]);

function controls(p) {
  if (p.role === "mediator") return "";
  return html`<span class="row">
    ${p.reach === "phone" ? html`<button class="dial"
      @click=${() => socket.send("dial", { case_id: page.caseId, who: p.who })}
      ?disabled=${p.present || DIALLING.has(p.dial)}>呼叫电话</button>` : ""}
    ${p.reach === "terminal" ? html`<button class="ring"
      @click=${() => socket.send("ring", { case_id: page.caseId, who: p.who })}
      ?disabled=${p.present}>邀请村终端</button>` : ""}
    <button @click=${() => socket.send("mute", { case_id: page.caseId, who: p.who, muted: !p.muted })}>
      ${p.muted ? "取消静音" : "静音"}</button>
    <button @click=${() => socket.send("caucus", { case_id: page.caseId, who: [p.who] })}
      ?disabled=${!p.joined || page.caucus}>背靠背</button>
    <button @click=${() => socket.send("remove", { case_id: page.caseId, who: p.who })}
      ?disabled=${!p.present}>移出</button></span>`;
}

function result(f) {
  if (!f.ok) toast(`操作未成功：${f.message}`);
  if (f.request === "consent" && f.ok) toast("已向全体播放录音告知。");
  if (f.request === "room_close" && f.ok) {
    closeAudio();
    closeVideo();
    const closed = page.caseId;
    page.caseId = null;
    $("room-card").hidden = true;
    showOutcome(closed, $("room-title").textContent.replace("调解室 · ", ""));  // straight to the record
    listMediations();
  }
}

$("lock").addEventListener("click", () => {
  socket.send("lock", { case_id: page.caseId, locked: !page.locked });
});
$("consent").addEventListener("click", () => socket.send("consent", { case_id: page.caseId }));
$("captions").addEventListener("click", () => {
  socket.send("captions", { case_id: page.caseId, on: !page.captions });
});
$("end-caucus").addEventListener("click", () => {
  socket.send("caucus_end", { case_id: page.caseId });
});
$("close-room").addEventListener("click", () => {
  if (confirm("结束调解并关闭调解室？所有当事人将离开。")) socket.send("room_close", { case_id: page.caseId });
});

$("add-party").addEventListener("click", () => {
  if (parties.length < 7) parties.push({ role: "third_party", reach: "link" });
  drawParties();
});
$("new-mediation").addEventListener("submit", createMediation);
$("add-term").addEventListener("click", () => { terms.push({}); drawTerms(); });
$("outcome-form").addEventListener("submit", saveOutcome);

async function start() {
  fillSelect($("new-domain"), LABELS.domain, ["", "（请选择）"]);
  fillSelect($("outcome"), LABELS.outcome);
  drawParties();
  const r = await fetch("/api/webrtc/config");
  if (r.ok) page.rtc = await r.json();
  await listMediations();
  socket.connect();
}
start();
