// @ts-check
// DOM helpers. User-supplied text only ever reaches the page through text nodes and
// attribute setters; nothing here parses HTML.

/** Creates an element: h('p', {class: 'x', onclick: f}, 'text', child, ...). */
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

/** Creates an SVG element the same way: svg('path', {d: 'M0 0h1'}). */
export function svg(tag, attrs = {}, ...children) {
  return fill(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
}

/** Sets `attrs` on `el` (listeners, class, dataset, attributes) and appends `children`. */
function fill(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.setAttribute('class', value); // an SVG element's className cannot be set
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || '?').slice(0, 2);
  return letters.toUpperCase();
}

/** A stable hue per id, for avatars. */
export function hue(id) {
  return (Number(id) * 137) % 360;
}

export function avatar(name, id, { group = false, presence = null } = {}) {
  const el = h('span', { class: group ? 'avatar group' : 'avatar', 'aria-hidden': 'true' }, initials(name));
  el.style.setProperty('--hue', hue(id));
  if (presence) el.append(h('span', { class: `dot ${presence}` }));
  return el;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

export function clock(ms) {
  return timeFmt.format(new Date(ms));
}

/** "14:05" today, "Mon" this week, "3 Nov" otherwise. */
export function shortWhen(ms) {
  const d = new Date(ms);
  const now = new Date();
  if (sameDay(d, now)) return timeFmt.format(d);
  const age = now.getTime() - d.getTime();
  if (age < 6 * 86400000) return d.toLocaleDateString(undefined, { weekday: 'short' });
  return dateFmt.format(d);
}

export function dayLabel(ms) {
  const d = new Date(ms);
  const now = new Date();
  if (sameDay(d, now)) return 'Today';
  const yesterday = new Date(now);
  yesterday.setDate(now.getDate() - 1);
  if (sameDay(d, yesterday)) return 'Yesterday';
  return dayFmt.format(d);
}

export function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/**
 * The element with this id. Typed loosely (`any`): the page's ids name dialogs, forms and
 * inputs as well as plain elements, and each caller knows which.
 * @param {string} id
 * @returns {any}
 */
export function $(id) {
  return document.getElementById(id);
}

/**
 * The control named `name` in `form` (an input, select or textarea; typed as an input, the
 * caller knows which).
 * @param {HTMLFormElement} form @param {string} name
 * @returns {HTMLInputElement}
 */
export function field(form, name) {
  return /** @type {HTMLInputElement} */ (form.elements.namedItem(name));
}
