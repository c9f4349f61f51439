// Users: add one, change a role, disable or enable, reset a password (which signs them out).
import { $, draw, html, toast } from "../lib/dom.js";
import { call } from "./api.js";

const ROLES = { lawyer: "值班律师", mediator: "调解员", supervisor: "督导", admin: "管理员" };

function row(u) {
  const patch = async (body, done) => {
    if (await call("PATCH", `/api/users/${encodeURIComponent(u.username)}`, body)) {
      toast(done);
      await loadUsers();
    }
  };
  const reset = () => {
    const password = prompt(`为 ${u.username} 设置新密码（至少12位）：`);
    if (password) patch({ password }, "密码已重置，该用户需重新登录。");
  };
  return html`<tr data-user=${u.username}><td>${u.username}</td><td>${u.display_name}</td>
    <td><select aria-label="角色" @change=${(e) => patch({ role: e.target.value }, "角色已修改。")}>
      ${Object.entries(ROLES).map(([k, v]) => html`<option value=${k} ?selected=${u.role === k}>${v}</option>`)}
    </select></td>
    <td>${u.disabled ? "已停用" : "正常"}</td>
    <td class="row"><button @click=${() => patch({ disabled: !u.disabled }, u.disabled ? "已启用。" : "已停用。")}>
      ${u.disabled ? "启用" : "停用"}</button><button @click=${reset}>重置密码</button></td></tr>`;
}

export async function loadUsers() {
  const users = await call("GET", "/api/users");
  if (users) draw($("users"), html`${users.map(row)}`);
}

export function wireUsers() {
  draw($("new-user-role"), html`${Object.entries(ROLES).map(([k, v]) => html`<option value=${k}>${v}</option>`)}`);
  $("new-user").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = Object.fromEntries(["username", "display_name", "role", "password"].map((k) => [k, f.get(k)]));
    if (await call("POST", "/api/users", body)) {
      toast("用户已添加。");
      e.target.reset();
      await loadUsers();
    }
  });
}
