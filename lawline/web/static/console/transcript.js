// The live transcript: both speakers' finished sentences in time order, what each is
// saying now (partials), gaps where a transcriber failed, and the exports. Kept on
// screen from the answer through wrap-up, until the next call's transcript starts.
import { $, draw, html } from "../lib/dom.js";
import { clock } from "../lib/format.js";
import { LABELS } from "../lib/labels.js";
import { repeat } from "../vendor/lit-html/directives/repeat.js";
import { state } from "./state.js";

const SPEAKERS = LABELS.leg;
const transcript = { contact: null, seen: new Set(), lines: [] };
state.transcript = transcript;

export function showTranscript(contactId) {
  if (transcript.contact !== contactId) {
    transcript.contact = contactId;
    transcript.seen.clear();
    transcript.lines = [];
    renderLines();
    $("partial-citizen").textContent = "";
    $("partial-lawyer").textContent = "";
    $("transcript-status").textContent = "";
    for (const fmt of ["txt", "srt", "vtt"]) {
      $(`export-${fmt}`).href = `/api/contacts/${encodeURIComponent(contactId)}/transcript?format=${fmt}`;
    }
  }
  $("transcript").hidden = false;
}

export function addSegment(s) {
  if (s.kind === "status") {
    $("transcript-status").textContent = s.text === "on" ? "转写中" : `转写已关闭：${s.text.replace(/^off: /, "")}`;
    return;
  }
  const partial = $(`partial-${s.leg}`);
  if (s.kind === "listening") {  // no words until the speaker pauses: say we are listening
    if (partial) partial.textContent = `${SPEAKERS[s.leg]}：正在听…`;
    return;
  }
  if (s.kind === "partial") {
    if (partial) partial.textContent = s.text ? `${SPEAKERS[s.leg]}：${s.text}…` : "";
    return;
  }
  if (s.kind !== "final" && s.kind !== "gap") return;
  const key = `${s.kind}|${s.leg}|${s.start}|${s.text}`;
  if (transcript.seen.has(key)) return;  // already had it from the backlog
  transcript.seen.add(key);
  if (s.kind === "final" && partial) partial.textContent = "";
  // In time order: the two legs' finals may arrive out of order.
  const at = transcript.lines.findIndex((x) => x.start > s.start);
  transcript.lines.splice(at < 0 ? transcript.lines.length : at, 0, { ...s, key });
  renderLines();
  const lines = $("transcript-lines");
  lines.scrollTop = lines.scrollHeight;
}

function renderLines() {
  draw($("transcript-lines"), repeat(transcript.lines, (s) => s.key, lineTemplate));
}

function lineTemplate(s) {
  const who = SPEAKERS[s.leg] || "";
  if (s.kind === "gap") {
    const what = s.resent ? "，已切换到其他转写服务" : "，这段话未能转写";
    return html`<li class="gap" data-leg=${s.leg || ""} data-kind="gap" data-start=${s.start}
      >${clock(s.start)} ${who}：转写服务中断${what}</li>`;
  }
  return html`<li data-leg=${s.leg || ""} data-kind="final" data-start=${s.start}
    ><span class="at">${clock(s.start)}</span><span class="who">${who}</span>${s.text}</li>`;
}
