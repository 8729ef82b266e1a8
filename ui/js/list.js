// @ts-check
// The conversation list, keyed like the message list (keyed.js): an arrival rebuilds its
// conversation's entry, not the whole list, and a focused entry keeps its focus. It also
// owns the page title's unread count.

import { h, avatar, shortWhen, $ } from './dom.js';
import { reconcile } from './keyed.js';
import { state, on } from './state.js';
import { convName, peerOf, previewOf, sortedConversations, isMuted, presenceText } from './model.js';
import { reportView, syncWatch } from './session.js';
import { openConversation } from './chat.js';
import { draftOf } from './drafts.js';

/** @typedef {import('../types/proto').ConversationSummary} Summary */

function renderList() {
  syncWatch(); // whose presence is shown may change
  const list = $('conversation-list');
  let totalUnread = 0;
  const rows = sortedConversations(state).map((conv) => {
    const quiet = isMuted(state, conv.id);
    if (!quiet) totalUnread += conv.unread; // a muted conversation does not claim attention
    const entry = listEntry(conv, quiet);
    return { key: `conv-${conv.id}`, sig: JSON.stringify(entry), make: () => listItem(conv, entry) };
  });
  reconcile(list, rows); // keeps focus on an entry that is made anew
  const name = state.hub ? state.hub.name : 'Chinwag';
  document.title = totalUnread ? `(${totalUnread}) ${name} · Chinwag` : `${name} · Chinwag`;
  $('app-title').textContent = name === 'Chinwag' ? 'Chinwag' : `${name} on Chinwag`;
  state.unread = totalUnread;
  reportView();
}

/** Everything a conversation's entry in the list shows. @param {Summary} conv @param {boolean} quiet */
function listEntry(conv, quiet) {
  const peer = peerOf(state, conv);
  const name = convName(state, conv);
  // A draft left elsewhere shows in place of the last message, as Slack and Teams do.
  const draft = conv.id === state.active ? '' : draftOf(conv.id).replace(/\s+/g, ' ').trim();
  // What the badges and the muted mark show, for screen readers (read after the preview;
  // the visible name, time and preview are read as they are, never replaced by a label).
  const facts = [conv.unread ? `${conv.unread} unread` : '',
    conv.mentions ? `${conv.mentions} ${conv.mentions === 1 ? 'mention' : 'mentions'} of you` : '', quiet ? 'muted' : '',
  ].filter(Boolean).join(', ');
  return {
    name, facts, quiet, unread: conv.unread, mentions: conv.mentions || 0, active: conv.id === state.active,
    time: conv.last_message ? shortWhen(conv.last_message.created_at) : '',
    preview: previewOf(state, conv), draft, presence: peer ? peer.presence : null, kind: conv.kind,
  };
}

/** @param {Summary} conv @param {ReturnType<typeof listEntry>} entry */
function listItem(conv, entry) {
  const button = h('button', {
    type: 'button',
    'aria-current': entry.active ? 'true' : 'false',
    dataset: { conv: String(conv.id) },
    class: [entry.unread ? 'unread' : '', entry.quiet ? 'quiet' : ''].filter(Boolean).join(' '),
    onclick: () => openConversation(conv.id),
  },
  convAvatar(conv),
  h('span', { class: 'conv-main' },
    h('span', { class: 'conv-top' },
      h('span', { class: 'conv-name' }, entry.name,
        entry.quiet ? h('span', { class: 'conv-muted', title: 'Muted' }) : null),
      entry.presence ? h('span', { class: 'visually-hidden' }, `, ${presenceText(entry.presence)}, `) : null,
      h('span', { class: 'conv-time' }, entry.time)),
    h('span', { class: 'conv-bottom' },
      entry.draft
        ? h('span', { class: 'conv-preview draft' }, h('span', { class: 'draft-mark' }, 'Draft: '), entry.draft)
        : h('span', { class: 'conv-preview' }, entry.preview),
      // A mention of me is louder than unread: its own badge, shown even when muted.
      entry.mentions ? h('span', { class: 'badge mention', 'aria-hidden': 'true', title: 'You were mentioned' }, `@${entry.mentions > 99 ? '99+' : entry.mentions}`) : null,
      entry.unread ? h('span', { class: 'badge', 'aria-hidden': 'true' }, entry.unread > 999 ? '999+' : entry.unread) : null,
      entry.facts ? h('span', { class: 'visually-hidden conv-facts' }, `. ${entry.facts}`) : null)));
  return h('li', {}, button);
}

/** @param {Summary} conv */
function convAvatar(conv) {
  if (conv.kind === 'direct') {
    const peer = peerOf(state, conv);
    return avatar(peer ? peer.display_name : '?', conv.peer_id || 0, { presence: peer ? peer.presence : 'offline' });
  }
  return avatar(conv.kind === 'general' ? '#' : conv.name, conv.id + 7, { group: true });
}

/** Opens the next (`step` 1) or previous (-1) conversation in the list, or the next unread. */
export function moveConversation(/** @type {number} */ step, onlyUnread = false) {
  const list = sortedConversations(state);
  if (!list.length) return;
  const at = list.findIndex((c) => c.id === state.active);
  for (let i = 1; i <= list.length; i += 1) {
    const next = list[(at + step * i + list.length * 2) % list.length];
    if (!onlyUnread || next.unread > 0) {
      openConversation(next.id);
      return;
    }
  }
}

/** Subscribes the list to its topic. */
export function wireList() {
  on('list', renderList);
}
