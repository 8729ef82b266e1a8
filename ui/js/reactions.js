// @ts-check
// Reactions: toggling mine on a message, and the emoji picker (a quick set of six, and the
// hub's whole emoji list, `GET /emoji`, searched by name and `:shortcode:`). The picker is
// a native dialog: focus stays in it, Esc closes it, arrow keys move across the grid.

import { h, $ } from './dom.js';
import { state } from './state.js';
import { api } from './hub.js';
import { request } from './session.js';
import { flash } from './notice.js';

/** @typedef {import('../types/proto').Message} Message */
/** @typedef {import('../types/proto').EmojiEntry} EmojiEntry */

/** The quick set offered first, as Slack and Teams do. */
export const QUICK = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];

/** Most results the picker shows at once (the grid stays quick to build and to move in). */
const SHOWN = 64;

/** @type {Promise<EmojiEntry[]>|null} the hub's list, fetched once per page */
let list = null;

/** The hub's emoji list (fetched the first time it is needed). */
export function emojiList() {
  if (!list) {
    list = api('GET', '/emoji').catch((err) => {
      list = null; // a later picker tries again
      throw err;
    });
  }
  return list;
}

/**
 * Entries matching `query` by name or shortcode (every word must match the start of a word
 * of either), in the list's order; with no query, the list's first ones.
 * @param {EmojiEntry[]} entries @param {string} query
 */
export function matching(entries, query) {
  const words = query.toLowerCase().replace(/:/g, ' ').split(/\s+/).filter(Boolean);
  if (!words.length) return entries.slice(0, SHOWN);
  const out = [];
  for (const e of entries) {
    const names = [e.name, ...e.shortcodes].join(' ').toLowerCase().split(/[\s_]+/);
    if (words.every((w) => names.some((n) => n.startsWith(w)))) out.push(e);
    if (out.length === SHOWN) break;
  }
  return out;
}

/** Puts my `emoji` on `m`, or takes it off; the hub's event updates the list. */
export async function toggleReaction(/** @type {Message} */ m, /** @type {string} */ emoji) {
  const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.user_ids.includes(state.me.id));
  try {
    await request({ type: 'react', message_id: m.id, emoji, on: !mine });
  } catch (err) {
    flash(err.message);
  }
}

/** @type {Message|null} the message the open picker reacts to */
let target = null;

/** Opens the picker for a reaction to `m`. */
export function openPicker(/** @type {Message} */ m) {
  target = m;
  const dialog = /** @type {HTMLDialogElement} */ ($('emoji-dialog'));
  const input = /** @type {HTMLInputElement} */ ($('emoji-search'));
  input.value = '';
  $('emoji-quick').replaceChildren(...QUICK.map((e) => emojiButton(e, e)));
  showResults();
  dialog.showModal();
  input.focus();
}

async function showResults() {
  const query = /** @type {HTMLInputElement} */ ($('emoji-search')).value;
  const status = $('emoji-status');
  try {
    const found = matching(await emojiList(), query);
    if (query !== /** @type {HTMLInputElement} */ ($('emoji-search')).value) return; // typed on
    status.textContent = found.length ? '' : 'No emoji found.';
    $('emoji-grid').replaceChildren(...found.map((e) => emojiButton(e.emoji, e.shortcodes[0] ? `${e.name} :${e.shortcodes[0]}:` : e.name)));
  } catch (err) {
    status.textContent = `The emoji list could not be loaded: ${err.message}`;
  }
}

function emojiButton(/** @type {string} */ emoji, /** @type {string} */ label) {
  return h('button', { type: 'button', class: 'emoji-choice', title: label, 'aria-label': label, dataset: { emoji },
    onclick: () => pick(emoji) }, emoji);
}

function pick(/** @type {string} */ emoji) {
  /** @type {HTMLDialogElement} */ ($('emoji-dialog')).close();
  const m = target;
  target = null;
  if (m) toggleReaction(m, emoji);
}

/** Arrow keys move across the grid of choices it is in; Enter picks (as a button does). */
function moveInGrid(/** @type {KeyboardEvent} */ event) {
  const from = /** @type {HTMLElement} */ (event.target);
  if (!from.classList || !from.classList.contains('emoji-choice')) {
    if (event.key === 'ArrowDown' && from.id === 'emoji-search') {
      event.preventDefault();
      /** @type {HTMLElement|null} */ ($('emoji-grid').querySelector('.emoji-choice'))?.focus();
    }
    return;
  }
  const grid = /** @type {HTMLElement} */ (from.parentElement);
  const choices = [...grid.children];
  const at = choices.indexOf(from);
  const across = Math.max(1, Math.round(grid.clientWidth / Math.max(1, from.offsetWidth)));
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: across, ArrowUp: -across }[event.key];
  if (!step) return;
  event.preventDefault();
  const next = choices[at + step];
  if (next) /** @type {HTMLElement} */ (next).focus();
  else if (event.key === 'ArrowUp') $('emoji-search').focus();
}

/** Wires the picker's search and keyboard. */
export function wireReactions() {
  let timer = null;
  $('emoji-search').addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(showResults, 100);
  });
  $('emoji-dialog').addEventListener('keydown', moveInGrid);
  $('emoji-dialog').addEventListener('close', () => { target = null; });
}
