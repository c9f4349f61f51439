// 舆情预警词: the public-opinion watch list, one category a box, one phrase a line. Saved,
// it is in force on every call within seconds; each save is kept with who and when.
import { $, draw, html, toast } from "../lib/dom.js";
import { when } from "../lib/format.js";
import { call } from "./api.js";

const NAMES = {
  self_harm: "自伤风险", wage_arrears: "群体欠薪", group_petition: "集体上访", violence: "暴力倾向",
};

function box([category, phrases]) {
  return html`<label class="watch" data-category=${category}>${NAMES[category] || category}
    <textarea rows="6" name=${category} .value=${phrases.join("\n")}></textarea></label>`;
}

function version(v) {
  const count = Object.values(v.phrases).reduce((n, list) => n + list.length, 0);
  return html`<li>第 ${v.version} 版 · ${when(v.at)} · ${v.by} · ${count} 个预警词</li>`;
}

export async function loadWatchlist() {
  const list = await call("GET", "/api/alert-phrases");
  if (!list) return;
  draw($("watchlist"), html`${Object.entries(list.phrases).map(box)}`);
  $("watchlist-state").textContent = list.from === "saved"
    ? `现行第 ${list.version} 版（${list.by}，${when(list.at)}）` : "现行为系统默认的预警词";
  draw($("watchlist-history"), html`${list.history.map(version)}`);
}

export function wireWatchlist() {
  $("watchlist-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const phrases = {};
    for (const area of $("watchlist").querySelectorAll("textarea")) {
      phrases[area.name] = area.value.split("\n").map((p) => p.trim()).filter(Boolean);
    }
    if (await call("PUT", "/api/alert-phrases", { phrases })) {
      toast("预警词已保存，几秒内对所有通话生效。");
      await loadWatchlist();
    }
  });
}
