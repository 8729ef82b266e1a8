// @ts-check
// The open conversation's info dialog: its members (remove, block), adding someone,
// renaming, leaving, and muting; and blocking a direct chat's peer from the chat itself.

import { h, field, $ } from './dom.js';
import { state, on, changed } from './state.js';
import { convName, peerOf, otherUsers, isMuted } from './model.js';
import { forgetConversation } from './events.js';
import { call, syncWatch } from './session.js';
import { carryOut } from './live.js';
import { refreshMembers } from './chat.js';
import { personRow, changeNotify } from './people.js';
import { flash, announce } from './notice.js';
import { confirmAction } from './ask.js';

const dialog = () => /** @type {HTMLDialogElement} */ ($('info-dialog'));
const showError = (/** @type {string} */ message) => { $('info-error').textContent = message; };

async function openInfo() {
  const conv = state.convs.get(state.active);
  if (!conv) return;
  await refreshMembers(conv.id);
  renderInfo();
  dialog().showModal();
}

function renderInfo() {
  syncWatch(); // whose presence is shown may change
  const conv = state.convs.get(state.active);
  if (!conv) return;
  const members = state.members.get(conv.id) || new Map();
  const admin = conv.kind === 'group' && conv.my_role === 'admin';
  $('info-title').textContent = convName(state, conv);
  showError('');
  const rename = /** @type {HTMLFormElement} */ ($('rename-form'));
  rename.hidden = !admin;
  field(rename, 'name').value = conv.name || '';
  const rows = [...members.values()]
    .map((m) => ({ m, user: state.users.get(m.user_id) }))
    .filter((r) => r.user)
    .sort((a, b) => a.user.display_name.localeCompare(b.user.display_name))
    .map(({ m, user }) => memberRow(conv, m, user, admin));
  $('info-members').replaceChildren(...rows);
  const add = /** @type {HTMLFormElement} */ ($('add-member-form'));
  const candidates = otherUsers(state).filter((u) => !members.has(u.id));
  add.hidden = !admin || candidates.length === 0;
  field(add, 'user')
    .replaceChildren(...candidates.map((u) => h('option', { value: String(u.id) }, u.display_name)));
  $('leave-group').hidden = conv.kind !== 'group';
  const peer = conv.kind === 'direct' ? peerOf(state, conv) : null;
  const block = $('block-peer');
  block.hidden = !peer;
  if (peer) {
    const blocked = state.blocked.has(peer.id);
    block.textContent = blocked ? `Unblock ${peer.display_name}` : `Block ${peer.display_name}`;
    block.className = blocked ? '' : 'danger';
    block.dataset.userId = String(peer.id);
  }
  /** @type {HTMLInputElement} */ ($('conv-mute')).checked = isMuted(state, conv.id);
  $('conv-history-row').hidden = !admin;
  /** @type {HTMLInputElement} */ ($('conv-history')).checked = conv.history_visible !== false;
  $('conv-everyone-row').hidden = !admin;
  /** @type {HTMLInputElement} */ ($('conv-everyone')).checked = Boolean(conv.everyone_admins_only);
}

/** One member in the dialog, with Remove (for a group's admin) and Block. */
function memberRow(/** @type {any} */ conv, /** @type {any} */ m, /** @type {any} */ user, /** @type {boolean} */ admin) {
  const blocked = state.blocked.has(user.id);
  const role = [m.role === 'admin' ? 'admin' : '', blocked ? 'blocked' : ''].filter(Boolean).join(' · ');
  const remove = admin && user.id !== state.me.id
    ? h('button', { type: 'button', onclick: () => removeMember(conv.id, user.id), 'aria-label': `Remove ${user.display_name}` }, 'Remove')
    : null;
  const block = conv.kind !== 'direct' && user.id !== state.me.id
    ? h('button', {
      type: 'button',
      onclick: () => setBlocked(user.id, !blocked),
      'aria-label': `${blocked ? 'Unblock' : 'Block'} ${user.display_name}`,
    }, blocked ? 'Unblock' : 'Block')
    : null;
  return h('li', {}, ...personRow(user, h('span', { class: 'role' }, role)), remove, block);
}

async function removeMember(/** @type {number} */ convId, /** @type {number} */ userId) {
  const user = state.users.get(userId);
  const name = user ? user.display_name : 'this person';
  const conv = state.convs.get(convId);
  if (!await confirmAction({
    title: `Remove ${name}?`,
    text: `${name} will stop receiving the messages of ${conv ? convName(state, conv) : 'this group'}. You can add them again.`,
    action: `Remove ${name}`,
  })) return;
  try {
    await call('DELETE', `/conversations/${convId}/members/${userId}`);
    await refreshMembers(convId);
    renderInfo();
  } catch (err) {
    showError(err.message);
  }
}

