// @ts-check
// Search (Ctrl+Shift+F): the hub's full-text search as one types, with filters written in the
// box as Slack's are (`from:ada`, `in:general`, `before:2026-12-01`, `after:2026-11-01`), and
// jumping to a result, which loads the stretch of history around it when it is further back
// than what is loaded. `searchParams` is pure (tests/e2e/unit).

import { h, shortWhen, $ } from './dom.js';
import { state } from './state.js';
import { convName, userName, sortedConversations } from './model.js';
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

/**
 * What the box asks: the words, and the filters it names. `from:` is a username (or a word
 * of a name), `in:` a conversation's name (or a direct chat's person), `before:`/`after:`
 * a date (local midnight; `before:` the day is not included, `after:` it is). A filter
 * that names nobody known is an error to show, not a word to look for.
 * @param {import('./model.js').State} s @param {string} text
 * @returns {{words: string, params: URLSearchParams, error: string}}
 */
export function searchParams(s, text) {
  const params = new URLSearchParams();
  const words = [];
  let error = '';
  for (const token of text.trim().split(/\s+/).filter(Boolean)) {
    const m = token.match(/^(from|in|before|after):(.+)$/i);
    if (!m) { words.push(token); continue; }
    const [, kind, raw] = m;
    const value = raw.replace(/^[@#]/, '').toLowerCase();
    if (kind.toLowerCase() === 'from') {
      const user = [...s.users.values()].find((u) => u.username.toLowerCase() === value)
        || [...s.users.values()].find((u) => u.display_name.toLowerCase().split(/\s+/).includes(value));
      if (user) params.set('sender_id', String(user.id)); else error = `Nobody is called ${raw}.`;
    } else if (kind.toLowerCase() === 'in') {
      const conv = sortedConversations(s).find((c) => convName(s, c).toLowerCase().replace(/^# /, '') === value)
        || sortedConversations(s).find((c) => convName(s, c).toLowerCase().replace(/^# /, '').split(/\s+/).includes(value));
      if (conv) params.set('conversation_id', String(conv.id)); else error = `You have no conversation called ${raw}.`;
    } else {
      const day = raw.match(/^(\d{4})-(\d{2})-(\d{2})$/);
      const at = day ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime() : NaN;
      if (Number.isNaN(at)) error = `${kind}: wants a date like 2026-12-01.`;
      else if (kind.toLowerCase() === 'before') params.set('before', String(at));
      else params.set('after', String(at));
    }
  }
  params.set('q', words.join(' '));
  return { words: words.join(' '), params, error };
}

async function runSearch() {
  const asked = searchParams(state, input().value);
  const q = asked.words;
  const run = ++searchRun;
  if (asked.error) {
    $('search-results').replaceChildren();
    $('search-status').textContent = asked.error;
    return;
  }
  if (!/[\p{L}\p{N}]/u.test(q)) {
    $('search-results').replaceChildren();
    $('search-status').textContent = '';
    return;
  }
  try {
    asked.params.set('limit', '30');
    const reply = await call('GET', `/search?${asked.params}`);
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
