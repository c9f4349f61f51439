// The case ledger: a lawyer's cases (staff: everyone's), one case with its contacts,
// notes, hand-over, closing and legal-aid application; for staff the ledger search, the
// monthly export and figures, and the lawyers' star grades. Routed by the #fragment:
// #list, #case/<id>, #search, #reports. Everything shown comes from the API under /api.
"use strict";

const $ = (id) => document.getElementById(id);
// The centre's clock: all of China keeps Beijing time (UTC+8, no summer time). Months
// and days in searches and reports start at midnight here, whatever the PC is set to.
const TZ = "Asia/Shanghai";
const OFFSET = "+08:00";
const DAY_MS = 86_400_000;
const STAFF = ["supervisor", "admin"];

const page = {
  me: null,
  staff: false,
  lawyers: {},     // id -> name (staff: from /api/lawyers)
  caseId: null,
  case: null,
};
window.lawlineCases = page;  // for the browser tests and for support staff

// ----- small things ---------------------------------------------------------------------

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[ch]));
}

const dateTimeFmt = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});
const secondsFmt = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const monthFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit" });

function when(iso) { return iso ? dateTimeFmt.format(new Date(iso)) : "—"; }
function whenExact(iso) { return iso ? secondsFmt.format(new Date(iso)) : "—"; }
function label(kind, value, empty = "—") { return value ? (LABELS[kind][value] || value) : empty; }
function who(id) {
  if (!id) return "—";
  const name = page.lawyers[id];
  return name ? `${name}（${id}）` : id;
}
function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
function stars(n) { return "★".repeat(n) + "☆".repeat(5 - n); }
function fillSelect(el, labels, first = null) {
  const options = first ? [first, ...Object.entries(labels)] : Object.entries(labels);
  el.innerHTML = options.map(([v, l]) => `<option value="${esc(v)}">${esc(l)}</option>`).join("");
}

let toastTimer = null;
function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 8000);
}

// One request; signed out sends to the sign-in page. Returns {ok, status, body}.
async function api(path, json = undefined, method = undefined) {
  const init = {};
  if (json !== undefined) {
    init.method = method || "POST";
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(json);
  } else if (method) {
    init.method = method;
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch {
    return { ok: false, status: 0, body: { detail: "network" } };
  }
  if (r.status === 401) {
    location.href = "/login";
    return { ok: false, status: 401, body: null };
  }
  let body = null;
  try { body = await r.json(); } catch { /* no body */ }
  return { ok: r.ok, status: r.status, body };
}

// What the API's refusals mean, in words a lawyer reads at a glance.
const DETAILS = {
  network: "无法连接服务器，请检查网络后重试。",
  "no such case": "没有这个案件。",
  "this case is not yours": "这不是您承办的案件，无权查看或办理。",
  "the case is closed": "案件已办结，不能再修改。",
  "the case is closed already": "案件已经办结。",
  "the case is already theirs": "该案件已由这位律师承办。",
  "a hand-over needs a reason": "请填写移交原因。",
  "this contact is not yours": "该来电由其他律师接听，您无权查看详情。",
  "no such contact in the ledger": "台帐中没有该来电记录。",
  "until must be after since": "结束日期须晚于开始日期。",
};

function explain(res) {
  const d = res.body && res.body.detail;
  if (typeof d === "string" && DETAILS[d]) return DETAILS[d];
  if (res.status === 403) return "无权执行此操作。";
  if (res.status === 404) return "没有找到。";
  if (typeof d === "string") return `操作未成功：${d}`;
  return `操作未成功（${res.status}）。`;
}

// 422: FastAPI names the field in `loc`; each message goes next to its field.
const FIELD_NAMES = {
  applicant_name: "申请人姓名", id_number: "公民身份号码", phone: "联系电话", address: "住址",
  facts: "案情", exemptions: "免审情形", text: "跟进内容", to_lawyer: "律师工号", reason: "移交原因",
  summary: "问题摘要", told: "一次性告知内容", citizen_name: "当事人姓名", referral_body: "转办单位名称",
};

function fieldMessage(field, d) {
  const name = FIELD_NAMES[field] || field;
  if (field === "id_number" && d.type === "value_error") {
    return "公民身份号码不正确：应为 18 位，前 17 位是数字，最后一位是校验码（数字或 X），请与身份证核对。";
  }
  if (d.type === "missing" || (d.type === "string_too_short" && d.ctx && d.ctx.min_length === 1)) {
    return `请填写${name}。`;
  }
  if (d.type === "string_too_long" && d.ctx) return `${name}太长，最多 ${d.ctx.max_length} 字。`;
  if (d.type === "enum") return `${name}的选项无效。`;
  return `${name}填写有误（${d.msg}）。`;
}

function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// Shows each field's error by its field (ids `${prefix}-${field}` and `...-error`);
// returns what could not be placed, or null if this was no field error.
function showFieldErrors(prefix, res) {
  const detail = res.body && res.body.detail;
  if (res.status !== 422 || !Array.isArray(detail)) return null;
  const unplaced = [];
  let first = null;
  for (const d of detail) {
    const loc = d.loc || [];
    const field = loc[0] === "body" ? loc[1] : loc[loc.length - 1];
    const msg = fieldMessage(field, d);
    const errorEl = $(`${prefix}-${field}-error`);
    if (!errorEl) { unplaced.push(msg); continue; }
    errorEl.textContent = msg;
    const input = $(`${prefix}-${field}`);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", errorEl.id);
      first = first || input;
    }
  }
  if (first && first.focus) first.focus();
  return unplaced;
}

