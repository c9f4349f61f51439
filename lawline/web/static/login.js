// The sign-in form (a file of its own: the pages' Content-Security-Policy runs no inline script).
import { $ } from "./lib/dom.js";

const form = $("login-form");
const error = $("login-error");
const messages = {
  401: "用户名或密码不正确。",
  422: "用户名或密码不正确。",
  429: "本机登录失败次数过多，请稍后再试或联系管理员。",
  503: "登录的人太多，请稍候几秒再试。",
};
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = {
    username: $("username").value.trim(),
    password: $("password").value,
  };
  try {
    const r = await fetch("/api/session", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    if (r.ok) {
      const me = await r.json();
      // Supervisors watch the wallboard; admins run users, lawyers and terminals; mediators
      // hold mediations; lawyers take calls.
      const home = { supervisor: "/supervisor", admin: "/admin", mediator: "/mediation" };
      location.href = home[me.role] || "/console";
      return;
    }
    error.textContent = messages[r.status] || `登录失败（${r.status}）。`;
  } catch {
    error.textContent = "无法连接服务器，请检查网络。";
  }
  error.hidden = false;
});
