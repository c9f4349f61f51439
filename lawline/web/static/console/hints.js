// 法条提示: the articles the conversation turns on. lawline sends the top three as the
// caller's sentences arrive (`hints` frames, from its own transcript); the lawyer reads
// an article in full, pins it into 答复内容 (what the citizen was told, 一次性告知:
// lawline records the pin with the contact, and the case form is saved), or looks up
// an article by typing (GET /api/statutes/search).
import { $, draw, html, nothing, toast } from "../lib/dom.js";
import { send, state } from "./state.js";

const panel = { contact: null, live: [], found: null, pinned: new Set(), query: "" };
const SEARCH_MAX = 200;  // as lawline bounds it

export function showHints(contactId) {
  if (panel.contact !== contactId) {
    panel.contact = contactId;
    panel.live = [];
    panel.pinned = new Set();
  }
  render();
}

export function hintsArrived(f) {
  const current = state.call || state.caseContact;
  if (current && current.id !== f.contact_id) return;  // a call already left behind
  showHints(f.contact_id);
  panel.live = f.hints;
  render();
}

// lawline recorded the pin: the article goes into what the citizen was told, saved.
export function hintPinned(f) {
  panel.pinned.add(f.hint.citation);
  render();
  const contact = state.caseContact;
  if (!contact || contact.id !== f.contact_id) return;
  const advice = $("case-advice");
  const line = `${f.hint.citation}：${f.hint.text.replace(/\n/g, "")}`;
  if (advice.value.includes(f.hint.citation)) return;
  const joined = advice.value ? `${advice.value.trimEnd()}\n${line}` : line;
  advice.value = joined.slice(0, Number(advice.maxLength) || 4000);
  advice.dispatchEvent(new Event("input"));
  $("case-form").requestSubmit();  // saved with the case form, as 保存记录 does
}

function pin(hint) {
  const contact = state.caseContact || state.call;
  if (!contact) { toast("通话开始后才能加入告知内容。"); return; }
  send("hint_pin", { contact_id: contact.id, law: hint.law, article: hint.article });
}

async function search(event) {
  event.preventDefault();
  const q = $("hint-query").value.trim().slice(0, SEARCH_MAX);
  if (!q) { panel.found = null; render(); return; }
  const contact = state.caseContact || state.call;
  const params = new URLSearchParams({ q, limit: "5" });
  if (contact && contact.domain) params.set("domain", contact.domain);
  panel.query = q;
  let r;
  try {
    r = await fetch(`/api/statutes/search?${params}`);
  } catch {
    toast("无法连接服务器，请稍后重试。");
    return;
  }
  if (r.status === 401) { location.href = "/login"; return; }
  if (!r.ok) { toast("查找法条未成功，请换个说法再试。"); return; }
  panel.found = await r.json();
  render();
}

function backToLive() {
  panel.found = null;
  $("hint-query").value = "";
  render();
}

// One line for the citation and its button, one for the text's start: three fit beside
// the case form on a laptop; the whole article (and where it stands) opens on a click.
function hintTemplate(h) {
  const pinned = panel.pinned.has(h.citation);
  const where = h.chapter ? `${h.title} · ${h.chapter}` : h.title;
  return html`<li class="hint" data-citation=${h.citation}>
    <div class="row"><strong class="citation" title=${where}>${h.citation}</strong>
      ${h.spoken ? html`<span class="flag ok">来电人提到</span>` : nothing}
      <button type="button" class="pin" ?disabled=${pinned || !(state.caseContact || state.call)}
        @click=${() => pin(h)}>${pinned ? "已加入告知" : "加入告知"}</button></div>
    <details><summary>${h.text.split("\n")[0]}</summary>
      <p class="sub">${where}</p>
      <p class="article-text">${h.text}</p></details>
  </li>`;
}

function render() {
  const searching = panel.found !== null;
  const list = searching ? panel.found : panel.live;
  const empty = searching
    ? html`<p class="sub">没有找到与“${panel.query}”相关的法条。</p>`
    : html`<p class="sub">通话中，系统会根据来电人所说的内容提示相关法条。</p>`;
  draw($("hints-body"), html`
    ${searching ? html`<p class="sub">查找“${panel.query}”的结果 ·
      <button type="button" class="quiet" @click=${backToLive}>返回实时提示</button></p>` : nothing}
    ${list.length ? html`<ol class="hints">${list.map(hintTemplate)}</ol>` : empty}`);
}

export function wireHints() {
  $("hint-search").addEventListener("submit", search);
  render();
}
