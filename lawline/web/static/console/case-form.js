// The case form: the call's record (service, domain, disposition, summary, advice) saved
// to lawline, and once the call is over 立案 (open a case in the ledger, or join one of
// the caller's open cases). Also the overdue badge on the link to the case ledger.
import { $, draw, fillSelect, html, nothing } from "../lib/dom.js";
import { LABELS, REFERRAL_OF_DISPOSITION } from "../lib/labels.js";
import { send, state } from "./state.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const openCase = { touched: new Set(), busy: false };

// The form's choices come from LABELS: one list of names for the whole page.
export function fillCaseChoices() {
  fillSelect($("case-service"), LABELS.service);
  fillSelect($("case-domain"), LABELS.domain, ["", "（未分类）"]);
  fillSelect($("case-disposition"), LABELS.disposition);
  fillSelect($("transfer-service"), LABELS.service, ["", "（同一队列）"]);
  fillSelect($("open-triage"), LABELS.triage);
  fillSelect($("open-referral"), LABELS.referral);
  $("open-triage").value = "general";
}

export function openCaseForm(contact) {
  state.caseContact = contact;
  $("case").hidden = false;
  $("case-service").value = contact.service;
  $("case-domain").value = contact.domain || "";
  $("case-disposition").value = "answered";
  $("case-summary").value = "";
  $("case-advice").value = "";
  $("case-saved").textContent = "";
  resetOpenCase();
}

export function caseSaved() {
  $("case-saved").textContent = `已保存 ${new Date().toLocaleTimeString("zh-CN")}`;
}

// How many of my cases are past their deadline, on the link to /cases.
export async function loadOverdue() {
  let cases;
  try {
    const r = await fetch("/api/cases?overdue=true");
    if (!r.ok) return;
    cases = await r.json();
  } catch { return; }
  const badge = $("overdue-badge");
  badge.textContent = cases.length ? `逾期 ${cases.length}` : "";
  badge.hidden = !cases.length;
  $("cases-link").title = cases.length ? `${cases.length} 件案件已超过办理期限` : "没有逾期案件";
}

// ----- 立案 in wrap-up -----------------------------------------------------------------------

function resetOpenCase() {
  $("open-case").hidden = true;
  openCase.touched.clear();
  document.querySelector('input[name="open-mode"][value="new"]').checked = true;
  $("open-new").hidden = false;
  $("open-join").hidden = true;
  $("open-triage").value = "general";
  for (const id of ["open-name", "open-told", "open-referral-body", "open-join-case"]) $(id).value = "";
  $("open-referral").value = "";
  $("open-join-pick-label").hidden = true;
  $("open-join-hint").hidden = true;
  $("open-case-send").disabled = false;
  $("open-case-send").textContent = "立案";
  setOpenResult("");
}

// 立案 is offered once the call is over, pre-filled from the case form above.
export function showOpenCase() {
  $("open-case").hidden = false;
  prefillOpenCase();
  suggestCases(state.caseContact);
}

function prefillOpenCase() {
  if (!openCase.touched.has("open-told")) $("open-told").value = $("case-advice").value;
  if (!openCase.touched.has("open-referral")) {
    $("open-referral").value = REFERRAL_OF_DISPOSITION[$("case-disposition").value] || "";
  }
}

// The caller's earlier contacts (in the offer) lead to their cases: those open and mine
// are offered to join. (A lawyer sees only the calls they took and the cases they own.)
async function suggestCases(contact) {
  const history = state.histories[contact.id] || [];
  if (!history.length) return;
  const caseIds = new Set((await Promise.all(history.map(async (h) => {
    try {
      const r = await fetch(`/api/ledger/contacts/${encodeURIComponent(h.id)}`);
      return r.ok ? (await r.json()).case_id : null;
    } catch { return null; }
  }))).filter(Boolean));
  if (!caseIds.size) return;
  const r = await fetch("/api/cases?status=open");
  if (!r.ok || state.caseContact !== contact) return;
  const theirs = (await r.json()).filter((c) => caseIds.has(c.id));
  if (!theirs.length) return;
  draw($("open-join-pick"), html`<option value="">（请选择）</option>${theirs.map((c) => html`<option
    value=${c.id}>${c.id} · ${c.citizen_name || "未填姓名"} · ${c.summary.slice(0, 30)}</option>`)}`);
  $("open-join-pick-label").hidden = false;
  $("open-join-hint").textContent = `该来电人有 ${theirs.length} 件由您承办、尚在办理中的案件，可选择“并入”。`;
  $("open-join-hint").hidden = false;
}

