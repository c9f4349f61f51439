// The wallboard at the top of the supervisors' page: per service queue what is waiting
// now and today's figures (tiles amber or red past the centre's thresholds), the duty
// lawyers and what they are doing, the waiting callers (never a number), and today by
// half hour. Boards come over the supervisor socket (`wallboard`, lawline/web/wallboard.py);
// the times in state tick here between boards.
import { $, draw, html } from "./lib/dom.js";
import { clock, duration, timeOfDay } from "./lib/format.js";
import { LABELS } from "./lib/labels.js";
import { repeat } from "./vendor/lit-html/directives/repeat.js";
import { svg } from "./vendor/lit-html/lit-html.js";

let board = null;
let skew = 0;  // the server's clock minus this one's, seconds
let send = null;  // the supervisor socket's send(type, fields)

const pct = (x) => (x === null || x === undefined ? "—" : `${Math.round(x * 100)}%`);
const secs = (x) => (x === null || x === undefined ? "—" : duration(x));

function shown(s) {
  // Quiet queues stay small: a service with nothing today and nobody waiting is folded.
  return s.service === "consultation" || s.waiting || s.offered;
}

function tile(s) {
  return html`<section class="tile-q" data-service=${s.service}>
    <h3>${LABELS.service[s.service] || s.service}</h3>
    <p class="big"><span class="figure" data-figure="waiting">${s.waiting}</span>
      <small>人等待</small></p>
    <dl class="figures">
      <dt>最长等待</dt><dd class=${s.colour.longest_wait} data-figure="longest_wait">
        ${s.waiting ? clock(s.longest_wait_s) : "—"}</dd>
      <dt>服务水平</dt><dd class=${s.colour.service_level} data-figure="service_level">
        ${pct(s.service_level)}</dd>
      <dt>放弃率</dt><dd class=${s.colour.abandon_rate} data-figure="abandon_rate">
        ${pct(s.abandon_rate)}</dd>
      <dt>今日呼入</dt><dd data-figure="offered">${s.offered}</dd>
      <dt>接通</dt><dd data-figure="answered">${s.answered}</dd>
      <dt>放弃</dt><dd data-figure="abandoned">${s.abandoned}</dd>
      <dt>平均应答</dt><dd data-figure="asa">${secs(s.asa_s)}</dd>
      <dt>待回拨</dt><dd data-figure="callbacks">${s.callbacks}</dd>
    </dl></section>`;
}

function lawyerRow(lw) {
  const since = lw.since ? Date.now() / 1000 + skew - lw.since : 0;
  const state = LABELS.state[lw.state] || lw.state;
  return html`<tr data-lawyer=${lw.id} data-state=${lw.state}>
    <td>${lw.name}</td>
    <td class="state-${lw.state}">${state}${lw.break_reason ? `（${lw.break_reason}）` : ""}</td>
    <td>${lw.state === "offline" ? "—" : duration(since)}</td>
    <td>${lw.handled}</td><td>${secs(lw.aht_s)}</td><td>${pct(lw.occupancy)}</td>
    <td>${lw.state === "break" && send ? html`<button class="on-duty"
      @click=${() => send("lawyer_on_duty", { lawyer_id: lw.id })}>请回岗</button>` : ""}</td></tr>`;
}

// A waiting caller may be given to a named lawyer on duty (指派): held for them a while.
function assignTo(w) {
  if (!send) return "";
  const onDuty = board.lawyers.filter((lw) => lw.state !== "offline");
  if (!onDuty.length) return "";
  const choose = (e) => {
    const lawyer = e.target.closest("td").querySelector("select").value;
    if (lawyer) send("assign", { contact_id: w.id, lawyer_id: lawyer });
  };
  return html`<span class="assign"><select aria-label="指派给"><option value="">指派给…</option>
      ${onDuty.map((lw) => html`<option value=${lw.id}>${lw.name}</option>`)}</select>
    <button @click=${choose}>指派</button></span>`;
}

function waitingRow(w) {
  const chosen = w.chosen_lawyer
    ? (board.lawyers.find((lw) => lw.id === w.chosen_lawyer) || { name: w.chosen_lawyer }).name : "";
  return html`<tr data-contact=${w.id}><td>${w.position}</td>
    <td>${LABELS.service[w.service] || w.service}</td>
    <td>${LABELS.channel[w.channel] || ""}${w.village ? ` · ${w.village}` : ""}</td>
    <td>${duration(w.waited_s)}</td>
    <td>${w.green ? html`<span class="green">绿色通道</span>` : ""}
      ${w.callback ? "回拨" : ""}${chosen ? html` <span class="chosen">指定：${chosen}</span>` : ""}</td>
    <td>${assignTo(w)}</td></tr>`;
}

// Today by half hour: answered (bar) and abandoned (red bar) per slot.
function history(slots) {
  if (!slots.length) return html`<p class="sub">今天还没有接通或放弃的来电。</p>`;
  const most = Math.max(1, ...slots.map((h) => Math.max(h.answered, h.abandoned)));
  const w = 28;
  // A day's 48 half hours fit; fewer are drawn at the same width from the left.
  return html`<svg class="history" viewBox=${`0 0 ${Math.max(slots.length, 24) * w + 10} 130`}
      preserveAspectRatio="xMinYMid meet" role="img" aria-label="今日每半小时接通与放弃">
    ${slots.map((h, i) => {
      const a = (h.answered / most) * 100;
      const b = (h.abandoned / most) * 100;
      return svg`<g transform=${`translate(${i * w + 5},0)`}>
        <title>${timeOfDay(h.start)} 接通 ${h.answered} 放弃 ${h.abandoned} 服务水平 ${pct(h.service_level)}</title>
        <rect class="answered" x="0" y=${105 - a} width="11" height=${a}></rect>
        <rect class="abandoned" x="12" y=${105 - b} width="11" height=${b}></rect>
        <text x="0" y="122">${timeOfDay(h.start).slice(0, 5)}</text></g>`;
    })}</svg>`;
}

function drawBoard() {
  if (!board) return;
  draw($("queues"), html`${board.services.filter(shown).map(tile)}`);
  draw($("lawyers"), html`${repeat(board.lawyers, (lw) => lw.id, lawyerRow)}`);
  $("no-lawyers").hidden = board.lawyers.length > 0;
  // Keyed rows: a choice being made in a row's 指派 list stays with its caller.
  draw($("waiting"), html`${repeat(board.waiting, (w) => w.id, waitingRow)}`);
  $("no-waiting").hidden = board.waiting.length > 0;
  const more = board.waiting_total - board.waiting.length;
  $("more-waiting").textContent = more > 0 ? `另有 ${more} 人在等待。` : "";
  draw($("history"), history(board.history));
  $("sl-rule").textContent = `服务水平：${board.service_level_s}秒内接通的来电占接通与放弃来电之和的比例`
    + `（${board.service_level_s}秒内挂断的也计入）。`;
}

// The wallboard's buttons act over the supervisor socket.
export function startWallboard(socket) {
  send = (type, fields) => socket.send(type, fields);
}

export const wallboardHandlers = {
  wallboard: (f) => {
    board = f.board;
    skew = board.at - Date.now() / 1000;
    drawBoard();
  },
};

setInterval(drawBoard, 1000);  // times in state and waits keep counting between boards
