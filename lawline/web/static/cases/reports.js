// Monthly reports (staff): the month's export, its figures (per lawyer, per domain),
// and the lawyers' star grades from the callers' ratings.
import { $, draw, html } from "../lib/dom.js";
import { duration, label, stars, thisMonth } from "../lib/format.js";
import { api, explain, setView, who } from "./page.js";

// A month as plain dates, first and last day: lawline reads them as whole days of the
// centre's, whatever this PC's time zone.
function monthRange(ym) {
  const [y, m] = ym.split("-").map(Number);
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();  // day 0 of the next month
  return { since: `${ym}-01`, until: `${ym}-${String(last).padStart(2, "0")}` };
}

export function showReports() {
  setView("reports");
  if (!$("report-month").value) $("report-month").value = thisMonth();
  loadReports();
}

const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
const score = (x) => (x === null || x === undefined ? "—" : x.toFixed(2));

async function loadReports() {
  const ym = $("report-month").value;
  if (!/^\d{4}-\d{2}$/.test(ym)) return;
  const range = monthRange(ym);
  const [y, m] = ym.split("-");
  for (const fmt of ["xlsx", "csv"]) {
    $(`export-${fmt}`).href = `/api/ledger/export?${new URLSearchParams({ ...range, format: fmt })}`;
  }
  $("figures-title").textContent = `${y} 年 ${Number(m)} 月数据`;
  const [figures, grades] = await Promise.all([
    api(`/api/ledger/figures?${new URLSearchParams(range)}`),
    api("/api/grades"),
  ]);
  $("figures-error").hidden = figures.ok;
  if (!figures.ok) $("figures-error").textContent = explain(figures);
  else renderFigures(figures.body);
  if (grades.ok) renderGrades(grades.body);
}

function renderFigures(f) {
  const rows = [
    ["来电总数", f.contacts], ["接通", f.answered], ["未接通（来电人挂断）", f.abandoned],
    ["接通率", pct(f.answer_rate)], ["法律咨询（已接通）", f.consultations],
    ["法律援助案件", f.legal_aid_cases], ["申请人民调解（来电）", f.mediations],
    ["调解结案", f.disputes_mediated], ["达成调解协议", f.agreements_reached], ["评价数", f.ratings],
    ["满意率（4 分及以上）", pct(f.satisfaction)], ["平均评分", score(f.average_rating)],
  ];
  draw($("figures-rows"), rows.map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${v}</td></tr>`));
  const lawyers = Object.entries(f.per_lawyer);
  draw($("per-lawyer-rows"), lawyers.length
    ? lawyers.map(([id, x]) => html`<tr><td>${who(id)}</td><td>${x.answered}</td>
      <td>${duration(x.talk_s)}</td><td>${score(x.average_rating)}</td></tr>`)
    : html`<tr><td colspan="4" class="sub">本月没有接听记录。</td></tr>`);
  const domains = Object.entries(f.per_domain);
  draw($("per-domain-rows"), domains.length
    ? domains.map(([d, x]) => html`<tr><td>${d === "unknown" ? "（未分类）" : label("domain", d)}</td>
      <td>${x.contacts}</td><td>${x.answered}</td></tr>`)
    : html`<tr><td colspan="3" class="sub">本月没有来电。</td></tr>`);
}

function renderGrades(grades) {
  draw($("grades-rows"), grades.length
    ? grades.map((g) => html`<tr><td>${who(g.lawyer)}</td><td>${g.ratings}</td><td>${score(g.average_rating)}</td>
      <td>${g.stars ? html`<span class="stars">${stars(g.stars)}</span> ${g.stars} 星` : "评价数不足，暂不评级"}</td></tr>`)
    : html`<tr><td colspan="4" class="sub">还没有来电人评价。</td></tr>`);
}

export function wireReports() {
  $("report-month").addEventListener("change", loadReports);
}
