// The case list: my cases (staff: everyone's, or one lawyer's), soonest deadline first,
// the overdue ones in red.
import { $, draw, html, nothing } from "../lib/dom.js";
import { label, when } from "../lib/format.js";
import { deadlineInfo, statusFlag } from "./deadline.js";
import { api, explain, page, say, setView, who } from "./page.js";

export function showList() {
  setView("list");
  loadList();
}

let listSeq = 0;
async function loadList() {
  const seq = ++listSeq;
  const overdueOnly = $("list-overdue").checked;
  $("list-status").disabled = overdueOnly;  // overdue cases are open ones
  const params = new URLSearchParams();
  if (overdueOnly) params.set("overdue", "true");
  else if ($("list-status").value) params.set("status", $("list-status").value);
  if (page.staff && $("list-owner").value) params.set("owner", $("list-owner").value);
  const res = await api(`/api/cases?${params}`);
  if (seq !== listSeq) return;  // a newer choice of filters is on its way
  if (!res.ok) { say("list-summary", explain(res), "error"); return; }
  const cases = [...res.body].sort((a, b) => new Date(a.deadline) - new Date(b.deadline));
  const overdue = cases.filter((c) => c.overdue).length;
  say("list-summary", cases.length
    ? `共 ${cases.length} 件${overdue ? `，其中 ${overdue} 件已逾期（红色标出）` : ""}，按办理期限排序。`
    : (overdueOnly ? "没有逾期的案件。" : "没有符合条件的案件。"));
  draw($("list-rows"), cases.map(caseRow));
}

function caseRow(c) {
  const d = deadlineInfo(c);
  const matter = [label("service", c.service)];
  if (c.domain) matter.push(label("domain", c.domain));
  const open = (event) => {
    if (!event.target.closest("a")) location.hash = `#case/${encodeURIComponent(c.id)}`;
  };
  return html`<tr class="link${c.overdue ? " overdue" : ""}" data-id=${c.id} @click=${open}>
    <td><a href="#case/${encodeURIComponent(c.id)}">${c.id}</a></td>
    <td>${c.citizen_name || "（未填写）"}<br><span class="sub">${c.citizen_number || ""}</span></td>
    <td>${matter.join(" · ")}<br><span class="sub">${c.summary.slice(0, 40)}</span></td>
    <td>${label("triage", c.triage)}</td>
    ${page.staff ? html`<td>${who(c.owner)}</td>` : nothing}
    <td>${when(c.deadline)}<br><span class=${d.overdue ? "overdue-text" : "sub"}>${d.text}</span></td>
    <td>${statusFlag(c)}</td></tr>`;
}

export function wireList() {
  for (const id of ["list-status", "list-owner", "list-overdue"]) $(id).addEventListener("change", loadList);
}
