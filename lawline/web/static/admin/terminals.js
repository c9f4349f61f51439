// Village terminals: enrol one (its device token shown this once, to type or paste into
// the box), revoke a stolen or retired one (its open sockets close at once).
import { $, draw, html, toast } from "../lib/dom.js";
import { when } from "../lib/format.js";
import { LABELS } from "../lib/labels.js";
import { call } from "./api.js";

function row(t) {
  const revoke = async () => {
    if (!confirm(`吊销终端 ${t.id}？它将立即断开，无法再接入。`)) return;
    if (await call("POST", `/api/terminals/${encodeURIComponent(t.id)}/revoke`)) {
      toast("终端已吊销。");
      await loadTerminals();
    }
  };
  return html`<tr data-terminal=${t.id}><td>${t.id}</td><td>${t.village}</td><td>${t.township}</td>
    <td>${LABELS.language[t.language] || t.language}</td>
    <td>${when(Date.parse(t.created_at) / 1000)}</td>
    <td>${t.revoked_at ? "已吊销" : "在用"}</td>
    <td>${t.revoked_at ? "" : html`<button class="danger" @click=${revoke}>吊销</button>`}</td></tr>`;
}

export async function loadTerminals() {
  const terminals = await call("GET", "/api/terminals");
  if (terminals) draw($("terminals"), html`${terminals.map(row)}`);
}

export function wireTerminals() {
  draw($("terminal-language"), html`${Object.entries(LABELS.language).map(([k, v]) => html`<option
    value=${k}>${v}</option>`)}`);
  $("new-terminal").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = Object.fromEntries(["id", "village", "township", "language"].map((k) => [k, f.get(k)]));
    const made = await call("POST", "/api/terminals", body);
    if (!made) return;
    e.target.reset();
    const shown = $("terminal-token");
    shown.textContent = `终端 ${made.id} 的接入地址（只显示这一次，请在机顶盒上打开）：`
      + `${location.origin}/terminal#token=${made.token}`;
    shown.hidden = false;
    await loadTerminals();
  });
}
