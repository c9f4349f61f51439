// What every page does with its document: find an element, render a template into
// it, say something for a moment, show the link to lawline.
import { html, nothing, render } from "../vendor/lit-html/lit-html.js";

export { html, nothing };

export const $ = (id) => document.getElementById(id);

// lit-html adds to what a container holds: the page's placeholder markup (an empty
// option, a "loading" line) goes on the first render, lit-html keeps what it drew after.
const drawn = new WeakSet();
export function draw(el, template) {
  if (!drawn.has(el)) {
    el.replaceChildren();
    drawn.add(el);
  }
  render(template, el);
}

// <option>s for a <select>, from a {value: label} list and an optional first choice.
export function fillSelect(el, labels, first = null) {
  const options = first ? [first, ...Object.entries(labels)] : Object.entries(labels);
  draw(el, options.map(([value, label]) => html`<option value=${value}>${label}</option>`));
}

// A short message in the page's #toast, hidden again after `ms`.
let toastTimer = null;
export function toast(text, ms = 6000) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, ms);
}

// The #link pill: up or down, in the page's words.
export function setLink(up, upText, downText) {
  const el = $("link");
  el.dataset.link = up ? "up" : "down";
  el.textContent = up ? upText : downText;
}

// The header's sign-out button: the session ends on the server, then the sign-in page.
export async function signOut() {
  await fetch("/api/session", { method: "DELETE" });
  location.href = "/login";
}
