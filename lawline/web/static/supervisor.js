// The supervisors' alerts page (a file of its own: the pages' Content-Security-Policy runs no inline script).
const CATEGORIES = {
  self_harm: "自伤风险", wage_arrears: "群体欠薪", group_petition: "集体上访", violence: "暴力倾向",
};
const SPEAKERS = { citizen: "来电人", lawyer: "律师" };
const list = document.getElementById("alerts");

function show(alert, fresh) {
  document.getElementById("none").hidden = true;
  const li = document.createElement("li");
  li.dataset.category = alert.category;
  const when = new Date(alert.at * 1000).toLocaleTimeString("zh-CN");
  const head = document.createElement("strong");
  head.textContent = `${when} ${CATEGORIES[alert.category] || alert.category}（“${alert.phrase}”）`;
  const body = document.createElement("div");
  body.textContent = `${SPEAKERS[alert.leg] || ""}：${alert.text} · 来电 ${alert.contact_id}`;
  li.append(head, body);
  if (fresh) li.className = "fresh";
  list.prepend(li);
}

async function start() {
  const r = await fetch("/api/alerts?limit=100");
  if (r.status === 401) { location.href = "/login"; return; }
  if (r.ok) for (const a of (await r.json()).reverse()) show(a, false);
  connect();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/api/supervisor/ws`);
  const link = document.getElementById("link");
  ws.onopen = () => { link.dataset.link = "up"; link.textContent = "已连接"; };
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "alert") show(frame.alert, true);
  };
  ws.onclose = () => {
    link.dataset.link = "down"; link.textContent = "连接中断，正在重连…";
    setTimeout(connect, 2000);
  };
}
start();