// What became of 立案: a line of text or a template (with the case's link).
function setOpenResult(content, error = false) {
  const el = $("open-case-result");
  draw(el, content || nothing);
  el.className = error ? "error" : "";
}

const OPEN_ERRORS = {
  "no such case": "没有这个案件编号，请核对。",
  "this case is not yours": "该案件不是您承办的，无法并入。",
  "that case is another citizen's": "该案件属于其他来电人，不能并入。",
  "this contact is not yours": "本次来电不是您接听的，不能立案。",
  "no such contact in the ledger (yet)": "本次来电尚未记入台帐，请稍后再试。",
};

function openCaseError(detail) {
  if (typeof detail !== "string") return "填写有误，请检查后重试。";
  const already = detail.match(/^this contact is already in case (.+)$/);
  if (already) return `本次来电已在案件 ${already[1]} 中。`;
  return OPEN_ERRORS[detail] || `立案未成功：${detail}`;
}

function opened(answer, join) {
  const link = html`<a href="/cases#case/${encodeURIComponent(answer.id)}" target="_blank"
    rel="noopener">${answer.id}</a>`;
  const due = new Date(answer.deadline).toLocaleString("zh-CN");
  return join ? html`已并入案件 ${link}。` : html`已立案，案件编号 ${link}，办理期限 ${due}。`;
}

async function sendOpenCase() {
  const contact = state.caseContact;
  if (!contact || openCase.busy) return;
  const join = document.querySelector('input[name="open-mode"]:checked').value === "join";
  const body = { contact_id: contact.id };
  if (join) {
    body.join_case = $("open-join-case").value.trim();
    if (!body.join_case) { setOpenResult("请填写要并入的案件编号。", true); $("open-join-case").focus(); return; }
  } else {
    Object.assign(body, {
      triage: $("open-triage").value,
      service: $("case-service").value,
      domain: $("case-domain").value || null,
      disposition: $("case-disposition").value || null,
      summary: $("case-summary").value,
      citizen_name: $("open-name").value.trim(),
      told: $("open-told").value,
      referral_to: $("open-referral").value,
      referral_body: $("open-referral-body").value.trim(),
    });
  }
  openCase.busy = true;
  $("open-case-send").disabled = true;
  setOpenResult("正在立案…");
  try {
    // The ledger is written from the event stream: the contact may take a moment to be there.
    for (let attempt = 0; ; attempt++) {
      const r = await fetch("/api/cases", {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      });
      if (r.status === 401) { location.href = "/login"; return; }
      const answer = await r.json().catch(() => ({}));
      if (r.ok) {
        setOpenResult(opened(answer, join));
        $("open-case-send").textContent = join ? "已并入" : "已立案";
        loadOverdue();
        return;
      }
      const notYet = (r.status === 404 && answer.detail === "no such contact in the ledger (yet)")
        || (r.status === 403 && answer.detail === "this contact is not yours");
      if (notYet && attempt < 8) {
        setOpenResult("来电记录正在记入台帐，请稍候…");
        await sleep(1000);
        continue;
      }
      setOpenResult(openCaseError(answer.detail), true);
      $("open-case-send").disabled = false;
      return;
    }
  } catch {
    setOpenResult("无法连接服务器，请稍后重试。", true);
    $("open-case-send").disabled = false;
  } finally {
    openCase.busy = false;
  }
}

export function wireCaseForm() {
  $("case-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!state.caseContact) return;
    const form = {
      service: $("case-service").value,
      domain: $("case-domain").value || null,
      disposition: $("case-disposition").value,
      summary: $("case-summary").value,
      advice: $("case-advice").value,
    };
    send("case", { contact_id: state.caseContact.id, form });
  });
  $("case-advice").addEventListener("input", prefillOpenCase);
  $("case-disposition").addEventListener("change", prefillOpenCase);
  for (const id of ["open-told", "open-referral"]) {
    $(id).addEventListener("input", () => openCase.touched.add(id));
  }
  for (const radio of document.querySelectorAll('input[name="open-mode"]')) {
    radio.addEventListener("change", () => {
      const join = radio.value === "join" && radio.checked;
      $("open-new").hidden = join;
      $("open-join").hidden = !join;
      $("open-case-send").textContent = join ? "并入案件" : "立案";
    });
  }
  $("open-join-pick").addEventListener("change", () => { $("open-join-case").value = $("open-join-pick").value; });
  $("open-case-send").onclick = sendOpenCase;
}
