// @ts-check
// Search (Ctrl+Shift+F): the hub's full-text search as one types, and jumping to a result, which
// loads the stretch of history around it when it is further back than what is loaded.

import { h, shortWhen, $ } from './dom.js';
import { state } from './state.js';
import { convName, userName } from './model.js';
import { call } from './session.js';
import { jumpToMessage } from './chat.js';

/** @typedef {import('../types/proto').Message} Message */

const input = () => /** @type {HTMLInputElement} */ ($('search-input'));
let searchTimer = null;
let searchRun = 0;

export function openSearch() {
  input().value = '';
  $('search-results').replaceChildren();
  $('search-status').textContent = '';
  /** @type {HTMLDialogElement} */ ($('search-dialog')).showModal();
  input().focus();
}

async function runSearch() {
  const q = input().value.trim();
  const run = ++searchRun;
  if (!/[\p{L}\p{N}]/u.test(q)) {
    $('search-results').replaceChildren();
    $('search-status').textContent = '';
    return;
  }
  try {
    const reply = await call('GET', `/search?q=${encodeURIComponent(q)}&limit=30`);
    if (run !== searchRun) return; // a newer search is on its way
    $('search-status').textContent = reply.results.length ? '' : 'No messages found.';
    $('search-results').replaceChildren(...reply.results.map(searchResult));
  } catch (err) {
    if (run === searchRun) $('search-status').textContent = err.message;
  }
}

/** @param {{message: Message, snippet: {text: string, hit: boolean}[]}} result */
function searchResult({ message: m, snippet }) {
  const conv = state.convs.get(m.conversation_id);
  const where = [userName(state, m.sender_id), conv ? convName(state, conv) : '', shortWhen(m.created_at)]
    .filter(Boolean).join(' · ');
  // Pieces are text; only the matches are wrapped, in <mark>.
  const text = h('span', { class: 'snippet' }, ...snippet.map((p) => (p.hit ? h('mark', {}, p.text) : p.text)));
  return h('li', {}, h('button', { type: 'button', class: 'pick', onclick: () => { /** @type {HTMLDialogElement} */ ($('search-dialog')).close(); jumpToMessage(m); } },
    h('span', { class: 'who' }, h('span', { class: 'muted small' }, where), text)));
}

/** Wires the search button and the search as one types. */
export function wireSearch() {
  $('open-search').addEventListener('click', openSearch);
  input().addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
}
