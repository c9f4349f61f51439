// The case ledger: a lawyer's cases (staff: everyone's), one case with its contacts,
// notes, hand-over, closing and legal-aid application; for staff the ledger search, the
// monthly export and figures, and the lawyers' star grades. Routed by the #fragment:
// #list, #case/<id>, #search, #reports, each a module of its own (list.js, case.js,
// search.js, reports.js). Everything shown comes from the API under /api.
import { $, draw, fillSelect, html, signOut, toast } from "../lib/dom.js";
import { LABELS } from "../lib/labels.js";
import { showCase, wireCase } from "./case.js";
import { showList, wireList } from "./list.js";
import { api, explain, page, STAFF } from "./page.js";
import { showReports, wireReports } from "./reports.js";
import { showSearch, wireSearch } from "./search.js";

function route() {
  const [view, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  if (view === "case" && rest.length) showCase(decodeURIComponent(rest.join("/")));
  else if (view === "search" && page.staff) showSearch();
  else if (view === "reports" && page.staff) showReports();
  else showList();
}

function fillForms() {
  fillSelect($("edit-triage"), LABELS.triage);
  fillSelect($("edit-service"), LABELS.service);
  fillSelect($("edit-domain"), LABELS.domain, ["", "（未分类）"]);
  fillSelect($("edit-referral_to"), LABELS.referral);
  fillSelect($("close-disposition"), LABELS.disposition);
  fillSelect($("search-service"), LABELS.service, ["", "全部"]);
  fillSelect($("search-domain"), LABELS.domain, ["", "全部"]);
  fillSelect($("search-state"), LABELS.contactState, ["", "全部"]);
  draw($("aid-exemption-boxes"), Object.entries(LABELS.exemption).map(([v, l]) =>
    html`<label class="inline"><input type="checkbox" name="aid-exemption" value=${v}> ${l}</label>`));
}

async function start() {
  fillForms();
  wireList();
  wireCase();
  wireSearch();
  wireReports();
  $("sign-out").onclick = signOut;
  window.addEventListener("hashchange", route);
  const me = await api("/api/session");
  if (!me.ok) { if (me.status !== 401) toast(explain(me), 8000); return; }
  page.me = me.body;
  page.staff = STAFF.includes(me.body.role);
  $("who").textContent = me.body.display_name || me.body.username;
  if (me.body.display_name) page.lawyers[me.body.username] = me.body.display_name;
  for (const el of document.querySelectorAll("[data-staff]")) el.hidden = !page.staff;
  if (page.staff) {
    $("list-title").textContent = "全部案件";
    $("home-link").href = "/supervisor";
    $("home-link").textContent = "舆情预警";
    const lawyers = await api("/api/lawyers");
    if (lawyers.ok) {
      for (const lw of lawyers.body) page.lawyers[lw.id] = lw.name;
      draw($("list-owner"), html`<option value="">全部律师</option>${lawyers.body.map((lw) =>
        html`<option value=${lw.id}>${lw.name || lw.id}（${lw.id}）</option>`)}`);
    }
  }
  // Everyone may pick a colleague to hand a case to (names only, no figures).
  const colleagues = await api("/api/colleagues");
  if (colleagues.ok) {
    for (const c of colleagues.body) page.lawyers[c.id] = c.name || page.lawyers[c.id];
    draw($("lawyer-ids"), colleagues.body.map((c) => html`<option value=${c.id}>${c.name || c.id}</option>`));
  }
  route();
}
start();
