// One contact as the ledger keeps it: the facts, the case form saved in the call, its
// timeline and its transcript. Shown in a case and in the ledger search.
import { html, nothing } from "../lib/dom.js";
import { clock, label, stars, when, whenExact } from "../lib/format.js";
import { LABELS } from "../lib/labels.js";
import { api, explain, who } from "./page.js";

// The API's answer ({ok, status, body}) for one contact of the ledger.
export async function loadContact(cid) {
  return api(`/api/ledger/contacts/${encodeURIComponent(cid)}`);
}

// The inside of a <details class="contact">: loading, refused, or the contact.
export function contactBody(cid, res, loading = `来电 ${cid}（正在载入…）`) {
  if (!res) return html`<summary>${loading}</summary>`;
  if (!res.ok) return html`<summary>来电 ${cid}</summary><p class="error">${explain(res)}</p>`;
  return contactTemplate(res.body);
}

function contactTemplate(c) {
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
    ["语音菜单", c.menu_words || "—"],
    ["来自视频终端", c.origin || "—"],
    ["来电人评价", c.rating ? `${stars(c.rating)}（${c.rating} 分）` : "未评价"],
  ];
  if (form.summary) facts.push(["通话记录摘要", form.summary]);
  if (form.advice) facts.push(["答复内容", form.advice]);
  if (form.disposition) facts.push(["办结方式", label("disposition", form.disposition)]);
  return html`<summary>${head}</summary>
    <dl class="fields">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
    <h3>来电过程</h3>
    ${c.timeline.length ? html`<table class="timeline"><thead><tr><th>时间</th><th>事件</th><th>律师</th><th>说明</th></tr></thead>
      <tbody>${c.timeline.map((e) => html`<tr><td>${whenExact(e.at)}</td>
        <td>${LABELS.event[e.type] || e.type}</td><td>${e.lawyer ? who(e.lawyer) : ""}</td>
        <td>${LABELS.reason[e.reason] || e.reason || ""}</td></tr>`)}</tbody></table>`
      : html`<p class="sub">暂无记录。</p>`}
    <h3>通话转写</h3>
    ${c.transcript.length ? html`<ol class="transcript">${c.transcript.map(lineTemplate)}</ol>`
      : html`<p class="sub">本次来电没有转写记录。</p>`}
    ${c.case_id ? html`<p>所属案件：<a href="#case/${encodeURIComponent(c.case_id)}">${c.case_id}</a></p>` : nothing}`;
}

function lineTemplate(t) {
  const speaker = LABELS.leg[t.leg] || "";
  if (t.kind === "gap") return html`<li class="gap">${clock(t.start)} ${speaker}：转写服务中断，这段话未能转写</li>`;
  if (t.kind === "hold") {  // the lawyer's 保持 button: the caller heard the music
    return html`<li class="hold">${clock(t.start)} ${t.text === "on" ? "律师保持通话（来电人听等待音乐）" : "律师恢复通话"}</li>`;
  }
  return html`<li data-leg=${t.leg}><span class="at">${clock(t.start)}</span><span class="who">${speaker}</span>${t.text}</li>`;
}
