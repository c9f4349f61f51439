// What the case ledger knows (who is signed in, the lawyers' names, the case on screen),
// its views, and the API: one request helper and what its refusals mean.
import { $ } from "../lib/dom.js";

export const STAFF = ["supervisor", "admin"];

export const page = {
  me: null,
  staff: false,
  lawyers: {},     // id -> name (staff: from /api/lawyers)
  caseId: null,
  case: null,
};
window.lawlineCases = page;  // for the browser tests and for support staff

// A lawyer as "name（id）", or the id when the name is unknown.
export function who(id) {
  if (!id) return "—";
  const name = page.lawyers[id];
  return name ? `${name}（${id}）` : id;
}

export function setView(name) {
  for (const el of document.querySelectorAll(".view")) el.hidden = el.id !== `view-${name}`;
  for (const a of document.querySelectorAll("nav.tabs a")) {
    if (a.dataset.view === name || (name === "case" && a.dataset.view === "list")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// A line of text in a result or summary element, plain, in error red or in ok green.
export function say(id, text, kind = "") {
  const el = $(id);
  el.textContent = text;
  el.className = kind === "error" ? "error" : kind === "ok" ? "ok-text" : "";
}

// One request; signed out sends to the sign-in page. Returns {ok, status, body}.
export async function api(path, json = undefined, method = undefined) {
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

export function explain(res) {
  const d = res.body && res.body.detail;
  if (typeof d === "string" && DETAILS[d]) return DETAILS[d];
  if (res.status === 403) return "无权执行此操作。";
  if (res.status === 404) return "没有找到。";
  if (typeof d === "string") return `操作未成功：${d}`;
  return `操作未成功（${res.status}）。`;
}
