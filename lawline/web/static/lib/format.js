// Times, durations and values as the pages show them, in the centre's words.
import { LABELS } from "./labels.js";

// The centre's clock: every time and date shown is in the centre's time zone (the server's
// `timezone` setting, in /api/session's `time_zone`), whatever the PC is set to. Pages call
// setZone() once they know it; until then, Beijing time (lawline's default).
export const DAY_MS = 86_400_000;

let zone = "Asia/Shanghai";
let fmt = formatters(zone);

function formatters(timeZone) {
  // h23, not hour12: false, which some Chromes print as "24:08" just after midnight.
  const f = (locale, o) => new Intl.DateTimeFormat(locale, { timeZone, hourCycle: "h23", ...o });
  const d2 = "2-digit";
  // Dates as 2026-12-03 (UX.md), assembled from the parts: zh-CN would write 2026/12/03.
  const parts = (o, shape) => {
    const format = f("en-CA", o);
    return { format: (d) => shape(Object.fromEntries(format.formatToParts(d).map((p) => [p.type, p.value]))) };
  };
  return {
    minute: parts({ year: "numeric", month: d2, day: d2, hour: d2, minute: d2 },
      (p) => `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`),
    second: parts({ month: d2, day: d2, hour: d2, minute: d2, second: d2 },
      (p) => `${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`),
    time: f("zh-CN", { hour: d2, minute: d2, second: d2 }),
    // en-CA writes dates as 2026-12-03: the value a date input and the API take.
    day: f("en-CA", { year: "numeric", month: d2, day: d2 }),
  };
}

// The centre's zone (an IANA name); one this browser does not know leaves the old one.
export function setZone(name) {
  if (!name || name === zone) return;
  try { fmt = formatters(name); zone = name; } catch { /* RangeError: unknown zone */ }
}
export function centreZone() { return zone; }

const instant = (t) => (typeof t === "number" ? new Date(t * 1000) : new Date(t));
// An ISO instant (or Unix seconds) to the minute, or to the second; "—" for none.
export function when(t) { return t || t === 0 ? fmt.minute.format(instant(t)) : "—"; }
export function whenExact(t) { return t || t === 0 ? fmt.second.format(instant(t)) : "—"; }
// "14:03:09": the time of day on the centre's clock (now, or the given instant).
export function timeOfDay(t) { return fmt.time.format(t === undefined ? new Date() : instant(t)); }
// "2026-12-03" and "2026-12" for now on the centre's clock.
export function today() { return fmt.day.format(new Date()); }
export function thisMonth() { return today().slice(0, 7); }

// Seconds as m:ss (a call's length, a transcript line's place in the call).
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}


// A length of time as people say it: "45秒", "3分12秒", "1小时5分" (never a rounded 0).
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds || 0));
  if (s < 60) return `${s}秒`;
  if (s < 3600) return `${Math.floor(s / 60)}分${s % 60}秒`;
  return `${Math.floor(s / 3600)}小时${Math.floor((s % 3600) / 60)}分`;
}

export function stars(n) { return "★".repeat(n) + "☆".repeat(5 - n); }

// A value's Chinese name from LABELS[kind]; `empty` when there is no value.
export function label(kind, value, empty = "—") { return value ? (LABELS[kind][value] || value) : empty; }
