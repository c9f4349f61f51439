// The ledger search (staff): contacts by number, name, dates, lawyer, service, domain,
// state or words said, each opening to its details in place.
import { $, draw, html, nothing } from "../lib/dom.js";
import { DAY_MS, label, OFFSET, stars, when } from "../lib/format.js";
import { contactBody, loadContact } from "./contact.js";
import { showFieldErrors } from "./fields.js";
import { api, explain, say, setView, who } from "./page.js";

// The rows found, and which of them are open (contact id -> its answer, null loading).
const search = { found: [], open: new Map() };

export function showSearch() {
  setView("search");
  $("search-number").focus();
}

// A day in the centre's time, as an instant the API understands.
function dayStart(date) { return new Date(`${date}T00:00:00${OFFSET}`); }

async function find(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const params = new URLSearchParams({ limit: "200" });
  for (const [k, v] of form.entries()) {
    const value = String(v).trim();
    if (!value) continue;
    if (k === "since") params.set("since", dayStart(value).toISOString());
    else if (k === "until") params.set("until", new Date(dayStart(value).getTime() + DAY_MS).toISOString());
    else params.set(k, value);
  }
  say("search-summary", "正在查询…");
  const res = await api(`/api/ledger/contacts?${params}`);
  if (!res.ok) {
    const unplaced = showFieldErrors("search", res);
    say("search-summary", unplaced ? unplaced.join(" ") : explain(res), "error");
    return;
  }
  const found = res.body;
  say("search-summary", found.length
    ? `找到 ${found.length} 条来电记录${found.length >= 200 ? "（只显示最近 200 条，请缩小查询范围）" : ""}。`
    : "没有找到符合条件的来电记录。");
  $("search-table").hidden = !found.length;
  search.found = found;
  search.open.clear();
  renderRows();
}

function renderRows() {
  draw($("search-rows"), search.found.map(foundRow));
}

async function toggle(cid) {
  if (search.open.has(cid)) {
    search.open.delete(cid);
    renderRows();
    return;
  }
  search.open.set(cid, null);
  renderRows();
  const res = await loadContact(cid);
  if (!search.open.has(cid)) return;  // closed meanwhile
  search.open.set(cid, res);
  renderRows();
}

function foundRow(c) {
  const matter = [label("service", c.service)];
  if (c.domain) matter.push(label("domain", c.domain));
  const open = search.open.has(c.id);
  return html`<tr data-contact=${c.id}><td>${when(c.entered_at)}</td><td>${c.caller || "未显示"}</td>
    <td>${matter.join(" · ")}</td><td>${who(c.first_lawyer)}</td><td>${who(c.lawyer)}</td>
    <td>${label("contactState", c.state)}</td><td>${c.rating ? html`<span class="stars">${stars(c.rating)}</span>` : "—"}</td>
    <td>${c.case_id ? html`<a href="#case/${encodeURIComponent(c.case_id)}">${c.case_id}</a>` : "—"}</td>
    <td><button type="button" class="show-contact" aria-expanded=${open ? "true" : "false"}
      @click=${() => toggle(c.id)}>${open ? "收起" : "查看详情"}</button></td></tr>${open
    ? html`<tr class="contact-detail"><td colspan="9"><details class="contact" open>${
      contactBody(c.id, search.open.get(c.id), "正在载入…")}</details></td></tr>`
    : nothing}`;
}

export function wireSearch() {
  $("search-form").addEventListener("submit", find);
  $("search-form").addEventListener("reset", () => {
    search.found = [];
    search.open.clear();
    renderRows();
    $("search-table").hidden = true;
    say("search-summary", "");
  });
}
