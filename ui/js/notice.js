// @ts-check
// Telling the person: a passing notice in the banner, and words for screen readers.

import { $ } from './dom.js';
import { state } from './state.js';

let flashTimer = null;

/** A passing notice in the banner area for errors that have no better place. */
export function flash(/** @type {string} */ message) {
  const banner = $('banner');
  if (!banner.hidden && state.conn && (!state.conn.online || state.linkDown)) return;
  $('banner-text').textContent = message;
  $('banner-retry').hidden = true;
  banner.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { banner.hidden = true; $('banner-retry').hidden = false; }, 5000);
}

/** Said by screen readers (a polite live region), cut to 200 characters. */
export function announce(/** @type {string} */ text) {
  const el = $('announcer');
  el.textContent = '';
  setTimeout(() => { el.textContent = text.length > 200 ? `${text.slice(0, 200)}…` : text; }, 50);
}

