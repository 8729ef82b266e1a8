// @ts-check
// People: a person's row as dialogs show it, the directory (start a direct chat), the new
// group dialog, and my profile with the desktop's notification settings.

import { canNotify, whyNot, askPermission } from './notifications.js';
import { h, avatar, field, $ } from './dom.js';
import { state, on, changed } from './state.js';
import { otherUsers } from './model.js';
import { mergeUser } from './events.js';
import { call, syncWatch } from './session.js';
import { openConversation } from './chat.js';
import { loadEverything } from './sync.js';
import { flash, announce } from './notice.js';

/** @typedef {import('./model.js').Person} Person */

/** A person as dialogs list them: face, name, @username and status. @param {Person} user @param {Node} [extra] */
export function personRow(user, extra) {
  const face = avatar(user.display_name, user.id, { presence: user.presence });
  face.dataset.userId = String(user.id);
  return [face,
    h('span', { class: 'who' }, h('span', {}, user.display_name),
      h('span', { class: 'muted small' }, `@${user.username}${user.disabled ? ' · account disabled'
        : user.status_text ? ` · ${user.status_text}` : ''}`)),
    extra];
}

/** @param {string} id */
const dialog = (id) => /** @type {HTMLDialogElement} */ ($(id));
/** @param {string} id */
const input = (id) => /** @type {HTMLInputElement} */ ($(id));

export function openDirectory() {
  input('directory-filter').value = '';
  renderDirectory();
  dialog('directory-dialog').showModal();
  $('directory-filter').focus();
}

function renderDirectory() {
  syncWatch(); // whose presence is shown may change
  const filter = input('directory-filter').value.trim().toLowerCase();
  const items = otherUsers(state)
    .filter((u) => !filter || u.display_name.toLowerCase().includes(filter) || u.username.toLowerCase().includes(filter))
    .map((u) => h('li', {}, h('button', { type: 'button', class: 'pick', onclick: () => startDirect(u.id) }, ...personRow(u))));
  $('directory-list').replaceChildren(...(items.length ? items : [h('li', { class: 'muted' }, 'Nobody else here yet.')]));
}

/** Opens (making it if need be) my direct chat with `userId`. */
export async function startDirect(/** @type {number} */ userId) {
  try {
    const detail = await call('POST', '/conversations/direct', { user_id: userId });
    dialog('directory-dialog').close();
    if (!state.convs.has(detail.id)) await loadEverything();
    openConversation(detail.id);
  } catch (err) {
    flash(err.message);
  }
}

function openGroupDialog() {
  syncWatch(); // whose presence is shown may change
  const form = /** @type {HTMLFormElement} */ ($('group-form'));
  form.reset();
  $('group-error').textContent = '';
  $('group-members').replaceChildren(...otherUsers(state).map((u) => h('li', {},
    h('label', {}, h('input', { type: 'checkbox', name: 'member', value: String(u.id) }), ...personRow(u)))));
  dialog('group-dialog').showModal();
  field(form, 'name').focus();
}

async function submitGroup(/** @type {Event} */ event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ ($('group-form'));
  const name = field(form, 'name').value.trim();
  if (!name) { $('group-error').textContent = 'Give the group a name.'; return; }
  const memberIds = [...form.querySelectorAll('input[name=member]:checked')]
    .map((i) => Number(/** @type {HTMLInputElement} */ (i).value));
  try {
    const detail = await call('POST', '/conversations', { name, member_ids: memberIds });
    dialog('group-dialog').close();
    await loadEverything();
    openConversation(detail.id);
  } catch (err) {
    $('group-error').textContent = err.message;
  }
}

function renderMe() {
  const me = state.me;
  $('me-name').textContent = me.display_name;
  $('hub-label').textContent = me.status_text || (state.hub ? state.hub.name : '');
  $('me-avatar').replaceWith(Object.assign(avatar(me.display_name, me.id, { presence: 'online' }), { id: 'me-avatar' }));
}

