// One case: its fields and deadline, its contacts, follow-up notes, hand-overs, the
// edit, close and legal-aid forms, and (staff) the audit trail.
import { $, draw, html, nothing, toast } from "../lib/dom.js";
import { label, when, whenExact } from "../lib/format.js";
import { LABELS } from "../lib/labels.js";
import { contactBody, loadContact } from "./contact.js";
import { deadlineInfo, statusFlag } from "./deadline.js";
import { clearFieldErrors, FIELD_NAMES, submit } from "./fields.js";
import { api, explain, page, say, setView, who } from "./page.js";

// The case's contacts: ids in order, and each one's answer once loaded.
const contacts = { ids: [], loaded: new Map() };

export async function showCase(id) {
  setView("case");
  const fresh = page.caseId !== id;
  page.caseId = id;
  if (fresh) {
    page.case = null;
    $("case-id").textContent = id;
    draw($("case-flag"), nothing);
    draw($("case-fields"), nothing);
    contacts.ids = [];
    contacts.loaded.clear();
    draw($("case-contacts"), nothing);
    $("case-body").hidden = true;
    for (const form of document.querySelectorAll("#view-case form")) { form.reset(); clearFieldErrors(form); }
    for (const r of ["edit-result", "note-result", "handover-result", "close-result", "aid-result"]) say(r, "");
  }
  await refreshCase(true);
}

async function refreshCase(withContacts = false) {
  const id = page.caseId;
  const res = await api(`/api/cases/${encodeURIComponent(id)}`);
  if (page.caseId !== id) return;
  $("case-error").hidden = res.ok;
  if (!res.ok) {
    $("case-error").textContent = explain(res);
    $("case-body").hidden = true;
    return;
  }
  const first = page.case === null;
  page.case = res.body;
  renderCase(res.body, first);
  $("case-body").hidden = false;
  if (withContacts) loadContacts(res.body.contacts);
  if (page.staff) loadAudit(id);
}

function renderCase(c, first) {
  $("case-id").textContent = c.id;
  draw($("case-flag"), statusFlag(c));
  draw($("case-fields"), fieldsTemplate(c));
  draw($("case-notes"), c.notes.map((n) => html`<li><span class="sub">${when(n.at)} · ${who(n.author)}</span><br>${n.text}</li>`));
  $("case-notes-empty").hidden = c.notes.length > 0;
  draw($("case-handovers"), c.handovers.length
    ? html`<table><thead><tr><th>时间</th><th>原承办</th><th>移交给</th><th>经办人</th><th>原因</th></tr></thead><tbody>${
      c.handovers.map((h) => html`<tr><td>${when(h.at)}</td><td>${who(h.from)}</td><td>${who(h.to)}</td>
        <td>${who(h.by)}</td><td>${h.reason}</td></tr>`)}</tbody></table>`
    : html`<p class="sub">本案未曾移交。移交后由新的承办律师负责，并留下记录。</p>`);

  const open = c.status === "open";
  $("edit-card").hidden = !open;
  $("close-card").hidden = !open;
  $("aid-card").hidden = !open;
  if (first) {
    $("edit-citizen_name").value = c.citizen_name;
    $("edit-triage").value = c.triage;
    $("edit-service").value = c.service;
    $("edit-domain").value = c.domain || "";
    $("edit-summary").value = c.summary;
    $("edit-told").value = c.told;
    $("edit-referral_to").value = c.referral_to || "";
    $("edit-referral_body").value = c.referral_body;
    $("close-disposition").value = c.disposition || "answered";
    $("aid-applicant_name").value = c.citizen_name;
    if (/^\+?\d+$/.test(c.citizen_number)) $("aid-phone").value = c.citizen_number;
    $("aid-facts").value = c.summary;
  }
}

function fieldsTemplate(c) {
  const d = deadlineInfo(c);
  const referral = c.referral_to
    ? `${label("referral", c.referral_to)}${c.referral_body ? `（${c.referral_body}）` : ""}` : "不转办";
  const field = (k, v) => html`<dt>${k}</dt><dd>${v}</dd>`;
  return html`${field("当事人", c.citizen_name || "（未填写）")}
    ${field("来电号码", c.citizen_number || "未显示")}
    ${field("承办律师", who(c.owner))}
    ${field("立案", `${when(c.opened_at)} · ${who(c.opened_by)}`)}
    ${field("分类", label("triage", c.triage))}
    ${field("服务类型", label("service", c.service))}
    ${field("法律领域", label("domain", c.domain, "（未分类）"))}
    <dt>办理期限</dt><dd id="case-deadline" class=${d.overdue ? "overdue-text" : ""}>${when(c.deadline)}${
      c.status === "open" ? html` · <strong>${d.text}</strong>` : nothing}</dd>
    ${field("状态", c.status === "closed" ? `已办结（${when(c.closed_at)}）` : "办理中")}
    ${field("问题摘要", c.summary || "—")}
    ${field("一次性告知内容", c.told || "—")}
    ${field("办结方式", label("disposition", c.disposition))}
    ${field("转办", referral)}`;
}

