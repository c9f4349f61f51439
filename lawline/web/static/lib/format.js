// Times, durations and values as the pages show them, in the centre's words.
import { LABELS } from "./labels.js";

// The centre's clock: all of China keeps Beijing time (UTC+8, no summer time). Months
// and days in searches and reports start at midnight here, whatever the PC is set to.
export const TZ = "Asia/Shanghai";
export const OFFSET = "+08:00";
export const DAY_MS = 86_400_000;

const dateTimeFmt = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});
const secondsFmt = new Intl.DateTimeFormat("zh-CN", {
  timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const monthFmt = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit" });

// An ISO instant to the minute, or to the second; "—" for none.
export function when(iso) { return iso ? dateTimeFmt.format(new Date(iso)) : "—"; }
export function whenExact(iso) { return iso ? secondsFmt.format(new Date(iso)) : "—"; }
// "2026-03" for now in Beijing.
export function thisMonth() { return monthFmt.format(new Date()).slice(0, 7); }

// Seconds as m:ss (a call's length, a transcript line's place in the call).
export function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function minutes(seconds) { return Math.round((seconds || 0) / 60); }

export function stars(n) { return "★".repeat(n) + "☆".repeat(5 - n); }

// A value's Chinese name from LABELS[kind]; `empty` when there is no value.
export function label(kind, value, empty = "—") { return value ? (LABELS[kind][value] || value) : empty; }
