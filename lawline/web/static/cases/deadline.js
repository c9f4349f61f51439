// A case's deadline as a lawyer would say it, and its status flag.
import { html } from "../lib/dom.js";
import { DAY_MS } from "../lib/format.js";

// Days left, or how long overdue.
export function deadlineInfo(c) {
  if (c.status === "closed") return { text: "已办结", overdue: false };
  const left = new Date(c.deadline).getTime() - Date.now();
  if (c.overdue || left < 0) {
    const days = Math.floor(-left / DAY_MS);
    return { text: days >= 1 ? `已逾期 ${days} 天` : "已逾期（不足 1 天）", overdue: true };
  }
  if (left < DAY_MS) {
    const hours = Math.floor(left / 3_600_000);
    return { text: hours >= 1 ? `剩余不足 1 天（约 ${hours} 小时）` : "即将到期（不足 1 小时）", overdue: false };
  }
  return { text: `剩余 ${Math.floor(left / DAY_MS)} 天`, overdue: false };
}

export function statusFlag(c) {
  if (c.overdue) return html`<span class="flag">已逾期</span>`;
  if (c.status === "closed") return html`<span class="flag closed">已办结</span>`;
  return html`<span class="flag ok">办理中</span>`;
}
