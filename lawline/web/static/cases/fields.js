// A form's request and its answer: 422s put each message by its field (ids
// `${prefix}-${field}` and `...-error`), anything else goes to the form's result line.
import { $ } from "../lib/dom.js";
import { api, explain, say } from "./page.js";

// 422: FastAPI names the field in `loc`; each message goes next to its field.
export const FIELD_NAMES = {
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

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

// Shows each field's error by its field; returns what could not be placed, or null if
// this was no field error.
export function showFieldErrors(prefix, res) {
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

// Sends one form's request; field errors go by their fields, others to `result`.
export async function submit(form, prefix, result, path, body, done, method = undefined) {
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
