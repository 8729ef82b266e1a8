// @ts-check
// The quick switcher (Ctrl+K): type part of a conversation's or a person's name, ↑/↓ to
// choose, Enter to go there (a person without a direct chat yet gets one). Message search
// is Ctrl+Shift+F (search.js). `switchTargets` is pure.

import { h, $ } from './dom.js';
import { state } from './state.js';
import { sortedConversations, convName, otherUsers } from './model.js';
import { openConversation } from './chat.js';
import { startDirect } from './people.js';

/** Most choices listed. */
const SHOWN = 12;

/**
 * @typedef {object} Target
 * @property {string} label
 * @property {string} detail  what it is: a group, a direct chat, a person
 * @property {{conv: number}|{user: number}} go
 */

/**
 * What `query` may mean: my conversations whose name has a word starting with it (most
 * recent first), then people I have no direct chat with yet. No query: my conversations.
 * @param {import('./model.js').State} s @param {string} query
 * @returns {Target[]}
 */
export function switchTargets(s, query) {
  const q = query.trim().toLowerCase();
  const fits = (/** @type {string} */ name) => !q || name.toLowerCase().split(/[\s#@._-]+/).some((w) => w.startsWith(q))
    || name.toLowerCase().startsWith(q);
  /** @type {Target[]} */
  const out = [];
  const peers = new Set();
  for (const conv of sortedConversations(s)) {
    if (conv.peer_id) peers.add(conv.peer_id);
    const name = convName(s, conv);
    const peer = conv.peer_id ? s.users.get(conv.peer_id) : null;
    if (fits(name) || (peer && fits(peer.username))) {
      out.push({ label: name, detail: conv.kind === 'direct' ? 'Direct chat' : conv.kind === 'general' ? 'Everyone' : 'Group', go: { conv: conv.id } });
    }
  }
  if (q) {
    for (const u of otherUsers(s)) {
      if (!peers.has(u.id) && (fits(u.display_name) || fits(u.username))) {
        out.push({ label: u.display_name, detail: `@${u.username} · start a direct chat`, go: { user: u.id } });
      }
    }
  }
  return out.slice(0, SHOWN);
}

/** @type {{targets: Target[], index: number}} */
let shown = { targets: [], index: 0 };

const input = () => /** @type {HTMLInputElement} */ ($('switcher-input'));

export function openSwitcher() {
  input().value = '';
  render();
  /** @type {HTMLDialogElement} */ ($('switcher-dialog')).showModal();
  input().focus();
}

function render() {
  const targets = switchTargets(state, input().value);
  shown = { targets, index: Math.min(shown.index, Math.max(0, targets.length - 1)) };
  if (!input().value) shown.index = 0;
  $('switcher-list').replaceChildren(...targets.map((t, i) => h('li', {
    id: `switch-${i}`, role: 'option', 'aria-selected': i === shown.index ? 'true' : 'false',
    class: i === shown.index ? 'active' : '', onclick: () => go(t),
  }, h('span', { class: 'switch-label' }, t.label), h('span', { class: 'muted small' }, t.detail))));
  $('switcher-status').textContent = targets.length ? '' : 'Nothing by that name.';
  if (targets.length) input().setAttribute('aria-activedescendant', `switch-${shown.index}`);
  else input().removeAttribute('aria-activedescendant');
}

function go(/** @type {Target} */ t) {
  /** @type {HTMLDialogElement} */ ($('switcher-dialog')).close();
  if ('conv' in t.go) openConversation(t.go.conv);
  else startDirect(t.go.user);
}

/** Wires the switcher's typing and keys. */
export function wireSwitcher() {
  input().addEventListener('input', () => { shown.index = 0; render(); });
  input().addEventListener('keydown', (event) => {
    const n = shown.targets.length;
    if ((event.key === 'ArrowDown' || event.key === 'ArrowUp') && n) {
      event.preventDefault();
      shown.index = (shown.index + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
      render();
    } else if (event.key === 'Enter') {
      event.preventDefault();
      if (n) go(shown.targets[shown.index]);
    }
  });
}
