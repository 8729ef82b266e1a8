// @ts-check
// Chinwag's web UI: the same page in the desktop window and in any browser. This file starts
// it: the hub's name, the saved session or the sign-in screen, the connection and what each
// of its frames does, and the keyboard. Features live in their modules and render from the
// store (state.js); the hub's events are applied by events.js. User text is only ever placed
// with text nodes (see dom.js).

import { api, Connection, Outbox } from './hub.js';
import { h, $ } from './dom.js';
import { state, on, changed, TOKEN_KEY } from './state.js';
import { presenceUnknown, mergeUser } from './events.js';
import { userName, convName } from './model.js';
import { call, settleRequest, syncWatch, maybeRead, reportView, signedOut, logout } from './session.js';
import { receive, carryOut } from './live.js';
import { onSendReply, resendAll } from './outbox.js';
import { onTyping } from './typing.js';
import { showAuth, authError, wireAuth } from './auth.js';
import { openConversation, closeConversation, wireChat } from './chat.js';
import { moveConversation, wireList } from './list.js';
import { wireComposer } from './composer.js';
import { wireUploads } from './uploads.js';
import { loadEverything, adoptNodeOutbox, setPresence, onWatching, onMuted, onBlocked, wireSync } from './sync.js';
import { openDirectory, loadNotifySettings, wirePeople } from './people.js';
import { wireInfo } from './info.js';
import { openSearch, wireSearch } from './search.js';
import { wireReactions } from './reactions.js';
import { loadDrafts } from './drafts.js';
import { openSwitcher, wireSwitcher } from './switcher.js';
import { setOpener, wireNotifications } from './notifications.js';
import { wireAdmin, adminChanged } from './admin.js';
import { wireInvite, showInvite } from './invite.js';

async function boot() {
  document.body.append(h('div', { id: 'announcer', class: 'visually-hidden', 'aria-live': 'polite' }));
  wire();
  try {
    state.hub = await api('GET', '/hub');
  } catch (err) {
    showAuth();
    authError(err.message);
    return;
  }
  $('hub-name').textContent = state.hub.name;
  document.title = `${state.hub.name} · Chinwag`;
  /** @type {HTMLElement} */ ($('auth-form').querySelector('.join-code')).hidden = true;
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) {
    try {
      start(token, await api('GET', '/me', { token }));
      return;
    } catch (err) {
      if (err.status === 401) localStorage.removeItem(TOKEN_KEY);
      else authError(err.message);
    }
  }
  showAuth();
}

/** Signed in: show the app and connect. */
function start(/** @type {string} */ token, /** @type {any} */ me) {
  state.token = token;
  if (state.hub) state.hub.first_account = false; // someone is signed in: accounts exist
  state.me = me;
  state.users.set(me.id, { ...me, presence: 'online' });
  state.outbox = new Outbox(me.id);
  loadDrafts(me.id);
  $('auth-screen').hidden = true;
  $('app-screen').hidden = false;
  changed('me');
  const conn = new Connection(token);
  state.conn = conn;
  /** @type {Record<string, (detail: any) => void>} */
  const frames = {
    ready: onReady,
    synced: onSynced,
    event: (d) => receive(d.event),
    reply: (d) => { if (!settleRequest(d)) onSendReply(d); },
    typing: onTyping,
    presence: (d) => setPresence(d.user_id, d.status),
    watching: onWatching,
    state: onConnectionState,
    link: onLinkState,
    muted: onMuted,
    blocked: onBlocked,
    // The desktop app's notification was clicked: show that conversation.
    open: (d) => { if (state.convs.has(d.conversation_id)) openConversation(d.conversation_id); },
    unauthorized: () => signedOut(),
  };
  for (const [type, handle] of Object.entries(frames)) {
    conn.addEventListener(type, (e) => handle(/** @type {CustomEvent} */ (e).detail));
  }
  conn.start();
  loadEverything();
  // The desktop's node has its settings; a browser's are the hub's.
  adoptNodeOutbox(loadNotifySettings).then(() => { if (!state.desktop) loadNotifySettings(); });
}

function onReady(/** @type {any} */ frame) {
  state.me = frame.user;
  mergeUser(state, { ...frame.user, presence: 'online' });
  // A new connection watches nobody yet: tell the hub whose presence we show.
  syncWatch({ now: true });
  changed('me', 'list', 'head');
}

function onSynced(/** @type {any} */ frame) {
  if (frame && frame.reset && !state.firstSync) {
    // Missed events were not replayed: what is loaded may be stale. Start over from REST
    // (loadEverything below reopens the open conversation at its newest page).
    state.history.clear();
  }
  // Resumed: events filled the gaps; refresh summaries so unread counts are exact.
  if (!state.firstSync) loadEverything();
  state.firstSync = false;
  resendAll();
  maybeRead();
}

let bannerTimer = null;