// The contacts of the case, each with its timeline and transcript; the first one open.
function loadContacts(ids) {
  contacts.ids = ids;
  contacts.loaded.clear();
  renderContacts();
  const id = page.caseId;
  for (const cid of ids) {
    loadContact(cid).then((res) => {
      if (page.caseId !== id || contacts.ids !== ids) return;
      contacts.loaded.set(cid, res);
      renderContacts();
    });
  }
}

function renderContacts() {
  draw($("case-contacts"), contacts.ids.length
    ? contacts.ids.map((cid, i) => html`<details class="contact" data-contact=${cid} ?open=${i === 0}>${
      contactBody(cid, contacts.loaded.get(cid))}</details>`)
    : html`<p class="sub">暂无关联来电。</p>`);
}

// The audit trail's details ("contact X", "to zhao", "summary, told") in Chinese.
const AUDIT_FIELDS = { ...FIELD_NAMES, triage: "分类", service: "服务类型", domain: "法律领域",
  disposition: "办结方式", referral_to: "转办去向" };
function auditDetail(a) {
  const d = a.detail || "";
  let m;
  if ((m = d.match(/^contact (.+)$/))) return `来电 ${m[1]}`;
  if ((m = d.match(/^to (.+)$/))) return `移交给 ${who(m[1])}`;
  if ((m = d.match(/^application (.+)$/))) return `申请编号 ${m[1]}`;
  if (a.action === "update") return `修改了：${d.split(", ").map((f) => AUDIT_FIELDS[f] || f).join("、")}`;
  return d;
}

async function loadAudit(id) {
  const res = await api(`/api/cases/${encodeURIComponent(id)}/audit`);
  if (!res.ok || page.caseId !== id) return;
  draw($("audit-rows"), res.body.map((a) => html`<tr><td>${whenExact(a.at)}</td><td>${who(a.actor)}</td>
    <td>${LABELS.audit[a.action] || a.action}</td><td>${auditDetail(a)}</td></tr>`));
}

// ----- the forms ------------------------------------------------------------------------------

const casePath = (suffix = "") => `/api/cases/${encodeURIComponent(page.caseId)}${suffix}`;

export function wireCase() {
  $("note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("note-text").value.trim();
    submit(event.target, "note", "note-result", casePath("/notes"), { text }, async () => {
      $("note-text").value = "";
      say("note-result", "已添加。", "ok");
      await refreshCase();
    });
  });

  $("handover-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { to_lawyer: $("handover-to_lawyer").value.trim(), reason: $("handover-reason").value.trim() };
    submit(event.target, "handover", "handover-result", casePath("/handover"), body, async (c) => {
      event.target.reset();
      if (!page.staff) {
        // No longer the owner: the case leaves this lawyer's list.
        toast(`案件 ${c.id} 已移交给 ${c.owner}。`, 8000);
        location.hash = "#list";
        return;
      }
      say("handover-result", `已移交给 ${who(c.owner)}。`, "ok");
      await refreshCase();
    });
  });

  $("close-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { disposition: $("close-disposition").value || null };
    submit(event.target, "close", "close-result", casePath("/close"), body, async () => {
      say("close-result", "案件已办结。", "ok");
      await refreshCase();
    });
  });

  $("edit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = {
      citizen_name: $("edit-citizen_name").value.trim(),
      triage: $("edit-triage").value,
      service: $("edit-service").value,
      domain: $("edit-domain").value,
      summary: $("edit-summary").value,
      told: $("edit-told").value,
      referral_to: $("edit-referral_to").value,
      referral_body: $("edit-referral_body").value.trim(),
    };
    // Only what changed (the audit trail says which fields). A domain is never unset here.
    const body = Object.fromEntries(Object.entries(form)
      .filter(([k, v]) => v !== (page.case[k] || "") && !(k === "domain" && !v)));
    if (!Object.keys(body).length) { say("edit-result", "没有需要保存的修改。"); return; }
    submit(event.target, "edit", "edit-result", casePath(), body, async () => {
      say("edit-result", "已保存。", "ok");
      await refreshCase();
    }, "PATCH");
  });

  $("aid-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = {
      applicant_name: $("aid-applicant_name").value.trim(),
      id_number: $("aid-id_number").value.trim(),
      phone: $("aid-phone").value.trim(),
      address: $("aid-address").value.trim(),
      facts: $("aid-facts").value,
      exemptions: [...document.querySelectorAll('input[name="aid-exemption"]:checked')].map((x) => x.value),
    };
    submit(event.target, "aid", "aid-result", casePath("/legal-aid"), body, async (app) => {
      const test = app.means_test
        ? "需进行经济困难审查。"
        : `免于经济困难审查（${app.exemptions.map((e) => label("exemption", e)).join("、")}）。`;
      say("aid-result", `法律援助申请已提交，申请编号 ${app.id}；${test}`, "ok");
      if (page.staff) loadAudit(page.caseId);
    });
  });
}
