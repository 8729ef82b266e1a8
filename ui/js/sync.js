// @ts-check
// Keeping what the page knows in step with the hub beyond its event stream: the summaries
// and people fetched at start and again after a gap, the open conversation's tail, what a
// desktop's node still holds to send, and presence, mutes and blocks as other frames say.

import { api } from './hub.js';
import { state, on, changed } from './state.js';
import { mergeUser, freshest } from './events.js';
import { sortedConversations } from './model.js';
import { call, reportDelivered, reportView } from './session.js';
import { receiveMessage } from './live.js';
import { openConversation, closeConversation, refreshMembers } from './chat.js';
import { flash } from './notice.js';

/** Fetches the people and my conversations, merging them with what events brought. */
export async function loadEverything() {
  try {
    const [users, convs] = await Promise.all([call('GET', '/users'), call('GET', '/conversations')]);
    for (const user of users) mergeUser(state, user);
    state.convs = new Map(convs.map((c) => [c.id, freshest(state.convs.get(c.id), c)]));
    loadBlocks();
    for (const c of convs) reportDelivered(c.id, c.last_seq, c.delivered_seq);
    changed('list');
    if (state.active !== null) {
      refreshActive();
      return;
    }
    const first = sortedConversations(state)[0];
    if (first && window.matchMedia('(min-width: 721px)').matches) {
      // Opened for the person, not by them: its messages count as read once they act.
      state.untouched = true;
      openConversation(first.id, { focus: false });
    }
  } catch (err) {
    if (err.status !== 401) flash(err.message);
  }
}

/** Whom I blocked (not kept offline by a joined node: without it, nobody is shown blocked). */
async function loadBlocks() {
  try {
    state.blocked = new Set((await call('GET', '/blocks')).blocked);
  } catch {
    return;
  }
  changed('head');
}

/** The open conversation after a gap: its members, and any messages at its end. */
function refreshActive() {
  const id = state.active;
  if (!state.convs.has(id)) { closeConversation(); return; }
  refreshMembers(id);
  // Fill any gap at the end of the loaded history (events cover it too; this is cheap).
  const hist = state.history.get(id);
  if (!hist) { openConversation(id, { focus: false }); return; } // history was dropped
  if (hist.hasNewer) return; // an older stretch is shown; newer pages load on scroll
  const last = hist.list.length ? hist.list[hist.list.length - 1].seq : 0;
  call('GET', `/conversations/${id}/messages?after=${last}&limit=200`).then((page) => {
    for (const m of page.messages) receiveMessage(m);
  }).catch(() => {});
}

/**
 * Joined through a local node: messages it still holds for the hub (kept on disk, perhaps
 * from before the app was restarted) show as pending here too. A hub answers 404: nothing to do.
 * @param {() => void} onDesktop  called in the desktop app (to load its notification settings)
 */
export async function adoptNodeOutbox(onDesktop) {
  let node;
  try {
    node = await api('GET', '/node', { token: state.token });
  } catch {
    return;
  }
  state.joined = node.mode === 'joined';
  state.desktop = node.desktop === true;
  if (state.desktop) onDesktop();
  reportView();
  for (const p of node.pending || []) {
    if (state.outbox.items.some((i) => i.client_id === p.client_id)) continue;
    state.outbox.add({
      client_id: p.client_id, conversation_id: p.conversation_id, body: p.body,
      reply_to: p.reply_to, created_at: p.created_at, state: 'pending',
    });
  }
  changed('messages');
}

/** Someone's presence changed. */
export function setPresence(/** @type {number} */ userId, /** @type {string} */ status) {
  if (notePresence(userId, status)) changed('list', 'head');
}

/** The hub's answer to `watch`: the presence of everyone we show, in one go. */
export function onWatching(/** @type {{presence: {user_id: number, status: string}[]}} */ frame) {
  for (const { user_id: id, status } of frame.presence) {
    if (id !== state.me.id) notePresence(id, status);
  }
  changed('list', 'head');
}

/**
 * Records someone's presence and updates their dots in open dialogs without re-rendering
 * them. False for someone unknown.
 */
function notePresence(/** @type {number} */ userId, /** @type {string} */ status) {
  const user = state.users.get(userId);
  if (!user) return false;
  user.presence = status;
  for (const dot of document.querySelectorAll(`[data-user-id="${Number(userId)}"] .dot`)) {
    dot.className = `dot ${status}`;
  }
  return true;
}

/** A mute set on any of my devices (this one included) shows here at once. */
export function onMuted(/** @type {{conversation_id: number, muted: boolean}} */ { conversation_id: id, muted }) {
  const conv = state.convs.get(id);
  if (!conv || Boolean(conv.muted) === muted) return;
  conv.muted = muted;
  changed('list', 'mute');
}

/** Likewise a block or unblock. */
export function onBlocked(/** @type {{user_id: number, blocked: boolean}} */ { user_id: id, blocked }) {
  if (state.blocked.has(id) === blocked) return;
  if (blocked) state.blocked.add(id); else state.blocked.delete(id);
  changed('head', 'info');
}

/** Wires the reload that stale summaries ask for (events.js's `reload`). */
export function wireSync() {
  on('stale', loadEverything);
}
