// The supervisors' page: the wallboard (supervisor-wallboard.js), the calls and rooms to
// listen in on (supervisor-monitor.js), and the alerts: the last ones, then each new one
// as it is raised, on top and marked fresh. (A file of its own: the pages' Content-Security-Policy runs no
// inline script.)
import { $, draw, html, setLink } from "./lib/dom.js";
import { setZone, timeOfDay } from "./lib/format.js";
import { LABELS } from "./lib/labels.js";
import { Socket } from "./lib/socket.js";
import { monitorHandlers, startMonitoring } from "./supervisor-monitor.js";
import { startQuality } from "./supervisor-quality.js";
import { startWallboard, wallboardHandlers } from "./supervisor-wallboard.js";
import { repeat } from "./vendor/lit-html/directives/repeat.js";

const CATEGORIES = {
  self_harm: "自伤风险", wage_arrears: "群体欠薪", group_petition: "集体上访", violence: "暴力倾向",
};
const alerts = [];  // newest first, each {key, alert, fresh}
let seen = 0;

function add(alert, fresh) {
  alerts.unshift({ key: ++seen, alert, fresh });
  $("none").hidden = true;
  draw($("alerts"), repeat(alerts, (a) => a.key, alertTemplate));
}

function alertTemplate({ alert, fresh }) {
  const when = timeOfDay(alert.at);
  return html`<li data-category=${alert.category} class=${fresh ? "fresh" : ""}><strong>${when} ${
    CATEGORIES[alert.category] || alert.category}（“${alert.phrase}”）</strong><div>${
    LABELS.leg[alert.leg] || ""}：${alert.text} · 来电 ${alert.contact_id}</div></li>`;
}

async function start() {
  const me = await fetch("/api/session");
  if (me.status === 401) { location.href = "/login"; return; }
  if (me.ok) setZone((await me.json()).time_zone);  // alerts' times on the centre's clock
  const r = await fetch("/api/alerts?limit=100");
  if (r.status === 401) { location.href = "/login"; return; }
  if (r.ok) for (const a of (await r.json()).reverse()) add(a, false);
  const socket = new Socket("/api/supervisor/ws", {
    handlers: { alert: (frame) => add(frame.alert, true), ...monitorHandlers, ...wallboardHandlers },
    onOpen: () => setLink(true, "已连接", "连接中断，正在重连…"),
    onClose: () => { setLink(false, "已连接", "连接中断，正在重连…"); return true; },
    firstRetryMs: 2000,  // an alerts board: a steady retry is enough
    maxRetryMs: 2000,
  });
  socket.connect();
  startMonitoring(socket);
  startWallboard(socket);
  startQuality();
}
start();
