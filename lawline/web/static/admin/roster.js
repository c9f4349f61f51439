// The duty roster on the centre's calendar: one week at a time (Monday first), each day
// with the week's shifts, the centre's holidays (节假日, when the week's shifts do not
// apply), a lawyer's leave (请假) and extra duty (加班); and the editor of a lawyer's
// leave and extra duty, each entry saved at once (the same API as `lawline roster`).
import { $, draw, html, nothing, toast } from "../lib/dom.js";
import { call } from "./api.js";

const DAYS = ["一", "二", "三", "四", "五", "六", "日"];
const KINDS = { leave: "请假", extra: "加班" };
const DAY_MS = 86_400_000;
// Calendar days as "2026-12-03", counted in UTC so no browser's own zone moves them.
const ms = (day) => Date.parse(`${day}T00:00:00Z`);
const addDays = (day, n) => new Date(ms(day) + n * DAY_MS).toISOString().slice(0, 10);
const monday = (day) => addDays(day, -((new Date(ms(day)).getUTCDay() + 6) % 7));
const md = (day) => `${Number(day.slice(5, 7))}月${Number(day.slice(8, 10))}日`;
const hhmm = (t) => String(t).slice(0, 5);

const week = { today: "", start: "", holidays: new Set() };
let redraw = () => {};

// The week shown: its seven days, Monday first.
export const weekDays = () => DAYS.map((_, i) => addDays(week.start, i));

export async function loadCalendar(onChange) {
  redraw = onChange;
  const cal = await call("GET", "/api/roster-calendar");
  if (!cal) return;
  week.today = cal.today;
  week.holidays = new Set(cal.holidays);
  week.start = monday(cal.today);
  drawWeek();
}

function move(days) {
  week.start = days === 0 ? monday(week.today) : addDays(week.start, days);
  drawWeek();
  redraw();
}

function drawWeek() {
  const days = weekDays();
  draw($("roster-week"), html`<button type="button" @click=${() => move(-7)}>上一周</button>
    <strong id="roster-week-label">${days[0].slice(0, 4)}年${md(days[0])}至${md(days[6])}</strong>
    <button type="button" @click=${() => move(7)}>下一周</button>
    <button type="button" class="quiet" @click=${() => move(0)}>本周</button>`);
  draw($("lawyers-head"), html`<tr><th>律师</th><th>业务（熟练度）</th><th>语言</th>
    <th>同时接待</th>${days.map((d, i) => html`<th data-day=${d}
      class=${d === week.today ? "today" : ""}>周${DAYS[i]}<br><small>${md(d)}${
      week.holidays.has(d) ? " 节假日" : ""}</small></th>`)}<th></th></tr>`);
}

const covers = (e, day) => e.first <= day && day <= e.last;
const span = (e) => (e.start ? `${hhmm(e.start)}–${hhmm(e.end)}` : "全天");

// One lawyer's day on the week shown: leave greys it out; on a holiday the week's shifts
// do not apply; extra duty is drawn beside them.
export function dayCell(lw, i) {
  const day = addDays(week.start, i);
  const exceptions = lw.exceptions || [];
  const leave = exceptions.find((e) => e.kind === "leave" && covers(e, day));
  const holiday = week.holidays.has(day);
  const shifts = lw.roster.filter((s) => s.weekdays.includes(i));
  const extra = exceptions.filter((e) => e.kind === "extra" && covers(e, day));
  const off = leave || holiday;
  const cls = ["shift-day", leave ? "leave" : "", holiday ? "holiday" : "", day === week.today ? "today" : ""];
  return html`<td class=${cls.join(" ").trim()} data-day=${day}>
    ${leave ? html`<div class="mark">请假</div>` : nothing}
    ${shifts.map((s) => html`<div class=${off ? "off" : ""}>${hhmm(s.start)}–${hhmm(s.end)}</div>`)}
    ${extra.map((e) => html`<div class=${leave ? "off extra" : "extra"}>加班 ${span(e)}</div>`)}</td>`;
}

// The editor under the lawyer's form: their leave and extra duty, newest last.
export function drawExceptions(lw, saved) {
  const box = $("roster-exceptions");
  box.hidden = !lw;
  if (!lw) return;
  const url = `/api/lawyers/${encodeURIComponent(lw.id)}/roster-exceptions`;
  const remove = async (e) => {
    const done = await call("DELETE", `${url}/${encodeURIComponent(e.id)}`);
    if (done) { toast(`已删除${KINDS[e.kind]}。`); await saved(done); }
  };
  const add = async (ev) => {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const kind = f.get("kind");
    const body = { kind, first: f.get("first"), reason: String(f.get("reason") || "").trim() };
    const last = f.get("last");
    if (last) {
      if (last < body.first) { toast("结束日期不能早于开始日期。"); return; }
      body.last = last;
    }
    const [start, end] = [f.get("start"), f.get("end")];
    if (kind === "extra" && (start || end)) {
      if (!start || !end) { toast("加班请填写开始和结束时间，或都不填（全天）。"); return; }
      if (end <= start) { toast("结束时间须晚于开始时间；跨零点的加班请分两条添加。"); return; }
      Object.assign(body, { start, end });
    }
    const done = await call("POST", url, body);
    if (done) {
      toast(`已添加${KINDS[kind]}。`);
      ev.target.reset();
      ev.target.elements.first.value = week.today;
      toggleTimes(ev.target);
      await saved(done);
    }
  };
  const entries = [...(lw.exceptions || [])].sort((a, b) => (a.first + (a.start || "")).localeCompare(b.first + (b.start || "")));
  draw(box, html`<h4>请假与加班（按日期，保存即生效）</h4>
    <ul id="exceptions">${entries.length ? entries.map((e) => html`<li class="row" data-exception=${e.id}
      data-kind=${e.kind}><strong>${KINDS[e.kind]}</strong>
      <span>${e.first}${e.last !== e.first ? ` 至 ${e.last}` : ""}</span>
      ${e.kind === "extra" ? html`<span>${span(e)}</span>` : nothing}
      ${e.reason ? html`<span class="sub">${e.reason}</span>` : nothing}
      <button type="button" class="quiet" @click=${() => remove(e)}>删除</button></li>`)
      : html`<li class="sub">没有请假或加班。</li>`}</ul>
    <form id="exception-form" class="row" @submit=${add}>
      <label>类型 <select name="kind" @change=${(e) => toggleTimes(e.target.form)}>
        <option value="leave">请假（整天）</option><option value="extra">加班</option></select></label>
      <label>开始日期 <input type="date" name="first" required .value=${week.today}></label>
      <label>结束日期 <input type="date" name="last"></label>
      <label>开始时间 <input type="time" name="start" disabled></label>
      <label>结束时间 <input type="time" name="end" disabled></label>
      <input name="reason" placeholder="事由（可不填）" maxlength="100">
      <button class="primary">添加</button>
    </form>`);
}

// Leave is taken by whole days: its times are off; extra duty without times is all day.
function toggleTimes(form) {
  const extra = form.elements.kind.value === "extra";
  for (const name of ["start", "end"]) form.elements[name].disabled = !extra;
}
