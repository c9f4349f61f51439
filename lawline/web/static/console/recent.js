// My recent calls: the last contacts this lawyer took, how each ended, and its case in
// the ledger (opened in a new tab: leaving this page would take the lawyer off duty).
import { $, draw, html, nothing } from "../lib/dom.js";
import { label, when } from "../lib/format.js";

const LIMIT = 8;
let followUp = null;

export async function loadRecent() {
  let contacts;
  try {
    const r = await fetch(`/api/ledger/my-contacts?limit=${LIMIT}`);
    if (!r.ok) return;
    contacts = await r.json();
  } catch { return; }  // the websocket's reconnect loop reports the network
  draw($("recent-list"), contacts.length
    ? contacts.map(item) : html`<li class="sub">还没有来电记录。</li>`);
}

// The ledger follows lawline's event stream a moment behind: look now, and again shortly.
export function refreshRecent() {
  loadRecent();
  clearTimeout(followUp);
  followUp = setTimeout(loadRecent, 2000);
}

export function wireRecent() {
  setInterval(loadRecent, 60_000);
}

function item(c) {
  const outcome = c.disposition ? label("disposition", c.disposition) : label("contactState", c.state);
  const from = c.channel === "video" ? c.origin || label("channel", c.channel) : c.caller || "未显示号码";
  const what = [label("service", c.service), c.domain ? label("domain", c.domain) : ""].filter(Boolean);
  return html`<li data-contact=${c.id}>
    <span class="what">${what.join(" · ")} · <strong class="outcome">${outcome}</strong></span>
    <span class="meta">${when(c.entered_at)} · ${from}</span>
    ${c.summary ? html`<span class="meta summary">${c.summary}</span>` : nothing}
    ${c.case_url
      ? html`<a class="case-link" href=${c.case_url} target="_blank" rel="noopener">查看案件</a>`
      : html`<span class="meta">未立案</span>`}
  </li>`;
}
