// 分流规则: how each service queue relaxes what it asks of a lawyer as a caller waits
// (from N seconds on: the least proficiency in the caller's legal domain, or any lawyer
// of the service). The default, and a queue's own where it differs. Saved, it is in
// force within seconds; each save is kept with who and when.
import { $, draw, html, toast } from "../lib/dom.js";
import { when } from "../lib/format.js";
import { LABELS } from "../lib/labels.js";
import { call } from "./api.js";

const state = { policies: null };

function steps(owner, policy) {
  const set = (i, key, value) => { policy.steps[i][key] = value; };
  return html`<table class="waiting policy" data-queue=${owner}><thead><tr><th>等待满（秒）</th>
      <th>该领域熟练度至少</th><th>须懂该领域</th><th></th></tr></thead><tbody>
    ${policy.steps.map((s, i) => html`<tr>
      <td><input type="number" min="0" step="1" aria-label="等待秒数" .value=${String(s.after_s)}
        ?readonly=${i === 0} @change=${(e) => set(i, "after_s", Number(e.target.value))}></td>
      <td><select aria-label="熟练度" @change=${(e) => set(i, "min_proficiency", Number(e.target.value))}>
        ${[1, 2, 3, 4, 5].map((n) => html`<option value=${n} ?selected=${s.min_proficiency === n}>${n}</option>`)}
      </select></td>
      <td><input type="checkbox" aria-label="须懂该领域" .checked=${s.match_domain !== false}
        @change=${(e) => set(i, "match_domain", e.target.checked)}></td>
      <td>${i ? html`<button type="button" class="quiet"
        @click=${() => { policy.steps.splice(i, 1); drawPolicy(); }}>删除</button>` : ""}</td></tr>`)}
    </tbody></table>
    <button type="button" @click=${() => {
      const last = policy.steps[policy.steps.length - 1];
      policy.steps.push({ after_s: last.after_s + 30, min_proficiency: 1, match_domain: false });
      drawPolicy();
    }}>添加一级放宽</button>`;
}

function queueBlock([service, label]) {
  const own = state.policies.queues[service];
  const toggle = (e) => {
    if (e.target.checked) state.policies.queues[service] = structuredClone(state.policies.default);
    else delete state.policies.queues[service];
    drawPolicy();
  };
  return html`<div class="policy-queue" data-service=${service}><h4>${label}
      <label class="day"><input type="checkbox" .checked=${Boolean(own)} @change=${toggle}>
      单独设置</label></h4>${own ? steps(service, own) : html`<p class="sub">按默认规则</p>`}</div>`;
}

function drawPolicy() {
  draw($("policy"), html`<div class="policy-queue" data-service="default"><h4>默认规则</h4>
      ${steps("default", state.policies.default)}</div>
    ${Object.entries(LABELS.service).map(queueBlock)}`);
}

export async function loadPolicy() {
  const shown = await call("GET", "/api/routing-policy");
  if (!shown) return;
  state.policies = shown.policies;
  drawPolicy();
  $("policy-state").textContent = shown.from === "saved"
    ? `现行第 ${shown.version} 版（${shown.by}，${when(shown.at)}）` : "现行为系统默认的分流规则";
  draw($("policy-history"), html`${shown.history.map((h) => html`<li>第 ${h.version} 版 ·
    ${when(h.at)} · ${h.by}</li>`)}`);
}

export function wirePolicy() {
  $("policy-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (await call("PUT", "/api/routing-policy", state.policies)) {
      toast("分流规则已保存，几秒内生效。");
      await loadPolicy();
    }
  });
}
