// Village terminals: enrol one (its device token shown this once, to type or paste into
// the box), revoke a stolen or retired one (its open sockets close at once).
import { $, draw, html, toast } from "../lib/dom.js";
import { when } from "../lib/format.js";
import { LABELS } from "../lib/labels.js";
import qrcode from "../vendor/qrcode-generator/qrcode.mjs";
import { svg } from "../vendor/lit-html/lit-html.js";
import { call } from "./api.js";

// The address as a QR code, to scan with the box's camera or a phone (drawn as SVG).
function qr(text) {
  const code = qrcode(0, "M");
  code.addData(text);
  code.make();
  const n = code.getModuleCount();
  const cells = [];
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (code.isDark(r, c)) cells.push(svg`<rect x=${c} y=${r} width="1" height="1"></rect>`);
  }
  return html`<svg class="qr" viewBox=${`-2 -2 ${n + 4} ${n + 4}`} role="img"
    aria-label="终端接入地址二维码"><rect x="-2" y="-2" width=${n + 4} height=${n + 4} fill="#fff"></rect>
    ${cells}</svg>`;
}

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
    <td>${t.last_seen ? when(t.last_seen) : "从未接入"}</td>
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
    const address = `${location.origin}/terminal#token=${made.token}`;
    const shown = $("terminal-token");
    draw(shown, html`终端 ${made.id} 的接入地址（只显示这一次，请在机顶盒上打开或扫码）：
      <span class="address">${address}</span>${qr(address)}`);
    shown.hidden = false;
    await loadTerminals();
  });
}
