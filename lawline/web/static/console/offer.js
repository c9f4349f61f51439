// An offered contact: who is calling about what, how long they waited, the caller's
// earlier contacts (first-contact ownership), a countdown and a ring until answered.
import { $, draw, html, nothing } from "../lib/dom.js";
import { LABELS } from "../lib/labels.js";
import { send, state } from "./state.js";

let ringTimer = null;

// "法律咨询 · 劳动争议 · 蒙古语": the service, the domain and a language other than Mandarin.
export function describe(contact) {
  const parts = [LABELS.service[contact.service] || contact.service];
  if (contact.domain) parts.push(LABELS.domain[contact.domain] || contact.domain);
  if (contact.language === "mn") parts.push("蒙古语");
  return parts.join(" · ");
}

export function showOffer(offer) {
  state.offer = offer;
  const c = offer.contact;
  state.histories = { [c.id]: offer.history || [] };
  $("offer").hidden = false;
  draw($("offer-summary"), html`${describe(c)}${c.green
    ? html`<span class="green">绿色通道 ${LABELS.green[c.green] || c.green}</span>` : nothing}${c.callback
    ? html`<span class="green">预约回电</span>` : nothing}`);
  const waitedMin = Math.floor(offer.waited_s / 60), waitedSec = Math.round(offer.waited_s % 60);
  $("offer-detail").textContent = `${LABELS.channel[c.channel] || c.channel} · 来电号码 ${c.caller || "未显示"}`
    + ` · 已等待 ${waitedMin} 分 ${waitedSec} 秒`
    + (c.attrs && c.attrs.menu ? ` · 语音菜单按键：${menuKeys(c.attrs.menu)}` : "")
    + (c.attrs && c.attrs.village ? ` · ${c.attrs.township || ""} ${c.attrs.village}` : "");
  $("offer-notes").textContent = c.attrs && c.attrs.notes ? `转接说明：${c.attrs.notes}` : "";
  draw($("offer-history"), historyTemplate(offer.history || []));
  startRinging(offer.deadline);
}

// "main:1 consultation:1" -> "1 → 1"; a wrong key shows as "7？", no key as "（无）".
function menuKeys(path) {
  return path.split(" ").map((step) => {
    const key = step.split(":")[1] || "";
    return key === "timeout" ? "（无）" : key;
  }).join(" → ");
}

function historyTemplate(history) {
  if (!history.length) return html`<p class="sub">该号码此前无来电记录。</p>`;
  return html`<p>此前来电（首问负责）：</p><table><thead><tr><th>时间</th>
    <th>服务</th><th>承办律师</th><th>结果</th><th>摘要</th></tr></thead><tbody>${history.map((h) => html`<tr>
      <td>${new Date(h.entered_at * 1000).toLocaleString("zh-CN")}</td>
      <td>${LABELS.service[h.service] || h.service}</td>
      <td>${h.lawyer || "—"}</td>
      <td>${LABELS.disposition[h.disposition] || LABELS.contactState[h.state] || h.state}</td>
      <td>${h.summary || ""}</td></tr>`)}</tbody></table>`;
}

export function hideOffer() {
  state.offer = null;
  $("offer").hidden = true;
  stopRinging();
}

function startRinging(deadline) {
  stopRinging();
  const tick = () => {
    const left = Math.max(0, Math.round(deadline - Date.now() / 1000));
    $("offer-countdown").textContent = `${left} 秒内接听`;
    beep();
  };
  tick();
  ringTimer = setInterval(tick, 1000);
}

function stopRinging() {
  if (ringTimer) clearInterval(ringTimer);
  ringTimer = null;
}

let audioCtx = null;
function beep() {
  // Two short tones a second: heard even with the tab in the background.
  try {
    audioCtx = audioCtx || new AudioContext();
    for (const [at, hz] of [[0, 440], [0.25, 480]]) {
      const osc = audioCtx.createOscillator(), gain = audioCtx.createGain();
      osc.frequency.value = hz;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audioCtx.destination);
      osc.start(audioCtx.currentTime + at);
      osc.stop(audioCtx.currentTime + at + 0.2);
    }
  } catch { /* no audio output: the card still flashes */ }
}

export function wireOffer() {
  $("accept").onclick = () => state.offer && send("accept", { contact_id: state.offer.contact.id });
  $("decline").onclick = () => state.offer && send("reject", { contact_id: state.offer.contact.id });
}
