// The admin screens' calls: the same API the command line uses; a refusal in one line.
import { toast } from "../lib/dom.js";

export async function call(method, url, body) {
  const r = await fetch(url, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  if (r.status === 401) { location.href = "/login"; return null; }
  if (!r.ok) {
    const detail = (await r.json().catch(() => ({}))).detail;
    const why = typeof detail === "string" ? detail
      : Array.isArray(detail) ? detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("；")
      : `${r.status}`;
    toast(`未成功：${why}`);
    return null;
  }
  return r.status === 204 ? {} : r.json();
}
