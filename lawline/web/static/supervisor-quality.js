// 质量评价 on the supervisors' page: every finished call is reviewed by the centre's rules
// (lawline/quality); here the unconfirmed reviews, worst first, each with its findings
// and their evidence (time-stamped lines), a score to confirm or correct, and the month
// per lawyer beside the citizens' ratings. Over /api/quality (web/quality_api.py).
import { $, draw, html, toast } from "./lib/dom.js";
import { when } from "./lib/format.js";
import { LABELS } from "./lib/labels.js";

const REFRESH_MS = 60_000;
let open = null;  // the review shown in full

async function getJson(url) {
  const r = await fetch(url);
  return r.ok ? r.json() : null;
}

function finding(f) {
  return html`<li class=${f.held ? "held" : "broken"} data-rule=${f.rule}>
    <strong>${f.held ? "✓" : "✗"} ${f.name}</strong>${f.critical ? " （一票否决）" : ""}
    ${f.why ? html` · ${f.why}` : ""}
    ${f.evidence.filter((e) => e.text || e.hold).map((e) => html`<div class="evidence">
      ${e.hold ? `${e.start}秒至${e.end}秒 保持通话` : html`${e.start}秒 ${LABELS.leg[e.leg] || e.leg}：${e.text}`}</div>`)}</li>`;
}

function detail(r) {
  return html`<div class="review-detail" data-contact=${r.contact_id}>
    <p>来电 ${r.contact_id} · 律师 ${r.lawyer || "—"} · 规则得分 <strong>${r.score}</strong></p>
    <ul class="findings">${r.findings.map(finding)}</ul>
    <form class="row" @submit=${confirm}>
      <label>评分 <input name="score" type="number" min="0" max="100" step="1" required
        .value=${String(r.confirmed_score ?? r.score)} style="width:6rem"></label>
      <label>说明 <input name="note" maxlength="500" .value=${r.note || ""}></label>
      <button class="primary">确认评分</button></form></div>`;
}

async function confirm(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const r = await fetch(`/api/quality/reviews/${encodeURIComponent(open.contact_id)}`, {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ score: Number(form.get("score")), note: form.get("note") }),
  });
  if (!r.ok) { toast("评分未能保存。"); return; }
  toast("评分已确认。");
  open = null;
  await refresh();
}

async function show(contactId) {
  open = await getJson(`/api/quality/reviews/${encodeURIComponent(contactId)}`);
  drawDetail();
}

function drawDetail() {
  draw($("quality-detail"), open ? detail(open) : html``);
}

function row(r) {
  const mark = r.critical_failed ? "red" : r.passed ? "" : "amber";
  return html`<tr data-contact=${r.contact_id}><td>${when(r.ended_at && Date.parse(r.ended_at) / 1000)}</td>
    <td>${r.lawyer || "—"}</td><td class=${mark}>${r.score}</td>
    <td>${r.failed.join("、") || "—"}</td><td>${r.rating ? "★".repeat(r.rating) : "—"}</td>
    <td><button @click=${() => show(r.contact_id)}>查看</button></td></tr>`;
}

async function refresh() {
  const [list, month] = await Promise.all([
    getJson("/api/quality/reviews?unconfirmed=true&limit=30"),
    getJson("/api/quality/figures"),
  ]);
  if (list) {
    draw($("quality"), html`${list.map(row)}`);
    $("no-quality").hidden = list.length > 0;
  }
  if (month) {
    draw($("quality-month"), html`${month.map((m) => html`<tr><td>${m.lawyer || "—"}</td>
      <td>${m.reviewed}</td><td>${m.mean_score ?? "—"}</td><td>${m.critical_failed}</td>
      <td>${m.mean_rating ?? "—"}</td></tr>`)}`);
  }
  drawDetail();
}

export function startQuality() {
  refresh();
  setInterval(refresh, REFRESH_MS);
}