function openProfile() {
  const form = /** @type {HTMLFormElement} */ ($('profile-form'));
  field(form, 'display_name').value = state.me.display_name;
  field(form, 'status_text').value = state.me.status_text;
  $('profile-error').textContent = '';
  $('notify-saved').textContent = '';
  /** @type {HTMLSelectElement} */ ($('theme-choice')).value = document.documentElement.dataset.themeChoice || 'system';
  loadNotifySettings();
  dialog('profile-dialog').showModal();
  field(form, 'display_name').focus();
}

async function submitProfile(/** @type {Event} */ event) {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ ($('profile-form'));
  try {
    state.me = await call('PATCH', '/me', {
      display_name: field(form, 'display_name').value, status_text: field(form, 'status_text').value,
    });
    mergeUser(state, state.me);
    changed('me');
    dialog('profile-dialog').close();
  } catch (err) {
    $('profile-error').textContent = err.message;
  }
}

// ---------------------------------------------------------------- desktop notifications

/**
 * Where my notification settings are: the desktop's node keeps its own (it notifies); in a
 * browser they are the hub's, kept for me on every device.
 */
function notifyPath() {
  return state.desktop ? '/node/notifications' : '/me/notifications';
}

/** My notification settings, for the desktop's notifications or this browser's. */
export async function loadNotifySettings() {
  try {
    state.notify = await call('GET', notifyPath());
  } catch {
    return;
  }
  changed('notify', 'list');
}

/** Applies a change at once (no Save needed) and shows the result. */
export async function changeNotify(/** @type {object} */ change) {
  try {
    state.notify = await call('PATCH', notifyPath(), change);
    $('notify-saved').textContent = 'Saved.';
  } catch (err) {
    $('notify-saved').textContent = err.message;
  }
  changed('notify', 'list');
}

function renderNotifySettings() {
  const box = $('notify-settings');
  box.hidden = !state.notify;
  if (!state.notify) return;
  $('notify-legend').textContent = state.desktop ? 'Desktop notifications' : 'Notifications in this browser';
  // In a browser: whether it can notify at all, and the way to allow it.
  const why = state.desktop ? '' : whyNot();
  $('notify-browser').hidden = !why;
  $('notify-browser-text').textContent = why;
  $('notify-permission').hidden = state.desktop || !canNotify() || Notification.permission !== 'default';
  /** @type {HTMLSelectElement} */ ($('notify-level')).value = state.notify.level;
  input('notify-previews').checked = state.notify.previews;
  const until = state.notify.muted_until;
  const muted = until !== null && until > Date.now();
  $('notify-muted').hidden = false;
  const time = muted ? new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
  $('notify-muted-text').textContent = muted ? `All notifications are muted until ${time}.` : '';
  $('notify-unmute').textContent = muted ? 'Unmute' : 'Mute all for 1 hour';
  $('notify-unmute').dataset.muted = muted ? 'yes' : 'no';
}

/** Wires the directory, the group dialog and the profile. */
export function wirePeople() {
  $('new-direct').addEventListener('click', openDirectory);
  $('new-group').addEventListener('click', openGroupDialog);
  $('me-button').addEventListener('click', openProfile);
  $('directory-filter').addEventListener('input', renderDirectory);
  $('group-form').addEventListener('submit', submitGroup);
  $('profile-form').addEventListener('submit', submitProfile);
  // The theme is this device's, applied at once (js/theme.js keeps it), not the profile's.
  $('theme-choice').addEventListener('change', (event) => {
    const choice = /** @type {HTMLSelectElement} */ (event.target).value;
    window.dispatchEvent(new CustomEvent('chinwag-theme', { detail: choice }));
    announce(choice === 'system' ? 'Theme follows the system.' : `${choice === 'dark' ? 'Dark' : 'Light'} theme on this device.`);
  });
  $('notify-level').addEventListener('change', () => changeNotify({ level: /** @type {HTMLSelectElement} */ ($('notify-level')).value }));
  $('notify-previews').addEventListener('change', () => changeNotify({ previews: input('notify-previews').checked }));
  $('notify-permission').addEventListener('click', async () => {
    await askPermission();
    renderNotifySettings();
  });
  $('notify-unmute').addEventListener('click', () => changeNotify({
    muted_until: $('notify-unmute').dataset.muted === 'yes' ? null : Date.now() + 3600 * 1000,
  }));
  on('me', renderMe);
  on('notify', renderNotifySettings);
}