function say(id, text, kind = "") {
  const el = $(id);
  el.textContent = text;
  el.className = kind === "error" ? "error" : kind === "ok" ? "ok-text" : "";
}

// ----- views ------------------------------------------------------------------------------

function setView(name) {
  for (const el of document.querySelectorAll(".view")) el.hidden = el.id !== `view-${name}`;
  for (const a of document.querySelectorAll("nav.tabs a")) {
    if (a.dataset.view === name || (name === "case" && a.dataset.view === "list")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route() {
  const [view, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  if (view === "case" && rest.length) showCase(decodeURIComponent(rest.join("/")));
  else if (view === "search" && page.staff) showSearch();
  else if (view === "reports" && page.staff) showReports();
  else showList();
}
window.addEventListener("hashchange", route);

// ----- the case list ----------------------------------------------------------------------

// Days left, or how long overdue, as a lawyer would say it.
function deadlineInfo(c) {
  if (c.status === "closed") return { text: "已办结", overdue: false };
  const left = new Date(c.deadline).getTime() - Date.now();
  if (c.overdue || left < 0) {
    const days = Math.floor(-left / DAY_MS);
    return { text: days >= 1 ? `已逾期 ${days} 天` : "已逾期（不足 1 天）", overdue: true };
  }
  if (left < DAY_MS) {
    const hours = Math.floor(left / 3_600_000);
    return { text: hours >= 1 ? `剩余不足 1 天（约 ${hours} 小时）` : "即将到期（不足 1 小时）", overdue: false };
  }
  return { text: `剩余 ${Math.floor(left / DAY_MS)} 天`, overdue: false };
}

function statusFlag(c) {
  if (c.overdue) return `<span class="flag">已逾期</span>`;
  if (c.status === "closed") return `<span class="flag closed">已办结</span>`;
  return `<span class="flag ok">办理中</span>`;
}

function showList() {
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
  $("list-rows").innerHTML = cases.map((c) => {
    const d = deadlineInfo(c);
    const matter = [label("service", c.service)];
    if (c.domain) matter.push(label("domain", c.domain));
    return `<tr class="link${c.overdue ? " overdue" : ""}" data-id="${esc(c.id)}">`
      + `<td><a href="#case/${encodeURIComponent(c.id)}">${esc(c.id)}</a></td>`
      + `<td>${esc(c.citizen_name || "（未填写）")}<br><span class="sub">${esc(c.citizen_number || "")}</span></td>`
      + `<td>${esc(matter.join(" · "))}<br><span class="sub">${esc(c.summary.slice(0, 40))}</span></td>`
      + `<td>${esc(label("triage", c.triage))}</td>`
      + (page.staff ? `<td>${esc(who(c.owner))}</td>` : "")
      + `<td>${esc(when(c.deadline))}<br><span class="${d.overdue ? "overdue-text" : "sub"}">${esc(d.text)}</span></td>`
      + `<td>${statusFlag(c)}</td></tr>`;
  }).join("");
}

$("list-rows").addEventListener("click", (event) => {
  const row = event.target.closest("tr[data-id]");
  if (row && !event.target.closest("a")) location.hash = `#case/${encodeURIComponent(row.dataset.id)}`;
});
for (const id of ["list-status", "list-owner", "list-overdue"]) $(id).addEventListener("change", loadList);

// ----- one case -----------------------------------------------------------------------------

async function showCase(id) {
  setView("case");
  const fresh = page.caseId !== id;
  page.caseId = id;
  if (fresh) {
    page.case = null;
    $("case-id").textContent = id;
    $("case-flag").innerHTML = "";
    $("case-fields").innerHTML = "";
    $("case-contacts").innerHTML = "";
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
  const d = deadlineInfo(c);
  $("case-id").textContent = c.id;
  $("case-flag").innerHTML = statusFlag(c);
  const referral = c.referral_to
    ? `${label("referral", c.referral_to)}${c.referral_body ? `（${c.referral_body}）` : ""}` : "不转办";
  const rows = [
    ["当事人", c.citizen_name || "（未填写）"],
    ["来电号码", c.citizen_number || "未显示"],
    ["承办律师", who(c.owner)],
    ["立案", `${when(c.opened_at)} · ${who(c.opened_by)}`],
    ["分类", label("triage", c.triage)],
    ["服务类型", label("service", c.service)],
    ["法律领域", label("domain", c.domain, "（未分类）")],
    ["办理期限", null],
    ["状态", c.status === "closed" ? `已办结（${when(c.closed_at)}）` : "办理中"],
    ["问题摘要", c.summary || "—"],
    ["一次性告知内容", c.told || "—"],
    ["办结方式", label("disposition", c.disposition)],
    ["转办", referral],
  ];
  $("case-fields").innerHTML = rows.map(([k, v]) => {
    if (k === "办理期限") {
      return `<dt>${k}</dt><dd id="case-deadline" class="${d.overdue ? "overdue-text" : ""}">${esc(when(c.deadline))}`
        + (c.status === "open" ? ` · <strong>${esc(d.text)}</strong>` : "") + "</dd>";
    }
    return `<dt>${k}</dt><dd>${esc(v)}</dd>`;
  }).join("");

  $("case-notes").innerHTML = c.notes.map((n) => `<li><span class="sub">${esc(when(n.at))} · ${esc(who(n.author))}</span><br>${esc(n.text)}</li>`).join("");
  $("case-notes-empty").hidden = c.notes.length > 0;
  $("case-handovers").innerHTML = c.handovers.length
    ? `<table><thead><tr><th>时间</th><th>原承办</th><th>移交给</th><th>经办人</th><th>原因</th></tr></thead><tbody>`
      + c.handovers.map((h) => `<tr><td>${esc(when(h.at))}</td><td>${esc(who(h.from))}</td><td>${esc(who(h.to))}</td>`
        + `<td>${esc(who(h.by))}</td><td>${esc(h.reason)}</td></tr>`).join("") + "</tbody></table>"
    : `<p class="sub">本案未曾移交。移交后由新的承办律师负责，并留下记录。</p>`;

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

// The contacts of the case, each with its timeline and transcript.
async function loadContacts(ids) {
  const box = $("case-contacts");
  if (!ids.length) { box.innerHTML = `<p class="sub">暂无关联来电。</p>`; return; }
  box.innerHTML = "";
  ids.forEach((cid, i) => {
    const el = document.createElement("details");
    el.className = "contact";
    el.dataset.contact = cid;
    el.open = i === 0;
    el.innerHTML = `<summary>来电 ${esc(cid)}（正在载入…）</summary>`;
    box.append(el);
    loadContactInto(el, cid);
  });
}

async function loadContactInto(el, cid) {
  const res = await api(`/api/ledger/contacts/${encodeURIComponent(cid)}`);
  if (!res.ok) {
    el.innerHTML = `<summary>来电 ${esc(cid)}</summary><p class="error">${esc(explain(res))}</p>`;
    return;
  }
  el.innerHTML = contactHtml(res.body);
}

function contactHtml(c) {
  const matter = [label("service", c.service)];
  if (c.domain) matter.push(label("domain", c.domain));
  const head = `${when(c.entered_at)} · ${label("channel", c.channel)} · ${matter.join(" · ")} · `
    + label("contactState", c.state);
  const form = c.case_form || {};
  const facts = [
    ["来电号码", c.caller || "未显示"],
    ["首接律师", who(c.first_lawyer)],
    ["办理律师", who(c.lawyer)],
    ["接听时间", whenExact(c.answered_at)],
    ["结束时间", whenExact(c.ended_at)],
    ["绿色通道", label("green", c.green, "否")],
    ["语音菜单", c.menu_path || "—"],
    ["来自视频终端", c.origin || "—"],
    ["来电人评价", c.rating ? `${stars(c.rating)}（${c.rating} 分）` : "未评价"],
  ];
  if (form.summary) facts.push(["通话记录摘要", form.summary]);
  if (form.advice) facts.push(["答复内容", form.advice]);
  if (form.disposition) facts.push(["办结方式", label("disposition", form.disposition)]);
  const timeline = c.timeline.map((e) => `<tr><td>${esc(whenExact(e.at))}</td>`
    + `<td>${esc(LABELS.event[e.type] || e.type)}</td><td>${esc(e.lawyer ? who(e.lawyer) : "")}</td>`
    + `<td>${esc(LABELS.reason[e.reason] || e.reason || "")}</td></tr>`).join("");
  const lines = c.transcript.map((t) => t.kind === "gap"
    ? `<li class="gap">${clock(t.start)} ${esc(LABELS.leg[t.leg] || "")}：转写服务中断，这段话未能转写</li>`
    : `<li data-leg="${esc(t.leg)}"><span class="at">${clock(t.start)}</span>`
      + `<span class="who">${esc(LABELS.leg[t.leg] || "")}</span>${esc(t.text)}</li>`).join("");
  return `<summary>${esc(head)}</summary>`
    + `<dl class="fields">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`
    + `<h3>来电过程</h3>`
    + (timeline ? `<table class="timeline"><thead><tr><th>时间</th><th>事件</th><th>律师</th><th>说明</th></tr></thead>`
      + `<tbody>${timeline}</tbody></table>` : `<p class="sub">暂无记录。</p>`)
    + `<h3>通话转写</h3>`
    + (lines ? `<ol class="transcript">${lines}</ol>` : `<p class="sub">本次来电没有转写记录。</p>`)
    + (c.case_id ? `<p>所属案件：<a href="#case/${encodeURIComponent(c.case_id)}">${esc(c.case_id)}</a></p>` : "");
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
  $("audit-rows").innerHTML = res.body.map((a) => `<tr><td>${esc(whenExact(a.at))}</td><td>${esc(who(a.actor))}</td>`
    + `<td>${esc(LABELS.audit[a.action] || a.action)}</td><td>${esc(auditDetail(a))}</td></tr>`).join("");
}

// Sends one form's request; field errors go by their fields, others to `result`.
async function submit(form, prefix, result, path, body, done, method = undefined) {
  clearFieldErrors(form);
  say(result, "正在提交…");
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const res = await api(path, body, method);
    if (res.ok) { await done(res.body); return; }
    const unplaced = showFieldErrors(prefix, res);
    if (unplaced === null) say(result, explain(res), "error");
    else say(result, unplaced.length ? unplaced.join(" ") : "请按提示修改后再提交。", "error");
  } finally {
    button.disabled = false;
  }
}

const casePath = (suffix = "") => `/api/cases/${encodeURIComponent(page.caseId)}${suffix}`;

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
      toast(`案件 ${c.id} 已移交给 ${c.owner}。`);
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

// ----- the ledger search (staff) -------------------------------------------------------------

function showSearch() {
  setView("search");
  $("search-number").focus();
}

// A day in the centre's time, as an instant the API understands.
function dayStart(date) { return new Date(`${date}T00:00:00${OFFSET}`); }

$("search-form").addEventListener("submit", async (event) => {
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
  $("search-rows").innerHTML = found.map((c) => {
    const matter = [label("service", c.service)];
    if (c.domain) matter.push(label("domain", c.domain));
    return `<tr data-contact="${esc(c.id)}"><td>${esc(when(c.entered_at))}</td><td>${esc(c.caller || "未显示")}</td>`
      + `<td>${esc(matter.join(" · "))}</td><td>${esc(who(c.first_lawyer))}</td><td>${esc(who(c.lawyer))}</td>`
      + `<td>${esc(label("contactState", c.state))}</td><td>${c.rating ? `<span class="stars">${stars(c.rating)}</span>` : "—"}</td>`
      + `<td>${c.case_id ? `<a href="#case/${encodeURIComponent(c.case_id)}">${esc(c.case_id)}</a>` : "—"}</td>`
      + `<td><button type="button" class="show-contact" aria-expanded="false">查看详情</button></td></tr>`;
  }).join("");
});
$("search-form").addEventListener("reset", () => {
  $("search-rows").innerHTML = "";
  $("search-table").hidden = true;
  say("search-summary", "");
});

$("search-rows").addEventListener("click", async (event) => {
  const button = event.target.closest("button.show-contact");
  if (!button) return;
  const row = button.closest("tr");
  const next = row.nextElementSibling;
  if (next && next.classList.contains("contact-detail")) {
    next.remove();
    button.setAttribute("aria-expanded", "false");
    button.textContent = "查看详情";
    return;
  }
  const detail = document.createElement("tr");
  detail.className = "contact-detail";
  detail.innerHTML = `<td colspan="9"><details class="contact" open><summary>正在载入…</summary></details></td>`;
  row.after(detail);
  button.setAttribute("aria-expanded", "true");
  button.textContent = "收起";
  await loadContactInto(detail.querySelector("details"), row.dataset.contact);
});

// ----- monthly reports and grades (staff) ------------------------------------------------------

function monthRange(ym) {
  const [y, m] = ym.split("-").map(Number);
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, "0")}`;
  return { since: `${ym}-01T00:00:00${OFFSET}`, until: `${next}-01T00:00:00${OFFSET}` };
}

function showReports() {
  setView("reports");
  if (!$("report-month").value) $("report-month").value = monthFmt.format(new Date()).slice(0, 7);
  loadReports();
}
$("report-month").addEventListener("change", loadReports);

const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
const score = (x) => (x === null || x === undefined ? "—" : x.toFixed(2));

async function loadReports() {
  const ym = $("report-month").value;
  if (!/^\d{4}-\d{2}$/.test(ym)) return;
  const range = monthRange(ym);
  const [y, m] = ym.split("-");
  for (const fmt of ["xlsx", "csv"]) {
    $(`export-${fmt}`).href = `/api/ledger/export?${new URLSearchParams({ ...range, format: fmt })}`;
  }
  $("figures-title").textContent = `${y} 年 ${Number(m)} 月数据`;
  const [figures, grades] = await Promise.all([
    api(`/api/ledger/figures?${new URLSearchParams(range)}`),
    api("/api/grades"),
  ]);
  $("figures-error").hidden = figures.ok;
  if (!figures.ok) {
    $("figures-error").textContent = explain(figures);
  } else {
    const f = figures.body;
    const rows = [
      ["来电总数", f.contacts], ["接通", f.answered], ["未接通（来电人挂断）", f.abandoned],
      ["接通率", pct(f.answer_rate)], ["法律咨询（已接通）", f.consultations],
      ["法律援助案件", f.legal_aid_cases], ["人民调解", f.mediations], ["评价数", f.ratings],
      ["满意率（4 分及以上）", pct(f.satisfaction)], ["平均评分", score(f.average_rating)],
    ];
    $("figures-rows").innerHTML = rows.map(([k, v]) => `<tr><th scope="row">${k}</th><td>${esc(v)}</td></tr>`).join("");
    const lawyers = Object.entries(f.per_lawyer);
    $("per-lawyer-rows").innerHTML = lawyers.length
      ? lawyers.map(([id, x]) => `<tr><td>${esc(who(id))}</td><td>${x.answered}</td>`
        + `<td>${Math.round(x.talk_s / 60)}</td><td>${score(x.average_rating)}</td></tr>`).join("")
      : `<tr><td colspan="4" class="sub">本月没有接听记录。</td></tr>`;
    const domains = Object.entries(f.per_domain);
    $("per-domain-rows").innerHTML = domains.length
      ? domains.map(([d, x]) => `<tr><td>${esc(d === "unknown" ? "（未分类）" : label("domain", d))}</td>`
        + `<td>${x.contacts}</td><td>${x.answered}</td></tr>`).join("")
      : `<tr><td colspan="3" class="sub">本月没有来电。</td></tr>`;
  }
  if (grades.ok) {
    $("grades-rows").innerHTML = grades.body.length
      ? grades.body.map((g) => `<tr><td>${esc(who(g.lawyer))}</td><td>${g.ratings}</td><td>${score(g.average_rating)}</td>`
        + `<td>${g.stars ? `<span class="stars">${stars(g.stars)}</span> ${g.stars} 星` : "评价数不足，暂不评级"}</td></tr>`).join("")
      : `<tr><td colspan="4" class="sub">还没有来电人评价。</td></tr>`;
  }
}

// ----- start ------------------------------------------------------------------------------------

$("sign-out").onclick = async () => {
  await fetch("/api/session", { method: "DELETE" });
  location.href = "/login";
};

function fillForms() {
  fillSelect($("edit-triage"), LABELS.triage);
  fillSelect($("edit-service"), LABELS.service);
  fillSelect($("edit-domain"), LABELS.domain, ["", "（未分类）"]);
  fillSelect($("edit-referral_to"), LABELS.referral);
  fillSelect($("close-disposition"), LABELS.disposition);
  fillSelect($("search-service"), LABELS.service, ["", "全部"]);
  fillSelect($("search-domain"), LABELS.domain, ["", "全部"]);
  fillSelect($("search-state"), LABELS.contactState, ["", "全部"]);
  $("aid-exemption-boxes").innerHTML = Object.entries(LABELS.exemption).map(([v, l]) =>
    `<label class="inline"><input type="checkbox" name="aid-exemption" value="${esc(v)}"> ${esc(l)}</label>`).join("");
}

async function start() {
  fillForms();
  const me = await api("/api/session");
  if (!me.ok) { if (me.status !== 401) toast(explain(me)); return; }
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
      const options = lawyers.body.map((lw) => `<option value="${esc(lw.id)}">${esc(lw.name || lw.id)}（${esc(lw.id)}）</option>`);
      $("list-owner").innerHTML = `<option value="">全部律师</option>${options.join("")}`;
    }
  }
  // Everyone may pick a colleague to hand a case to (names only, no figures).
  const colleagues = await api("/api/colleagues");
  if (colleagues.ok) {
    for (const c of colleagues.body) page.lawyers[c.id] = c.name || page.lawyers[c.id];
    $("lawyer-ids").innerHTML = colleagues.body
      .map((c) => `<option value="${esc(c.id)}">${esc(c.name || c.id)}</option>`).join("");
  }
  route();
}
start();
