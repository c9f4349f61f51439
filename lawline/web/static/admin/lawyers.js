// Duty lawyers: their services with proficiency (1-5), languages, how many at once by
// phone and by video, and their week's shifts, shown on a dated week (one column a day,
// with leave, extra duty and holidays: roster.js).
import { $, draw, html, toast } from "../lib/dom.js";
import { LABELS } from "../lib/labels.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { call } from "./api.js";
import { dayCell, drawExceptions, loadCalendar } from "./roster.js";

const DAYS = ["一", "二", "三", "四", "五", "六", "日"];
const form = { editing: null, shifts: [] };
// Each shift row is drawn afresh when the form is filled or emptied (a new key), so what
// the form's reset or a person typed never outlives the shift it belonged to.
let keys = 0;
const shift = (s) => ({ ...s, key: ++keys });

const hhmm = (t) => String(t).slice(0, 5);

function row(lw) {
  const services = Object.entries(lw.services)
    .map(([k, v]) => `${LABELS.service[k] || k}${v}`).join("、");
  return html`<tr data-lawyer=${lw.id}><td><strong>${lw.name || lw.id}</strong><br>
      <small>${lw.id}</small></td><td>${services}</td>
    <td>${lw.languages.map((l) => LABELS.language[l] || l).join("、")}</td>
    <td>电话${lw.capacity.voice || 0} 视频${lw.capacity.video || 0}</td>
    ${DAYS.map((_, day) => dayCell(lw, day))}
    <td><button @click=${() => edit(lw)}>修改</button></td></tr>`;
}

let shown = [];
const drawLawyers = () => draw($("lawyers"), html`${shown.map(row)}`);

export async function loadLawyers() {
  const lawyers = await call("GET", "/api/lawyers");
  if (lawyers) { shown = lawyers; drawLawyers(); }
}

// Leave or extra duty saved for the lawyer being edited: the week and the list redrawn.
async function exceptionsSaved(lw) {
  drawExceptions(lw, exceptionsSaved);
  await loadLawyers();
}

function drawShifts() {
  const set = (i, key) => (e) => { form.shifts[i][key] = e.target.value; };
  const day = (i, d) => (e) => {
    const days = new Set(form.shifts[i].weekdays);
    if (e.target.checked) days.add(d); else days.delete(d);
    form.shifts[i].weekdays = [...days].sort();
  };
  draw($("shifts"), html`${repeat(form.shifts, (s) => s.key, (s, i) => html`<li class="row" data-shift=${i}>
    ${DAYS.map((name, d) => html`<label class="day"><input type="checkbox"
      .checked=${s.weekdays.includes(d)} @change=${day(i, d)}>周${name}</label>`)}
    <input type="time" aria-label="开始" .value=${hhmm(s.start)} @change=${set(i, "start")} required>
    <input type="time" aria-label="结束" .value=${hhmm(s.end)} @change=${set(i, "end")} required>
    <button type="button" class="quiet" @click=${() => { form.shifts.splice(i, 1); drawShifts(); }}>
      删除</button></li>`)}`);
}

function drawServices(levels = {}) {
  draw($("lawyer-services"), html`${Object.entries(LABELS.service).map(([k, v]) => html`<label>${v}
    <select name=${`svc-${k}`}>${[0, 1, 2, 3, 4, 5].map((n) => html`<option value=${n}
      ?selected=${(levels[k] || 0) === n}>${n ? `熟练度${n}` : "不接"}</option>`)}</select></label>`)}`);
}

function edit(lw) {
  const f = $("lawyer-form");
  form.editing = lw.id;
  f.elements.id.value = lw.id;
  f.elements.id.readOnly = true;
  f.elements.name.value = lw.name;
  f.elements.voice.value = lw.capacity.voice || 0;
  f.elements.video.value = lw.capacity.video || 0;
  for (const o of f.elements.languages.options) o.selected = lw.languages.includes(o.value);
  drawServices(lw.services);
  form.shifts = lw.roster.map(shift);
  drawShifts();
  drawExceptions(lw, exceptionsSaved);
  $("lawyer-form-title").textContent = `修改：${lw.name || lw.id}`;
  f.scrollIntoView();
}

function reset() {
  const f = $("lawyer-form");
  f.reset();
  f.elements.id.readOnly = false;
  form.editing = null;
  form.shifts = [shift({ weekdays: [0, 1, 2, 3, 4], start: "08:30", end: "17:30" })];
  drawServices({ consultation: 3 });
  drawShifts();
  drawExceptions(null);
  $("lawyer-form-title").textContent = "添加值班律师";
}

async function save(e) {
  e.preventDefault();
  const f = new FormData(e.target);
  const services = {};
  for (const k of Object.keys(LABELS.service)) {
    const n = Number(f.get(`svc-${k}`));
    if (n) services[k] = n;
  }
  if (!Object.keys(services).length) { toast("请至少选择一项业务。"); return; }
  const body = {
    name: String(f.get("name") || "").trim(),
    services,
    languages: f.getAll("languages").length ? f.getAll("languages") : ["zh"],
    capacity: { voice: Number(f.get("voice")), video: Number(f.get("video")) },
    roster: form.shifts.filter((s) => s.weekdays.length)
      .map(({ weekdays, start, end }) => ({ weekdays, start, end })),
  };
  const done = form.editing
    ? await call("PATCH", `/api/lawyers/${encodeURIComponent(form.editing)}`, body)
    : await call("POST", "/api/lawyers", { id: String(f.get("id")).trim(), ...body });
  if (done) {
    toast("已保存。");
    reset();
    await loadLawyers();
  }
}

export function wireLawyers() {
  draw($("lawyer-languages"), html`${Object.entries(LABELS.language).map(([k, v]) => html`<option
    value=${k} ?selected=${k === "zh"}>${v}</option>`)}`);
  $("add-shift").addEventListener("click", () => {
    form.shifts.push(shift({ weekdays: [], start: "08:30", end: "17:30" }));
    drawShifts();
  });
  $("lawyer-form-reset").addEventListener("click", reset);
  $("lawyer-form").addEventListener("submit", save);
  reset();
}

export const loadRoster = () => loadCalendar(drawLawyers);