function onConnectionState(/** @type {{online: boolean, retryInMs: number}} */ { online, retryInMs }) {
  clearInterval(bannerTimer);
  const banner = $('banner');
  if (online) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  // While disconnected nobody's presence is known; `ready` restores it.
  carryOut(presenceUnknown(state));
  const until = Date.now() + retryInMs;
  const tick = () => {
    const secs = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    $('banner-text').textContent = secs > 0
      ? `Connection to the hub lost. Reconnecting in ${secs} s…`
      : 'Connection to the hub lost. Reconnecting…';
  };
  tick();
  bannerTimer = setInterval(tick, 1000);
  changed('messages');
}

/** A joined node tells whether it reaches the hub; while it does not, say so and keep going. */
function onLinkState(/** @type {{state: string}} */ frame) {
  clearInterval(bannerTimer);
  const banner = $('banner');
  state.linkDown = frame.state !== 'online';
  if (frame.state === 'online') {
    banner.hidden = true;
    $('banner-retry').hidden = false;
    // The node's new connection to the hub watches nobody yet.
    syncWatch({ now: true });
    return;
  }
  carryOut(presenceUnknown(state));
  $('banner-retry').hidden = true; // the app retries by itself
  banner.hidden = false;
  $('banner-text').textContent = frame.state === 'signed_out'
    ? 'Signed out of the hub.'
    : 'The hub is out of reach. Messages you send are kept and go out when it is back.';
}

// ---------------------------------------------------------------- keyboard and wiring

function onKey(/** @type {KeyboardEvent} */ event) {
  if (!state.me || document.querySelector('dialog[open]')) return;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  /** @type {(() => void)|null} */
  let action = null;
  if (event.altKey && key === 'ArrowDown') action = () => moveConversation(1);
  else if (event.altKey && key === 'ArrowUp') action = () => moveConversation(-1);
  else if (event.altKey && key === 'u') action = () => moveConversation(1, true);
  else if (event.altKey && key === 'n') action = openDirectory;
  else if ((event.ctrlKey || event.metaKey) && event.shiftKey && key === 'f') action = openSearch;
  else if ((event.ctrlKey || event.metaKey) && key === 'k') action = openSwitcher;
  if (action) {
    event.preventDefault();
    action();
  } else if (event.key === 'Escape' && $('app-screen').classList.contains('show-chat')
    && window.matchMedia('(max-width: 720px)').matches) {
    closeConversation();
  }
}

function wire() {
  wireAuth(start);
  // The chat renders before the list: reading a message there clears its unread count,
  // which the list then shows in the same frame.
  wireChat();
  wireList();
  wireComposer();
  wireUploads();
  wireSync();
  wirePeople();
  wireInfo();
  wireSearch();
  wireReactions();
  wireSwitcher();
  wireInvite();
  // "Invite people" in Administration: the panel again, in # general.
  $('admin-invite').addEventListener('click', () => {
    /** @type {HTMLDialogElement} */ ($('admin-dialog')).close();
    const general = [...state.convs.values()].find((c) => c.kind === 'general');
    showInvite();
    if (general) openConversation(general.id);
  });
  setOpener((id) => openConversation(id));
  wireNotifications(loadNotifySettings);
  wireAdmin({
    call,
    me: () => state.me,
    userName: (id) => userName(state, id),
    convName: (id) => (state.convs.has(id) ? convName(state, state.convs.get(id)) : 'a conversation you are not in'),
  });
  on('me', adminChanged);
  $('banner-retry').addEventListener('click', () => state.conn && state.conn.retryNow());
  $('logout').addEventListener('click', logout);
  for (const button of document.querySelectorAll('.close-dialog')) {
    button.addEventListener('click', () => button.closest('dialog').close());
  }
  // Whoever a dialog listed is no longer shown once it closes.
  for (const dialog of document.querySelectorAll('dialog')) dialog.addEventListener('close', () => syncWatch());
  document.addEventListener('keydown', onKey);
  wireWindow();
}

/** The window's focus and visibility: read receipts, presence, and the desktop's view. */
function wireWindow() {
  // The first click, key or focus after the app opened a conversation by itself.
  for (const kind of ['pointerdown', 'keydown', 'wheel', 'focus']) {
    window.addEventListener(kind, () => {
      if (!state.untouched) return;
      state.untouched = false;
      maybeRead();
    }, { capture: true });
  }
  window.addEventListener('focus', maybeRead);
  window.addEventListener('focus', reportView);
  window.addEventListener('blur', reportView);
  document.addEventListener('visibilitychange', reportView);
  document.addEventListener('visibilitychange', () => {
    if (!state.conn) return;
    // A page coming back into view (a laptop's lid opened) reconnects at once if it must.
    if (!document.hidden) state.conn.retryNow();
    state.conn.send({ type: 'presence', status: document.hidden ? 'away' : 'online' });
    maybeRead();
  });
  window.addEventListener('online', () => state.conn && state.conn.retryNow());
}

boot();
