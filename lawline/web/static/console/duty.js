// The duty panel: the lawyer's state (available, on a break, in wrap-up...), today's
// figures, and the buttons that change the state.
import { $, draw, html } from "../lib/dom.js";
import { minutes } from "../lib/format.js";
import { LABELS } from "../lib/labels.js";
import { send, state } from "./state.js";

let wrapupTimer = null;

export function renderLawyer(lawyer) {
  state.lawyer = lawyer;
  $("who").textContent = `${lawyer.name || lawyer.id}`;
  const el = $("state");
  el.dataset.state = lawyer.state;
  el.textContent = LABELS.state[lawyer.state] || lawyer.state;
  $("state-detail").textContent = lawyer.state === "break" && lawyer.break_reason
    ? `（${lawyer.break_reason}）` : "";
  const wrapping = lawyer.state === "wrapup" || (lawyer.wrapup_until > 0 && !lawyer.talking);
  $("wrapup").hidden = !wrapping;
  $("ready").hidden = !wrapping;
  clearInterval(wrapupTimer);
  if (wrapping) {
    const tick = () => {
      const left = Math.max(0, Math.round(lawyer.wrapup_until - Date.now() / 1000));
      $("wrapup-countdown").textContent = lawyer.wrapup_until > 0 ? `剩余 ${left} 秒` : "";
    };
    tick();
    wrapupTimer = setInterval(tick, 1000);
  }
  $("go-available").disabled = lawyer.presence === "available";
}

export async function loadFigures() {
  if (!state.lawyer) return;
  const r = await fetch(`/api/lawyers/${encodeURIComponent(state.lawyer.id)}/figures`);
  if (!r.ok) return;
  const f = await r.json();
  const rows = [
    ["今日接听", f.today_handled],
    ["今日通话（分钟）", minutes(f.today_talk_s)],
    ["累计接听", f.handled],
    ["累计话后整理（分钟）", minutes(f.seconds_wrapup)],
  ];
  draw($("figures"), rows.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`));
}

export function wireDuty() {
  $("go-available").onclick = () => send("state", { state: "available" });
  $("go-break").onclick = () => send("state", { state: "break", reason: $("break-reason").value });
  $("go-offline").onclick = () => send("state", { state: "offline" });
  $("ready").onclick = () => send("ready");
}