async function submitAddMember(/** @type {Event} */ event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ ($('add-member-form'));
  const userId = Number(field(form, 'user').value);
  if (!userId) return;
  try {
    await call('POST', `/conversations/${state.active}/members`, { user_ids: [userId] });
    await refreshMembers(state.active);
    renderInfo();
  } catch (err) {
    showError(err.message);
  }
}

async function submitRename(/** @type {Event} */ event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ ($('rename-form'));
  try {
    const name = field(form, 'name').value;
    const conv = await call('PATCH', `/conversations/${state.active}`, { name });
    Object.assign(state.convs.get(conv.id), conv);
    changed('list', 'head');
    renderInfo();
  } catch (err) {
    showError(err.message);
  }
}

/**
 * A group admin changes one of its settings (whether people added from now on see the
 * earlier messages; whether only admins may mention @here and @everyone), then says so.
 * @param {object} change @param {string} said
 */
async function setGroup(change, said) {
  showError('');
  try {
    const conv = await call('PATCH', `/conversations/${state.active}`, change);
    Object.assign(state.convs.get(conv.id), conv);
    announce(said);
  } catch (err) {
    showError(err.message);
  }
  changed('info');
}

async function leaveGroup() {
  const conv = state.convs.get(state.active);
  if (!conv || !await confirmAction({
    title: `Leave ${convName(state, conv)}?`,
    text: 'You will stop receiving its messages. A member of the group can add you again.',
    action: 'Leave group',
  })) return;
  try {
    await call('POST', `/conversations/${conv.id}/leave`);
    dialog().close();
    carryOut(forgetConversation(state, conv.id));
  } catch (err) {
    showError(err.message);
  }
}

async function setMuted(/** @type {number} */ convId, /** @type {boolean} */ muted) {
  showError('');
  try {
    await call('PUT', `/conversations/${convId}/mute`, { muted });
    const conv = state.convs.get(convId);
    if (conv) conv.muted = muted;
    if (!muted && state.notify && state.notify.muted_conversations.includes(convId)) {
      await changeNotify({ conversation: { id: convId, muted: false } });
    }
    announce(muted ? 'Conversation muted.' : 'Conversation unmuted.');
  } catch (err) {
    showError(err.message);
  }
  changed('list', 'info');
}

/** Blocks or unblocks someone (blocking asks first: they are not told). */
async function setBlocked(/** @type {number} */ userId, /** @type {boolean} */ blocked) {
  const user = state.users.get(userId);
  const name = user ? user.display_name : 'this person';
  if (blocked && !await confirmAction({
    title: `Block ${name}?`,
    text: 'They will not be able to send you direct messages, and you will not see them typing. They are not told.',
    action: `Block ${name}`,
  })) return;
  try {
    await call(blocked ? 'PUT' : 'DELETE', `/blocks/${userId}`);
    if (blocked) state.blocked.add(userId); else state.blocked.delete(userId);
    announce(blocked ? `${name} is blocked.` : `${name} is unblocked.`);
  } catch (err) {
    if (dialog().open) showError(err.message); else flash(err.message);
  }
  changed('head', 'info');
}

/** Wires the dialog, its forms, and the blocked note's Unblock. */
export function wireInfo() {
  $('chat-info').addEventListener('click', openInfo);
  $('conv-mute').addEventListener('change', () => {
    if (state.active !== null) setMuted(state.active, /** @type {HTMLInputElement} */ ($('conv-mute')).checked);
  });
  $('block-peer').addEventListener('click', () => {
    const id = Number($('block-peer').dataset.userId);
    if (id) setBlocked(id, !state.blocked.has(id));
  });
  $('blocked-unblock').addEventListener('click', () => {
    const conv = state.convs.get(state.active);
    const peer = conv ? peerOf(state, conv) : null;
    if (peer) setBlocked(peer.id, false);
  });
  $('conv-history').addEventListener('change', () => {
    const visible = /** @type {HTMLInputElement} */ ($('conv-history')).checked;
    setGroup({ history_visible: visible }, visible
      ? 'People added from now on will see the earlier messages.'
      : 'People added from now on will see only what is said after they join.');
  });
  $('conv-everyone').addEventListener('change', () => {
    const only = /** @type {HTMLInputElement} */ ($('conv-everyone')).checked;
    setGroup({ everyone_admins_only: only }, only
      ? 'Only admins can mention @here and @everyone now.'
      : 'Everyone can mention @here and @everyone now.');
  });
  $('rename-form').addEventListener('submit', submitRename);
  $('add-member-form').addEventListener('submit', submitAddMember);
  $('leave-group').addEventListener('click', leaveGroup);
  on('info', () => { if (dialog().open) renderInfo(); });
  on('mute', () => {
    if (dialog().open && state.active !== null) {
      /** @type {HTMLInputElement} */ ($('conv-mute')).checked = isMuted(state, state.active);
    }
  });
}
