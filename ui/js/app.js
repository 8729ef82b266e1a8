// Chinwag's web UI: the same page in the desktop window and in any browser.
//
// State lives in one object; the hub's events are applied to it idempotently (by message id,
// by receipt maximum) and the affected parts of the page are re-rendered. User text is only
// ever placed with text nodes (see dom.js).

import { api, ApiError, Connection, Outbox, newClientId } from './hub.js';
import { h, avatar, shortWhen, utf8Length, $ } from './dom.js';
import { upload, thumbnailUrl, blobUrl, save, humanSize, typeLabel, fitted } from './files.js';
import { wireAdmin, adminChanged } from './admin.js';
import { renderMessageList } from './messages.js';
import { reconcile } from './keyed.js';

const TOKEN_KEY = 'chinwag.token';
const PAGE = 50;
const TYPING_REFRESH_MS = 3000;
// Send errors worth trying again by themselves: a rate limit (after the wait the hub names)
// and a hub that cannot save right now (disk full, restarting) are retried until they pass,
// backing off to 30 s; a hub bug (`internal`) is retried a few times, then the message is
// marked "Not sent" with Retry and Discard.
const RETRYABLE = new Set(['rate_limited', 'unavailable', 'internal']);
const INTERNAL_RETRIES = 3;
const retries = new Map(); // client_id -> attempts after an error, this page load

const state = {
  watchKey: null, // the `watch` list last sent, joined
  found: null, // the id of the message a search jumped to, marked for a moment
  untouched: false, // a conversation the app opened by itself, before the person acted
  hub: null,
  token: null,
  me: null,
  users: new Map(), // id -> user with .presence
  convs: new Map(), // id -> conversation summary
  members: new Map(), // conversation id -> Map(user id -> member)
  history: new Map(), // conversation id -> { list, hasMore, loading }
  active: null,
  typing: new Map(), // conversation id -> Map(user id -> timer)
  typingSent: { conv: null, at: 0 },
  conn: null,
  outbox: null,
  requests: new Map(), // ref -> { resolve, reject }
  nextRef: 1,
  delivered: new Map(), // conversation id -> highest seq reported delivered
  pendingDelivered: new Map(),
  deliveredTimer: null,
  firstSync: true,
  desktop: false, // in the desktop app (its node notifies; settings below)
  notify: null, // the desktop's notification settings
  unread: 0,
  uploads: [], // files on their way to the hub: { key, convId, name, size, loaded, state, error, cancel }
  blocked: new Set(), // ids of the people I blocked
};

// ---------------------------------------------------------------- start-up and sign-in

let authMode = 'login';

async function boot() {
  const announcer = h('div', { id: 'announcer', class: 'visually-hidden', 'aria-live': 'polite' });
  document.body.append(announcer);
  wireStatic();
  try {
    state.hub = await api('GET', '/hub');
  } catch (err) {
    showAuth();
    authError(err.message);
    return;
  }
  $('hub-name').textContent = state.hub.name;
  document.title = `${state.hub.name} · Chinwag`;
  $('auth-form').querySelector('.join-code').hidden = true;
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) {
    try {
      const me = await api('GET', '/me', { token });
      start(token, me);
      return;
    } catch (err) {
      if (err.status === 401) localStorage.removeItem(TOKEN_KEY);
      else authError(err.message);
    }
  }
  showAuth();
}

function showAuth() {
  $('app-screen').hidden = true;
  $('auth-screen').hidden = false;
  setAuthMode(authMode);
  $('auth-form').username.focus();
}

function setAuthMode(mode) {
  authMode = mode;
  const register = mode === 'register';
  $('tab-login').setAttribute('aria-selected', String(!register));
  $('tab-register').setAttribute('aria-selected', String(register));
  const form = $('auth-form');
  form.querySelector('.register-only').hidden = !register;
  form.querySelector('.join-code').hidden = !(register && state.hub && state.hub.join_code_required);
  form.password.autocomplete = register ? 'new-password' : 'current-password';
  $('auth-submit').textContent = register ? 'Create account' : 'Sign in';
  authError('');
}

function authError(message) {
  $('auth-error').textContent = message;
}

async function submitAuth(event) {
  event.preventDefault();
  const form = $('auth-form');
  const username = form.username.value.trim();
  const password = form.password.value;
  if (username.length < 3) return authError('Enter your username (at least 3 characters).');
  if (password.length < 8) return authError('The password has at least 8 characters.');
  const button = $('auth-submit');
  button.disabled = true;
  try {
    let reply;
    if (authMode === 'register') {
      const body = { username, password };
      const display = form.display_name.value.trim();
      if (display) body.display_name = display;
      if (state.hub && state.hub.join_code_required) body.join_code = form.join_code.value.trim();
      reply = await api('POST', '/auth/register', { body });
    } else {
      reply = await api('POST', '/auth/login', { body: { username, password } });
    }
    localStorage.setItem(TOKEN_KEY, reply.token);
    form.reset();
    start(reply.token, reply.user);
  } catch (err) {
    authError(err.message);
  } finally {
    button.disabled = false;
  }
}

function start(token, me) {
  state.token = token;
  state.me = me;
  state.users.set(me.id, { ...me, presence: 'online' });
  state.outbox = new Outbox(me.id);
  $('auth-screen').hidden = true;
  $('app-screen').hidden = false;
  renderMe();
  const conn = new Connection(token);
  state.conn = conn;
  conn.addEventListener('ready', (e) => onReady(e.detail));
  conn.addEventListener('synced', (e) => onSynced(e.detail));
  conn.addEventListener('event', (e) => applyEvent(e.detail.event));
  conn.addEventListener('reply', (e) => onReply(e.detail));
  conn.addEventListener('typing', (e) => onTyping(e.detail));
  conn.addEventListener('presence', (e) => setPresence(e.detail.user_id, e.detail.status));
  conn.addEventListener('watching', (e) => onWatching(e.detail));
  conn.addEventListener('state', (e) => onConnectionState(e.detail));
  conn.addEventListener('link', (e) => onLinkState(e.detail));
  conn.addEventListener('muted', (e) => onMuted(e.detail));
  conn.addEventListener('blocked', (e) => onBlocked(e.detail));
  // The desktop app's notification was clicked: show that conversation.
  conn.addEventListener('open', (e) => {
    if (state.convs.has(e.detail.conversation_id)) openConversation(e.detail.conversation_id);
  });
  conn.addEventListener('unauthorized', () => signedOut());
  conn.start();
  loadEverything();
  adoptNodeOutbox();
}

/**
 * Joined through a local node: messages it still holds for the hub (kept on disk, perhaps
 * from before the app was restarted) show as pending here too. A hub answers 404: nothing to do.
 */
async function adoptNodeOutbox() {
  let node;
  try {
    node = await api('GET', '/node', { token: state.token });
  } catch {
    return;
  }
  state.joined = node.mode === 'joined';
  state.desktop = node.desktop === true;
  if (state.desktop) loadNotifySettings();
  reportView();
  for (const p of node.pending || []) {
    if (state.outbox.items.some((i) => i.client_id === p.client_id)) continue;
    state.outbox.add({
      client_id: p.client_id, conversation_id: p.conversation_id, body: p.body,
      created_at: p.created_at, state: 'pending',
    });
  }
  if (state.active !== null) renderMessages();
}

async function loadEverything() {
  try {
    const [users, convs] = await Promise.all([
      call('GET', '/users'),
      call('GET', '/conversations'),
    ]);
    for (const user of users) mergeUser(user);
    state.convs = new Map(convs.map((c) => [c.id, freshest(state.convs.get(c.id), c)]));
    loadBlocks();
    for (const c of convs) reportDelivered(c.id, c.last_seq, c.delivered_seq);
    renderList();
    if (state.active === null) {
      const first = sortedConversations()[0];
      if (first && window.matchMedia('(min-width: 721px)').matches) {
        // Opened for the person, not by them: its messages count as read once they act.
        state.untouched = true;
        openConversation(first.id, { focus: false });
      }
    } else {
      refreshActive();
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
  renderChatHead();
}

/**
 * Merges a summary fetched over REST with the one kept live from events. The fetch may have
 * started before an event arrived, so neither side may move the other backwards.
 */
function freshest(live, fetched) {
  if (!live) return fetched;
  const merged = live.last_seq > fetched.last_seq
    ? { ...fetched, last_seq: live.last_seq, last_message: live.last_message,
      last_activity_at: live.last_activity_at, unread: live.unread }
    : fetched;
  if (live.read_seq > merged.read_seq) {
    merged.read_seq = live.read_seq;
    if (merged.read_seq >= merged.last_seq) merged.unread = 0;
  }
  return merged;
}

/** A REST call with my token; a 401 signs me out. */
async function call(method, path, body) {
  try {
    return await api(method, path, { token: state.token, body });
  } catch (err) {
    if (err.status === 401) signedOut();
    throw err;
  }
}

function signedOut() {
  if (state.conn) state.conn.stop();
  localStorage.removeItem(TOKEN_KEY);
  location.reload();
}

async function logout() {
  try {
    await api('POST', '/auth/logout', { token: state.token });
  } catch {
    // Signing out locally is what matters; the session dies with the token either way.
  }
  localStorage.removeItem(`chinwag.outbox.${state.me.id}`);
  signedOut();
}

// ---------------------------------------------------------------- connection

function onReady(frame) {
  state.me = frame.user;
  mergeUser({ ...frame.user, presence: 'online' });
  // A new connection watches nobody yet: tell the hub whose presence we show.
  syncWatch({ now: true });
  renderMe();
  adminChanged();
  renderList();
  renderChatHead();
}

function onSynced(frame) {
  if (frame && frame.reset && !state.firstSync) {
    // Missed events were not replayed: what is loaded may be stale. Start over from REST
    // (loadEverything below reopens the open conversation at its newest page).
    state.history.clear();
  }
  if (!state.firstSync) {
    // Resumed: events filled the gaps; refresh summaries so unread counts are exact.
    loadEverything();
  }
  state.firstSync = false;
  for (const item of state.outbox.items) {
    if (item.state !== 'failed') sendItem(item);
  }
  maybeRead();
}

let bannerTimer = null;

function onConnectionState({ online, retryInMs }) {
  clearInterval(bannerTimer);
  const banner = $('banner');
  if (online) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  // While disconnected nobody's presence is known; `ready` restores it.
  for (const user of state.users.values()) if (user.id !== state.me.id) user.presence = 'offline';
  renderList();
  renderChatHead();
  const until = Date.now() + retryInMs;
  const tick = () => {
    const secs = Math.max(0, Math.ceil((until - Date.now()) / 1000));
    $('banner-text').textContent = secs > 0
      ? `Connection to the hub lost. Reconnecting in ${secs} s…`
      : 'Connection to the hub lost. Reconnecting…';
  };
  tick();
  bannerTimer = setInterval(tick, 1000);
  if (state.active !== null) renderMessages();
}

/**
 * In the desktop app, tell the local node what is on screen, so it does not notify about
 * messages the user is reading. A hub has no such endpoint; nothing is sent to it.
 */
let sentView = '';
let viewInFlight = false;
/**
 * Tells the desktop's node what is on screen. One report at a time: two in flight could
 * arrive in the wrong order and leave the node believing an older view (say, unfocused).
 */
function reportView() {
  if (!state.joined || viewInFlight) return; // the report in flight checks again when done
  const view = { conversation_id: state.active, focused: document.hasFocus(), unread: state.unread };
  const key = JSON.stringify(view);
  if (key === sentView) return;
  viewInFlight = true;
  api('POST', '/node/view', { token: state.token, body: view }).then(() => {
    sentView = key;
    viewInFlight = false;
    reportView();
  }, () => {
    sentView = '';
    setTimeout(() => { viewInFlight = false; reportView(); }, 2000);
  });
}

// ---------------------------------------------------------------- desktop notifications

async function loadNotifySettings() {
  try {
    state.notify = await call('GET', '/node/notifications');
  } catch {
    return;
  }
  renderNotifySettings();
  renderList();
}

/** Applies a change at once (no Save needed) and shows the result. */
async function changeNotify(change) {
  try {
    state.notify = await call('PATCH', '/node/notifications', change);
    $('notify-saved').textContent = 'Saved.';
  } catch (err) {
    $('notify-saved').textContent = err.message;
  }
  renderNotifySettings();
  renderList();
}

/** Muted on the hub (any device), or in an older desktop's own list. */
function isMuted(convId) {
  const conv = state.convs.get(convId);
  return Boolean((conv && conv.muted) || (state.notify && state.notify.muted_conversations.includes(convId)));
}

async function setMuted(convId, muted) {
  $('info-error').textContent = '';
  try {
    await call('PUT', `/conversations/${convId}/mute`, { muted });
    const conv = state.convs.get(convId);
    if (conv) conv.muted = muted;
    if (!muted && state.notify && state.notify.muted_conversations.includes(convId)) {
      await changeNotify({ conversation: { id: convId, muted: false } });
    }
    announce(muted ? 'Conversation muted.' : 'Conversation unmuted.');
  } catch (err) {
    $('info-error').textContent = err.message;
  }
  renderList();
  if ($('info-dialog').open) renderInfo();
}

/** A mute set on any of my devices (this one included) shows here at once. */
function onMuted({ conversation_id: id, muted }) {
  const conv = state.convs.get(id);
  if (!conv || Boolean(conv.muted) === muted) return;
  conv.muted = muted;
  renderList();
  if ($('info-dialog').open && state.active === id) $('conv-mute').checked = isMuted(id);
}

/** Likewise a block or unblock. */
function onBlocked({ user_id: id, blocked }) {
  if (state.blocked.has(id) === blocked) return;
  if (blocked) state.blocked.add(id); else state.blocked.delete(id);
  renderChatHead();
  if ($('info-dialog').open) renderInfo();
}

function renderNotifySettings() {
  const box = $('notify-settings');
  box.hidden = !state.notify;
  if (!state.notify) return;
  $('notify-level').value = state.notify.level;
  $('notify-previews').checked = state.notify.previews;
  const until = state.notify.muted_until;
  const muted = until !== null && until > Date.now();
  $('notify-muted').hidden = false;
  const time = muted ? new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '';
  $('notify-muted-text').textContent = muted ? `All notifications are muted until ${time}.` : '';
  $('notify-unmute').textContent = muted ? 'Unmute' : 'Mute all for 1 hour';
  $('notify-unmute').dataset.muted = muted ? 'yes' : 'no';
}

/** A joined node tells whether it reaches the hub; while it does not, say so and keep going. */
function onLinkState(frame) {
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
  for (const user of state.users.values()) if (user.id !== state.me.id) user.presence = 'offline';
  renderList();
  renderChatHead();
  $('banner-retry').hidden = true; // the app retries by itself
  banner.hidden = false;
  $('banner-text').textContent = frame.state === 'signed_out'
    ? 'Signed out of the hub.'
    : 'The hub is out of reach. Messages you send are kept and go out when it is back.';
}

function request(frame) {
  const ref = `r${state.nextRef++}`;
  return new Promise((resolve, reject) => {
    if (!state.conn.send({ ...frame, ref })) {
      reject(new ApiError(0, 'offline', 'You are offline; try again when the connection is back.'));
      return;
    }
    state.requests.set(ref, { resolve, reject });
  });
}

function onReply(frame) {
  const waiting = state.requests.get(frame.ref);
  if (waiting) {
    state.requests.delete(frame.ref);
    if (frame.type === 'error') waiting.reject(new ApiError(0, frame.code, frame.message, frame.retry_after_ms));
    else waiting.resolve(frame);
    return;
  }
  const item = state.outbox.items.find((i) => i.client_id === frame.ref);
  if (!item) return;
  if (frame.type === 'ack') {
    retries.delete(item.client_id);
    state.outbox.remove(item.client_id);
    addMessage(frame.message);
  } else if (frame.type === 'error') {
    const attempts = (retries.get(item.client_id) || 0) + 1;
    retries.set(item.client_id, attempts);
    const giveUp = frame.code === 'internal' && attempts > INTERNAL_RETRIES;
    if (RETRYABLE.has(frame.code) && !giveUp) {
      const backoff = Math.min(30000, 1000 * 2 ** Math.min(attempts, 5));
      const wait = frame.code === 'rate_limited' ? Math.max(500, frame.retry_after_ms || 2000) : backoff;
      const stillWaiting = frame.code === 'unavailable' ? frame.message : undefined;
      if (stillWaiting !== item.error) {
        state.outbox.update(item.client_id, { error: stillWaiting });
        if (item.conversation_id === state.active) renderMessages();
      }
      setTimeout(() => {
        const now = state.outbox.items.find((i) => i.client_id === item.client_id);
        if (now && now.state !== 'failed') sendItem(now);
      }, wait);
    } else {
      retries.delete(item.client_id);
      state.outbox.update(item.client_id, { state: 'failed', error: frame.message });
      if (item.conversation_id === state.active) renderMessages();
    }
  }
}

// ---------------------------------------------------------------- events

function applyEvent(ev) {
  switch (ev.kind) {
    case 'message_new':
      addMessage(ev.message);
      break;
    case 'message_edited':
    case 'message_deleted':
      replaceMessage(ev.message);
      break;
    case 'conversation_created':
    case 'members_added': {
      const mine = ev.members.some((m) => m.user_id === state.me.id);
      if (mine || !state.convs.has(ev.conversation.id)) {
        loadEverything();
      } else {
        const members = state.members.get(ev.conversation.id);
        if (members) for (const m of ev.members) members.set(m.user_id, m);
        const conv = state.convs.get(ev.conversation.id);
        conv.member_count += ev.members.length;
        renderChatHead();
      }
      break;
    }
    case 'conversation_updated': {
      const conv = state.convs.get(ev.conversation.id);
      if (conv) Object.assign(conv, ev.conversation);
      renderList();
      renderChatHead();
      break;
    }
    case 'member_removed': {
      if (ev.user_id === state.me.id) {
        forgetConversation(ev.conversation_id);
      } else {
        const members = state.members.get(ev.conversation_id);
        if (members) members.delete(ev.user_id);
        const conv = state.convs.get(ev.conversation_id);
        if (conv) conv.member_count = Math.max(0, conv.member_count - 1);
        if (state.active === ev.conversation_id) { renderChatHead(); renderMessages(); }
      }
      break;
    }
    case 'member_updated': {
      const members = state.members.get(ev.conversation_id);
      if (members) members.set(ev.member.user_id, ev.member);
      if (ev.member.user_id === state.me.id) {
        const conv = state.convs.get(ev.conversation_id);
        if (conv) conv.my_role = ev.member.role;
      }
      break;
    }
    case 'receipt':
      onReceipt(ev);
      break;
    case 'user_joined':
    case 'user_updated':
      mergeUser(ev.user);
      if (ev.user.id === state.me.id) { state.me = ev.user; renderMe(); adminChanged(); }
      renderList();
      renderChatHead();
      if (state.active !== null) renderMessages();
      break;
    default:
      break;
  }
}

function mergeUser(user) {
  const known = state.users.get(user.id);
  // `disabled` is left out when false: an enabled account must not keep an old `true`.
  state.users.set(user.id, { presence: 'offline', ...known, disabled: false, ...user });
}

function setPresence(userId, status) {
  if (!notePresence(userId, status)) return;
  renderList();
  renderChatHead();
}

/** The hub's answer to `watch`: the presence of everyone we show, in one go. */
function onWatching(frame) {
  for (const { user_id: id, status } of frame.presence) {
    if (id !== state.me.id) notePresence(id, status);
  }
  renderList();
  renderChatHead();
}

/**
 * Records someone's presence and updates their dots in open dialogs without re-rendering
 * them; the list and the chat head are the caller's to render. False for someone unknown.
 */
function notePresence(userId, status) {
  const user = state.users.get(userId);
  if (!user) return false;
  user.presence = status;
  for (const dot of document.querySelectorAll(`[data-user-id="${Number(userId)}"] .dot`)) {
    dot.className = `dot ${status}`;
  }
  return true;
}

// The hub sends presence only for the people a connection watches: the peers of direct
// conversations, and whoever an open dialog lists. At most this many (the hub's limit).
const MAX_WATCHED = 1000;
let watchTimer = null;

/**
 * Tells the hub whose presence we show, when that changed (debounced, since dialogs re-render
 * as one types a filter), or at once and unconditionally after (re)connecting.
 */
function syncWatch({ now = false } = {}) {
  clearTimeout(watchTimer);
  if (now) state.watchKey = null;
  watchTimer = setTimeout(() => {
    if (!state.conn || !state.me) return;
    const ids = new Set();
    for (const conv of state.convs.values()) if (conv.peer_id) ids.add(conv.peer_id);
    for (const el of document.querySelectorAll('dialog[open] [data-user-id]')) ids.add(Number(el.dataset.userId));
    ids.delete(state.me.id);
    const list = [...ids].sort((a, b) => a - b).slice(0, MAX_WATCHED);
    const key = list.join(',');
    if (key === state.watchKey) return;
    if (state.conn.send({ type: 'watch', user_ids: list })) state.watchKey = key;
  }, now ? 0 : 300);
}

function addMessage(message) {
  const conv = state.convs.get(message.conversation_id);
  if (!conv) {
    loadEverything();
    return;
  }
  const mine = message.sender_id === state.me.id;
  // Read before anything on the page changes: a read after a change forces a layout.
  const wasAtBottom = message.conversation_id === state.active && atBottom();
  const hist = state.history.get(message.conversation_id);
  let isNew = true;
  if (hist) {
    isNew = !hist.list.some((m) => m.id === message.id);
    // While an older stretch is shown, newer messages come with the pages below it.
    if (isNew && !hist.hasNewer) insertSorted(hist.list, message);
  } else {
    isNew = message.seq > conv.last_seq;
  }
  if (mine) state.outbox.remove(message.client_id);
  if (message.seq >= conv.last_seq) {
    conv.last_seq = message.seq;
    conv.last_message = message;
    conv.last_activity_at = Math.max(conv.last_activity_at, message.created_at);
  }
  if (mine) {
    conv.read_seq = Math.max(conv.read_seq, message.seq);
  } else if (isNew) {
    if (message.seq > conv.read_seq) conv.unread += 1;
    reportDelivered(conv.id, message.seq, conv.delivered_seq);
    clearTyping(conv.id, message.sender_id);
    if (conv.id !== state.active || document.hidden) {
      announce(`New message from ${userName(message.sender_id)} in ${convName(conv)}: ${message.body}`);
    }
  }
  renderList();
  if (message.conversation_id === state.active) arrived({ scroll: wasAtBottom || mine, isNew });
}

/** Arrivals not shown yet: rendered together, once per frame (see `arrived`). */
let arrivals = null;

/**
 * Shows arrived messages in the open conversation: at the next frame, all that came since the
 * last one in one render, so a busy conversation costs one render per frame, not one per
 * message, and a page that fell behind catches up at once. (A hidden page has no frames;
 * there it is the next task.) The list then stays at the bottom if it was there when the
 * first of them came, or if one was mine.
 */
function arrived({ scroll, isNew }) {
  if (arrivals) {
    arrivals.scroll ||= scroll;
    arrivals.isNew ||= isNew;
    return;
  }
  arrivals = { scroll, isNew };
  const show = () => {
    const { scroll: toBottom, isNew: fresh } = arrivals;
    arrivals = null;
    renderMessages();
    if (toBottom) scrollToBottom();
    else if (fresh) $('jump').hidden = false;
    maybeRead();
  };
  if (document.hidden) setTimeout(show, 0);
  else requestAnimationFrame(show);
}

function replaceMessage(message) {
  const hist = state.history.get(message.conversation_id);
  if (hist) {
    const i = hist.list.findIndex((m) => m.id === message.id);
    if (i >= 0) hist.list[i] = message;
  }
  const conv = state.convs.get(message.conversation_id);
  if (conv && conv.last_message && conv.last_message.id === message.id) conv.last_message = message;
  renderList();
  if (message.conversation_id === state.active) renderMessages();
}

function insertSorted(list, message) {
  let i = list.length;
  while (i > 0 && list[i - 1].seq > message.seq) i -= 1;
  list.splice(i, 0, message);
}

function onReceipt(ev) {
  const members = state.members.get(ev.conversation_id);
  if (members) {
    const before = members.get(ev.user_id) || { user_id: ev.user_id, role: 'member', delivered_seq: 0, read_seq: 0 };
    members.set(ev.user_id, {
      ...before,
      delivered_seq: Math.max(before.delivered_seq, ev.delivered_seq),
      read_seq: Math.max(before.read_seq, ev.read_seq),
    });
  }
  if (ev.user_id === state.me.id) {
    // Another of my devices read it.
    const conv = state.convs.get(ev.conversation_id);
    if (conv && ev.read_seq > conv.read_seq) {
      conv.read_seq = ev.read_seq;
      if (conv.read_seq >= conv.last_seq) conv.unread = 0;
      renderList();
    }
  }
  // My own receipts (from this device or another) change no tick and no "Seen by".
  if (ev.conversation_id === state.active && ev.user_id !== state.me.id) renderMessages();
}

// ---------------------------------------------------------------- receipts I send

function reportDelivered(convId, seq, alreadyDelivered = 0) {
  const known = Math.max(state.delivered.get(convId) || 0, alreadyDelivered);
  if (seq <= known) return;
  state.delivered.set(convId, seq);
  state.pendingDelivered.set(convId, seq);
  clearTimeout(state.deliveredTimer);
  state.deliveredTimer = setTimeout(flushDelivered, 150);
}

function flushDelivered() {
  for (const [convId, seq] of state.pendingDelivered) {
    if (state.conn.send({ type: 'delivered', conversation_id: convId, seq })) {
      state.pendingDelivered.delete(convId);
    }
  }
}

/** Reports "read" when the active conversation is visible, focused and scrolled to the end. */
function maybeRead() {
  const conv = state.convs.get(state.active);
  if (!conv || state.untouched || document.hidden || !document.hasFocus() || !atBottom()) return;
  const hist = state.history.get(conv.id);
  if (!hist || hist.hasNewer) return; // an older stretch is shown, not the latest
  const last = conv.last_seq;
  if (last > 0 && conv.read_seq < last) {
    if (state.conn.send({ type: 'read', conversation_id: conv.id, seq: last })) {
      conv.read_seq = last;
      state.delivered.set(conv.id, Math.max(state.delivered.get(conv.id) || 0, last));
    }
  }
  if (conv.unread !== 0 && conv.read_seq >= last) {
    conv.unread = 0;
    renderList();
  }
  $('jump').hidden = true;
}

// ---------------------------------------------------------------- typing

function onTyping({ conversation_id: convId, user_id: userId, typing, expires_in_ms: ttl }) {
  if (!state.typing.has(convId)) state.typing.set(convId, new Map());
  const people = state.typing.get(convId);
  clearTimeout(people.get(userId));
  if (typing) {
    people.set(userId, setTimeout(() => clearTyping(convId, userId), ttl || 6000));
  } else {
    people.delete(userId);
  }
  if (convId === state.active) renderTyping();
}

function clearTyping(convId, userId) {
  const people = state.typing.get(convId);
  if (!people || !people.has(userId)) return;
  clearTimeout(people.get(userId));
  people.delete(userId);
  if (convId === state.active) renderTyping();
}

function renderTyping() {
  const people = state.typing.get(state.active);
  const names = people ? [...people.keys()].map(userName) : [];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  $('typing').textContent = text;
}

function sendTyping(typing) {
  const conv = state.active;
  const now = Date.now();
  const sent = state.typingSent;
  if (typing) {
    if (sent.conv === conv && now - sent.at < TYPING_REFRESH_MS) return;
    if (state.conn.send({ type: 'typing', conversation_id: conv, typing: true })) {
      state.typingSent = { conv, at: now };
    }
  } else if (sent.conv !== null) {
    state.conn.send({ type: 'typing', conversation_id: sent.conv, typing: false });
    state.typingSent = { conv: null, at: 0 };
  }
}

// ---------------------------------------------------------------- conversations

function userName(id) {
  const user = state.users.get(id);
  return user ? user.display_name : 'Someone';
}

function peerOf(conv) {
  return conv.peer_id ? state.users.get(conv.peer_id) : null;
}

function convName(conv) {
  if (conv.kind === 'direct') {
    const peer = peerOf(conv);
    return peer ? peer.display_name : 'Direct message';
  }
  return conv.kind === 'general' ? `# ${conv.name || 'general'}` : conv.name || 'Group';
}

function sortedConversations() {
  return [...state.convs.values()].sort((a, b) => b.last_activity_at - a.last_activity_at || b.id - a.id);
}

function previewOf(conv) {
  const m = conv.last_message;
  if (!m) return conv.kind === 'direct' ? 'Say hello' : 'No messages yet';
  if (m.deleted) return 'Message deleted';
  const body = m.body.trim() ? m.body.replace(/\s+/g, ' ') : filesSummary(m.attachments || []);
  if (m.sender_id === state.me.id) return `You: ${body}`;
  return conv.kind === 'direct' ? body : `${userName(m.sender_id)}: ${body}`;
}

/** What a message's files read as where it has no text (as the desktop's notifications). */
function filesSummary(files) {
  if (files.length === 1) return files[0].image ? 'Picture' : `File: ${files[0].name}`;
  return files.length ? `${files.length} files` : '';
}

function convAvatar(conv) {
  if (conv.kind === 'direct') {
    const peer = peerOf(conv);
    return avatar(peer ? peer.display_name : '?', conv.peer_id || 0, { presence: peer ? peer.presence : 'offline' });
  }
  return avatar(conv.kind === 'general' ? '#' : conv.name, conv.id + 7, { group: true });
}

/** The conversation list, keyed like the message list: an arrival rebuilds one entry. */
function renderList() {
  syncWatch(); // whose presence is shown may change
  const list = $('conversation-list');
  const focused = document.activeElement && document.activeElement.dataset.conv;
  let totalUnread = 0;
  const rows = sortedConversations().map((conv) => {
    const quiet = isMuted(conv.id);
    if (!quiet) totalUnread += conv.unread; // a muted conversation does not claim attention
    const entry = listEntry(conv, quiet);
    return { key: `conv-${conv.id}`, sig: JSON.stringify(entry), make: () => listItem(conv, entry) };
  });
  reconcile(list, rows);
  if (focused && document.activeElement?.dataset.conv !== focused) {
    const again = list.querySelector(`[data-conv="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
  const name = state.hub ? state.hub.name : 'Chinwag';
  document.title = totalUnread ? `(${totalUnread}) ${name} · Chinwag` : `${name} · Chinwag`;
  state.unread = totalUnread;
  reportView();
}

/** Everything a conversation's entry in the list shows. */
function listEntry(conv, quiet) {
  const peer = peerOf(conv);
  const name = convName(conv);
  const label = [name, conv.unread ? `${conv.unread} unread` : '', quiet ? 'muted' : '',
    peer ? peer.presence : ''].filter(Boolean).join(', ');
  return {
    name, label, quiet, unread: conv.unread, active: conv.id === state.active,
    time: conv.last_message ? shortWhen(conv.last_message.created_at) : '',
    preview: previewOf(conv), presence: peer ? peer.presence : null, kind: conv.kind,
  };
}

function listItem(conv, entry) {
  const button = h('button', {
    type: 'button',
    'aria-current': entry.active ? 'true' : 'false',
    'aria-label': entry.label,
    dataset: { conv: String(conv.id) },
    class: [entry.unread ? 'unread' : '', entry.quiet ? 'quiet' : ''].filter(Boolean).join(' '),
    onclick: () => openConversation(conv.id),
  },
  convAvatar(conv),
  h('span', { class: 'conv-main' },
    h('span', { class: 'conv-top' },
      h('span', { class: 'conv-name' }, entry.name,
        entry.quiet ? h('span', { class: 'conv-muted', title: 'Muted' }) : null),
      h('span', { class: 'conv-time' }, entry.time)),
    h('span', { class: 'conv-bottom' },
      h('span', { class: 'conv-preview' }, entry.preview),
      entry.unread ? h('span', { class: 'badge', 'aria-hidden': 'true' }, entry.unread > 999 ? '999+' : entry.unread) : null)));
  return h('li', {}, button);
}

async function openConversation(id, { focus = true } = {}) {
  if (state.active !== id) sendTyping(false);
  state.active = id;
  reportView();
  $('app-screen').classList.add('show-chat');
  $('empty-state').hidden = true;
  $('chat-head').hidden = false;
  $('messages-wrap').hidden = false;
  $('composer').hidden = false;
  $('jump').hidden = true;
  renderList();
  renderChatHead();
  renderTyping();
  renderUploads();
  const input = $('composer-input');
  input.value = drafts.get(id) || '';
  composerChanged(false);
  // Opening a conversation shows its newest messages, not an older stretch a search left.
  if (state.history.get(id)?.hasNewer) state.history.delete(id);
  if (!state.history.has(id)) {
    state.history.set(id, { list: [], hasMore: true, loading: false });
    renderMessages();
    await loadOlder(id);
  } else {
    renderMessages();
  }
  scrollToBottom();
  refreshMembers(id);
  maybeRead();
  if (focus) input.focus();
}

function closeConversation() {
  state.active = null;
  $('app-screen').classList.remove('show-chat');
  $('empty-state').hidden = false;
  $('chat-head').hidden = true;
  $('messages-wrap').hidden = true;
  $('composer').hidden = true;
  $('typing').textContent = '';
  renderUploads();
}

/** Drops a conversation I am no longer in from the list, closing it if it is open. */
function forgetConversation(id) {
  state.convs.delete(id);
  if (state.active === id) closeConversation();
  renderList();
}

async function refreshMembers(id) {
  try {
    const detail = await call('GET', `/conversations/${id}`);
    state.members.set(id, new Map(detail.members.map((m) => [m.user_id, m])));
    const conv = state.convs.get(id);
    if (conv) conv.member_count = detail.members.length;
    if (id === state.active) { renderChatHead(); renderMessages(); }
  } catch (err) {
    if (err.status === 404) forgetConversation(id);
  }
}

function refreshActive() {
  if (state.active === null) return;
  const id = state.active;
  if (!state.convs.has(id)) { closeConversation(); return; }
  refreshMembers(id);
  // Fill any gap at the end of the loaded history (events cover it too; this is cheap).
  const hist = state.history.get(id);
  if (!hist) { openConversation(id, { focus: false }); return; } // history was dropped
  if (hist.hasNewer) return; // an older stretch is shown; newer pages load on scroll
  const last = hist && hist.list.length ? hist.list[hist.list.length - 1].seq : 0;
  call('GET', `/conversations/${id}/messages?after=${last}&limit=200`).then((page) => {
    for (const m of page.messages) addMessage(m);
  }).catch(() => {});
}

/**
 * Replaces the loaded history with a page on each side of `seq` (a search result further back
 * than what is loaded). Newer pages then load as the person scrolls down (`hasNewer`).
 */
async function loadAround(id, seq) {
  try {
    const [older, newer] = await Promise.all([
      call('GET', `/conversations/${id}/messages?before=${seq + 1}&limit=${PAGE}`),
      call('GET', `/conversations/${id}/messages?after=${seq}&limit=${PAGE}`),
    ]);
    state.history.set(id, {
      list: [...older.messages, ...newer.messages], hasMore: older.has_more, hasNewer: newer.has_more, loading: false,
    });
  } catch (err) {
    flash(err.message);
  }
  if (id === state.active) renderMessages();
}

/** Back to the newest messages, reloading them if an older stretch is shown. */
function jumpToLatest() {
  const id = state.active;
  const hist = state.history.get(id);
  if (hist && hist.hasNewer) {
    state.history.delete(id);
    openConversation(id);
    return;
  }
  scrollToBottom();
  maybeRead();
}

function loadOlder(id) { return loadPage(id, true); }
function loadNewer(id) { return loadPage(id, false); }

/** Loads the page before (older) or after what is shown, keeping what is on screen in place. */
async function loadPage(id, older) {
  const hist = state.history.get(id);
  const [busy, more] = older ? ['loading', 'hasMore'] : ['loadingNewer', 'hasNewer'];
  if (!hist || hist[busy] || !hist[more] || (!older && !hist.list.length)) return;
  hist[busy] = true;
  const edge = older ? hist.list[0] : hist.list[hist.list.length - 1];
  const from = edge ? `${older ? 'before' : 'after'}=${edge.seq}&` : '';
  try {
    const page = await call('GET', `/conversations/${id}/messages?${from}limit=${PAGE}`);
    const known = new Set(hist.list.map((m) => m.id));
    const fresh = page.messages.filter((m) => !known.has(m.id));
    hist.list = older ? [...fresh, ...hist.list] : [...hist.list, ...fresh];
    hist[more] = page.has_more;
  } catch (err) {
    flash(err.message);
  } finally {
    hist[busy] = false;
  }
  if (id !== state.active) return;
  const box = $('messages');
  const fromBottom = box.scrollHeight - box.scrollTop;
  const top = box.scrollTop;
  renderMessages();
  box.scrollTop = older ? box.scrollHeight - fromBottom : top;
  if (!older) maybeRead();
}

function renderChatHead() {
  const conv = state.convs.get(state.active);
  if (!conv) return;
  $('chat-name').textContent = convName(conv);
  let sub = '';
  if (conv.kind === 'direct') {
    const peer = peerOf(conv);
    if (peer) sub = [peer.presence, peer.status_text].filter(Boolean).join(' · ');
  } else {
    sub = `${conv.member_count} ${conv.member_count === 1 ? 'member' : 'members'}`;
  }
  $('chat-sub').textContent = sub;
  // A direct chat with someone I blocked says so where I write, with the way back.
  const peer = conv.kind === 'direct' ? peerOf(conv) : null;
  const blocked = Boolean(peer && state.blocked.has(peer.id));
  $('blocked-note').hidden = !blocked;
  if (blocked) $('blocked-text').textContent = `You blocked ${peer.display_name}: they cannot send you direct messages, and you do not see them typing.`;
}

async function setBlocked(userId, blocked) {
  const user = state.users.get(userId);
  const name = user ? user.display_name : 'this person';
  if (blocked && !window.confirm(`Block ${name}? They will not be able to send you direct messages, and you will not see them typing. They are not told.`)) return;
  try {
    await call(blocked ? 'PUT' : 'DELETE', `/blocks/${userId}`);
    if (blocked) state.blocked.add(userId); else state.blocked.delete(userId);
    announce(blocked ? `${name} is blocked.` : `${name} is unblocked.`);
  } catch (err) {
    if ($('info-dialog').open) $('info-error').textContent = err.message; else flash(err.message);
  }
  renderChatHead();
  if ($('info-dialog').open) renderInfo();
}

// ---------------------------------------------------------------- the message list

function atBottom() {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
}

function scrollToBottom() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
  $('jump').hidden = true;
}

/** Renders the open conversation's messages (messages.js), touching only what changed. */
function renderMessages() {
  const conv = state.convs.get(state.active);
  const hist = state.history.get(state.active);
  if (!conv || !hist) return;
  renderMessageList($('messages'), {
    conv,
    hist,
    title: convName(conv),
    pending: state.outbox.forConversation(conv.id),
    me: state.me.id,
    admin: state.me.is_admin,
    found: state.found,
    members: state.members.get(conv.id),
    name: userName,
    attachment: attachmentNode,
    actions: { edit: editMessage, remove: deleteMessage, report: reportMessage, retry: retryItem, discard: discardItem },
  });
}

// ---------------------------------------------------------------- files

/** An attachment in a message: an image inline (click for full size), anything else as a card. */
function attachmentNode(file) {
  if (file.image) {
    const size = fitted(file.image);
    const img = h('img', { alt: file.name, width: size.width, height: size.height });
    thumbnailUrl(state.token, file.id).then((url) => { img.src = url; }, () => {
      img.alt = `${file.name} (the picture could not be loaded)`;
    });
    return h('button', { type: 'button', class: 'thumb', title: `${file.name} · ${humanSize(file.size)}`,
      'aria-label': `Open picture ${file.name}`, onclick: () => openImage(file), dataset: { fileId: String(file.id) } }, img);
  }
  const status = h('span', { class: 'muted' }, `${humanSize(file.size)} · ${file.mime}`);
  const button = h('button', { type: 'button', 'aria-label': `Download ${file.name}` }, 'Download');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await save(state.token, file, (loaded, total) => {
        status.textContent = `Downloading… ${total ? Math.floor((loaded / total) * 100) : 0}%`;
      });
      status.textContent = `${humanSize(file.size)} · saved`;
    } catch (err) {
      status.textContent = err.message;
    } finally {
      button.disabled = false;
    }
  });
  return h('div', { class: 'file-card', dataset: { fileId: String(file.id) } },
    h('span', { class: 'type', 'aria-hidden': 'true' }, typeLabel(file.name, file.mime)),
    h('span', { class: 'name-wrap' }, h('span', { class: 'name', title: file.name }, file.name), status),
    button);
}

let shownImage = null; // { file, url } of the full-size view

async function openImage(file) {
  closeImage();
  shownImage = { file, url: null };
  const shown = shownImage;
  $('image-title').textContent = file.name;
  $('image-status').textContent = `${file.image.width} × ${file.image.height} · ${humanSize(file.size)} · loading…`;
  const img = $('image-full');
  img.removeAttribute('src');
  img.alt = file.name;
  $('image-dialog').showModal();
  try {
    const url = await blobUrl(state.token, `/files/${file.id}`);
    if (shownImage !== shown) {
      URL.revokeObjectURL(url);
      return;
    }
    shown.url = url;
    img.src = url;
    $('image-status').textContent = `${file.image.width} × ${file.image.height} · ${humanSize(file.size)}`;
  } catch (err) {
    $('image-status').textContent = err.message;
  }
}

function closeImage() {
  if (shownImage && shownImage.url) URL.revokeObjectURL(shownImage.url);
  shownImage = null;
}

let uploadKeys = 0;

/** Uploads files to the open conversation; each is sent as a message once it is up. */
function startUploads(fileList) {
  const convId = state.active;
  if (convId === null) return;
  const max = state.hub && state.hub.limits.max_upload_bytes;
  for (const file of fileList) {
    const up = {
      key: ++uploadKeys, convId, name: file.name || 'file', size: file.size, loaded: 0,
      state: 'uploading', error: '', cancel: null,
    };
    state.uploads.push(up);
    if (file.size === 0) {
      fail(up, 'This file is empty; there is nothing to send.');
      continue;
    }
    if (max && file.size > max) {
      fail(up, `This file is ${humanSize(file.size)}; the hub takes files up to ${humanSize(max)}.`);
      continue;
    }
    const transfer = upload(state.token, convId, file, (loaded, total) => {
      up.loaded = loaded;
      up.size = total || up.size;
      showProgress(up);
    });
    up.cancel = transfer.cancel;
    transfer.promise.then((attachment) => {
      dropUpload(up);
      const item = {
        client_id: newClientId(), conversation_id: convId, body: '', attachments: [attachment.id],
        files: [attachment], created_at: Date.now(), state: 'pending',
      };
      state.outbox.add(item);
      if (convId === state.active) {
        renderMessages();
        scrollToBottom();
      }
      sendItem(item);
    }, (err) => {
      if (err.code === 'cancelled') dropUpload(up);
      else if (err.status === 401) signedOut();
      else fail(up, err.message);
    });
  }
  renderUploads();
}

function fail(up, message) {
  up.state = 'failed';
  up.error = message;
  up.cancel = null;
  renderUploads();
}

function dropUpload(up) {
  state.uploads = state.uploads.filter((u) => u !== up);
  renderUploads();
}

function uploadStatus(up) {
  if (up.state === 'failed') return up.error;
  const percent = up.size ? Math.floor((up.loaded / up.size) * 100) : 0;
  return `${humanSize(up.loaded)} of ${humanSize(up.size)} · ${percent}%`;
}

/** Updates one upload's bar in place (progress events come many times a second). */
function showProgress(up) {
  const row = document.querySelector(`.upload[data-key="${up.key}"]`);
  if (!row) return;
  row.querySelector('progress').value = up.loaded;
  row.querySelector('progress').max = up.size || 1;
  row.querySelector('.status').textContent = uploadStatus(up);
}

function renderUploads() {
  const rows = state.uploads.filter((u) => u.convId === state.active).map((up) => {
    const failed = up.state === 'failed';
    const action = failed
      ? h('button', { type: 'button', onclick: () => dropUpload(up), 'aria-label': `Dismiss ${up.name}` }, 'Dismiss')
      : h('button', { type: 'button', onclick: () => up.cancel && up.cancel(), 'aria-label': `Cancel upload of ${up.name}` }, 'Cancel');
    return h('div', { class: `upload${failed ? ' failed' : ''}`, dataset: { key: String(up.key) } },
      h('span', { class: 'name', title: up.name }, up.name),
      failed ? null : h('progress', { max: up.size || 1, value: up.loaded, 'aria-label': `Uploading ${up.name}` }),
      h('span', { class: 'status', role: failed ? 'alert' : null }, uploadStatus(up)),
      action);
  });
  $('uploads').replaceChildren(...rows);
}

function wireFiles() {
  $('attach').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', (event) => {
    startUploads([...event.target.files]);
    event.target.value = '';
  });
  $('composer-input').addEventListener('paste', (event) => {
    const files = [...(event.clipboardData ? event.clipboardData.files : [])];
    if (!files.length) return;
    event.preventDefault();
    startUploads(files);
  });
  const chat = $('chat');
  const carriesFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes('Files');
  let depth = 0; // dragenter/dragleave fire for every child crossed
  chat.addEventListener('dragenter', (event) => {
    if (!carriesFiles(event) || state.active === null) return;
    event.preventDefault();
    depth += 1;
    chat.classList.add('dropping');
  });
  chat.addEventListener('dragover', (event) => {
    if (!carriesFiles(event) || state.active === null) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
  });
  chat.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) chat.classList.remove('dropping');
  });
  chat.addEventListener('drop', (event) => {
    depth = 0;
    chat.classList.remove('dropping');
    if (!carriesFiles(event) || state.active === null) return;
    event.preventDefault();
    startUploads([...event.dataTransfer.files]);
  });
  $('image-dialog').addEventListener('close', closeImage);
  $('image-download').addEventListener('click', async () => {
    if (!shownImage) return;
    try {
      await save(state.token, shownImage.file);
    } catch (err) {
      $('image-status').textContent = err.message;
    }
  });
}

// ---------------------------------------------------------------- composing

const drafts = new Map();

function limit() {
  return state.hub ? state.hub.limits.max_message_bytes : 16384;
}

function composerChanged(typed = true) {
  const input = $('composer-input');
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight + 2, window.innerHeight * 0.4)}px`;
  const bytes = utf8Length(input.value);
  const max = limit();
  const hint = $('composer-hint');
  const over = bytes > max;
  hint.classList.toggle('over', over);
  if (over) hint.textContent = `Too long by ${bytes - max} bytes (the limit is ${max}).`;
  else if (bytes > max * 0.8) hint.textContent = `${max - bytes} bytes left.`;
  else hint.textContent = '';
  $('send').disabled = over || input.value.trim() === '';
  if (state.active !== null) drafts.set(state.active, input.value);
  if (typed) sendTyping(input.value.trim() !== '');
}

function submitComposer(event) {
  event.preventDefault();
  const input = $('composer-input');
  const body = input.value;
  if (body.trim() === '' || utf8Length(body) > limit() || state.active === null) return;
  const item = {
    client_id: newClientId(),
    conversation_id: state.active,
    body,
    created_at: Date.now(),
    state: 'pending',
  };
  state.outbox.add(item);
  input.value = '';
  drafts.delete(state.active);
  composerChanged(false);
  state.typingSent = { conv: null, at: 0 }; // the hub stops my indicator when the message lands
  renderMessages();
  scrollToBottom();
  sendItem(item);
}

function sendItem(item) {
  const frame = {
    type: 'send', ref: item.client_id, conversation_id: item.conversation_id,
    client_id: item.client_id, body: item.body,
  };
  if (item.attachments && item.attachments.length) frame.attachments = item.attachments;
  state.conn.send(frame);
}

function retryItem(clientId) {
  retries.delete(clientId);
  state.outbox.update(clientId, { state: 'pending', error: undefined });
  const item = state.outbox.items.find((i) => i.client_id === clientId);
  renderMessages();
  if (item) sendItem(item);
}

function discardItem(clientId) {
  state.outbox.remove(clientId);
  renderMessages();
}

let editing = null;

function editMessage(m) {
  editing = m;
  $('edit-input').value = m.body;
  $('edit-error').textContent = '';
  $('edit-dialog').showModal();
  $('edit-input').focus();
}

async function submitEdit(event) {
  event.preventDefault();
  const body = $('edit-input').value;
  if (body.trim() === '') { $('edit-error').textContent = 'A message cannot be empty; delete it instead.'; return; }
  try {
    const ack = await request({ type: 'edit', message_id: editing.id, body });
    replaceMessage(ack.message);
    $('edit-dialog').close();
  } catch (err) {
    $('edit-error').textContent = err.message;
  }
}

async function deleteMessage(m) {
  const whose = m.sender_id === state.me.id ? 'this message' : `this message by ${userName(m.sender_id)}`;
  if (!window.confirm(`Delete ${whose} for everyone?`)) return;
  try {
    const ack = await request({ type: 'delete', message_id: m.id });
    replaceMessage(ack.message);
  } catch (err) {
    flash(err.message);
  }
}

let reporting = null;

function reportMessage(m) {
  reporting = m;
  const files = m.attachments || [];
  $('report-quote').textContent = m.body.trim() ? m.body : filesSummary(files);
  $('report-reason').value = '';
  $('report-error').textContent = '';
  $('report-dialog').showModal();
  $('report-reason').focus();
}

async function submitReport(event) {
  event.preventDefault();
  try {
    await call('POST', `/messages/${reporting.id}/report`, { reason: $('report-reason').value.trim() });
    $('report-dialog').close();
    flash('Reported. The hub\'s admins will have a look.');
  } catch (err) {
    $('report-error').textContent = err.message;
  }
}

// ---------------------------------------------------------------- dialogs

function renderMe() {
  const me = state.me;
  $('me-name').textContent = me.display_name;
  $('hub-label').textContent = me.status_text || (state.hub ? state.hub.name : '');
  const slot = $('me-avatar');
  slot.replaceWith(Object.assign(avatar(me.display_name, me.id, { presence: 'online' }), { id: 'me-avatar' }));
}

/** The people I can start a chat with or add: everyone else, but not disabled accounts. */
function otherUsers() {
  return [...state.users.values()]
    .filter((u) => u.id !== state.me.id && !u.disabled)
    .sort((a, b) => a.display_name.localeCompare(b.display_name));
}

function personRow(user, extra) {
  const face = avatar(user.display_name, user.id, { presence: user.presence });
  face.dataset.userId = String(user.id);
  return [face,
    h('span', { class: 'who' }, h('span', {}, user.display_name),
      h('span', { class: 'muted small' }, `@${user.username}${user.disabled ? ' · account disabled'
        : user.status_text ? ` · ${user.status_text}` : ''}`)),
    extra];
}

// ---------------------------------------------------------------- search

let searchTimer = null;
let searchRun = 0;

function openSearch() {
  $('search-input').value = '';
  $('search-results').replaceChildren();
  $('search-status').textContent = '';
  $('search-dialog').showModal();
  $('search-input').focus();
}

async function runSearch() {
  const q = $('search-input').value.trim();
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

function searchResult({ message: m, snippet }) {
  const conv = state.convs.get(m.conversation_id);
  const where = [userName(m.sender_id), conv ? convName(conv) : '', shortWhen(m.created_at)].filter(Boolean).join(' · ');
  // Pieces are text; only the matches are wrapped, in <mark>.
  const text = h('span', { class: 'snippet' }, ...snippet.map((p) => (p.hit ? h('mark', {}, p.text) : p.text)));
  return h('li', {}, h('button', { type: 'button', class: 'pick', onclick: () => jumpTo(m) },
    h('span', { class: 'who' }, h('span', { class: 'muted small' }, where), text)));
}

/** Opens the message's conversation, loads older pages until it is there, and shows it. */
async function jumpTo(m) {
  $('search-dialog').close();
  if (!state.convs.has(m.conversation_id)) return;
  await openConversation(m.conversation_id);
  const hist = state.history.get(m.conversation_id);
  if (hist && !hist.list.some((x) => x.id === m.id)) await loadAround(m.conversation_id, m.seq);
  const node = document.querySelector(`#messages .msg[data-id="${Number(m.id)}"]`);
  if (!node) {
    flash('That message could not be loaded; it may have been deleted.');
    return;
  }
  // Kept in the state, so the mark survives the re-renders that follow.
  state.found = m.id;
  renderMessages();
  const marked = document.querySelector(`#messages .msg[data-id="${Number(m.id)}"]`) || node;
  marked.scrollIntoView({ block: 'center' });
  setTimeout(() => {
    if (state.found !== m.id) return; // a later jump owns the mark now
    state.found = null;
    renderMessages();
  }, 4000);
}

function openDirectory() {
  $('directory-filter').value = '';
  renderDirectory();
  $('directory-dialog').showModal();
  $('directory-filter').focus();
}

function renderDirectory() {
  syncWatch(); // whose presence is shown may change
  const filter = $('directory-filter').value.trim().toLowerCase();
  const items = otherUsers()
    .filter((u) => !filter || u.display_name.toLowerCase().includes(filter) || u.username.toLowerCase().includes(filter))
    .map((u) => h('li', {}, h('button', { type: 'button', class: 'pick', onclick: () => startDirect(u.id) }, ...personRow(u))));
  $('directory-list').replaceChildren(...(items.length ? items : [h('li', { class: 'muted' }, 'Nobody else here yet.')]));
}

async function startDirect(userId) {
  try {
    const detail = await call('POST', '/conversations/direct', { user_id: userId });
    $('directory-dialog').close();
    if (!state.convs.has(detail.id)) await loadEverything();
    openConversation(detail.id);
  } catch (err) {
    flash(err.message);
  }
}

function openGroupDialog() {
  syncWatch(); // whose presence is shown may change
  const form = $('group-form');
  form.reset();
  $('group-error').textContent = '';
  $('group-members').replaceChildren(...otherUsers().map((u) => h('li', {},
    h('label', {}, h('input', { type: 'checkbox', name: 'member', value: String(u.id) }), ...personRow(u)))));
  $('group-dialog').showModal();
  form.name.focus();
}

async function submitGroup(event) {
  event.preventDefault();
  const form = $('group-form');
  const name = form.name.value.trim();
  if (!name) { $('group-error').textContent = 'Give the group a name.'; return; }
  const memberIds = [...form.querySelectorAll('input[name=member]:checked')].map((i) => Number(i.value));
  try {
    const detail = await call('POST', '/conversations', { name, member_ids: memberIds });
    $('group-dialog').close();
    await loadEverything();
    openConversation(detail.id);
  } catch (err) {
    $('group-error').textContent = err.message;
  }
}

async function openInfo() {
  const conv = state.convs.get(state.active);
  if (!conv) return;
  await refreshMembers(conv.id);
  renderInfo();
  $('info-dialog').showModal();
}

function renderInfo() {
  syncWatch(); // whose presence is shown may change
  const conv = state.convs.get(state.active);
  if (!conv) return;
  const members = state.members.get(conv.id) || new Map();
  const admin = conv.kind === 'group' && conv.my_role === 'admin';
  $('info-title').textContent = convName(conv);
  $('info-error').textContent = '';
  const rename = $('rename-form');
  rename.hidden = !admin;
  rename.name.value = conv.name || '';
  const rows = [...members.values()]
    .map((m) => ({ m, user: state.users.get(m.user_id) }))
    .filter((r) => r.user)
    .sort((a, b) => a.user.display_name.localeCompare(b.user.display_name))
    .map(({ m, user }) => h('li', {}, ...personRow(user,
      h('span', { class: 'role' }, [m.role === 'admin' ? 'admin' : '', state.blocked.has(user.id) ? 'blocked' : '']
        .filter(Boolean).join(' · ')),
    ), admin && user.id !== state.me.id
      ? h('button', { type: 'button', onclick: () => removeMember(conv.id, user.id), 'aria-label': `Remove ${user.display_name}` }, 'Remove')
      : null, conv.kind !== 'direct' && user.id !== state.me.id
      ? h('button', {
        type: 'button',
        onclick: () => setBlocked(user.id, !state.blocked.has(user.id)),
        'aria-label': `${state.blocked.has(user.id) ? 'Unblock' : 'Block'} ${user.display_name}`,
      }, state.blocked.has(user.id) ? 'Unblock' : 'Block')
      : null));
  $('info-members').replaceChildren(...rows);
  const add = $('add-member-form');
  const candidates = otherUsers().filter((u) => !members.has(u.id));
  add.hidden = !admin || candidates.length === 0;
  add.user.replaceChildren(...candidates.map((u) => h('option', { value: String(u.id) }, u.display_name)));
  $('leave-group').hidden = conv.kind !== 'group';
  const peer = conv.kind === 'direct' ? peerOf(conv) : null;
  const block = $('block-peer');
  block.hidden = !peer;
  if (peer) {
    const blocked = state.blocked.has(peer.id);
    block.textContent = blocked ? `Unblock ${peer.display_name}` : `Block ${peer.display_name}`;
    block.className = blocked ? '' : 'danger';
    block.dataset.userId = String(peer.id);
  }
  $('conv-mute').checked = isMuted(conv.id);
}

async function removeMember(convId, userId) {
  try {
    await call('DELETE', `/conversations/${convId}/members/${userId}`);
    await refreshMembers(convId);
    renderInfo();
  } catch (err) {
    $('info-error').textContent = err.message;
  }
}

async function submitAddMember(event) {
  event.preventDefault();
  const userId = Number($('add-member-form').user.value);
  if (!userId) return;
  try {
    await call('POST', `/conversations/${state.active}/members`, { user_ids: [userId] });
    await refreshMembers(state.active);
    renderInfo();
  } catch (err) {
    $('info-error').textContent = err.message;
  }
}

async function submitRename(event) {
  event.preventDefault();
  try {
    const conv = await call('PATCH', `/conversations/${state.active}`, { name: $('rename-form').name.value });
    Object.assign(state.convs.get(conv.id), conv);
    renderList();
    renderChatHead();
    renderInfo();
  } catch (err) {
    $('info-error').textContent = err.message;
  }
}

async function leaveGroup() {
  const conv = state.convs.get(state.active);
  if (!conv || !window.confirm(`Leave ${convName(conv)}? You will stop receiving its messages.`)) return;
  try {
    await call('POST', `/conversations/${conv.id}/leave`);
    $('info-dialog').close();
    forgetConversation(conv.id);
  } catch (err) {
    $('info-error').textContent = err.message;
  }
}

function openProfile() {
  const form = $('profile-form');
  form.display_name.value = state.me.display_name;
  form.status_text.value = state.me.status_text;
  $('profile-error').textContent = '';
  $('notify-saved').textContent = '';
  if (state.desktop) loadNotifySettings();
  $('profile-dialog').showModal();
  form.display_name.focus();
}

async function submitProfile(event) {
  event.preventDefault();
  const form = $('profile-form');
  try {
    state.me = await call('PATCH', '/me', { display_name: form.display_name.value, status_text: form.status_text.value });
    mergeUser(state.me);
    renderMe();
    $('profile-dialog').close();
  } catch (err) {
    $('profile-error').textContent = err.message;
  }
}

let flashTimer = null;

/** A passing notice in the banner area for errors that have no better place. */
function flash(message) {
  const banner = $('banner');
  if (!banner.hidden && state.conn && (!state.conn.online || state.linkDown)) return;
  $('banner-text').textContent = message;
  $('banner-retry').hidden = true;
  banner.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { banner.hidden = true; $('banner-retry').hidden = false; }, 5000);
}

function announce(text) {
  const el = $('announcer');
  el.textContent = '';
  setTimeout(() => { el.textContent = text.length > 200 ? `${text.slice(0, 200)}…` : text; }, 50);
}

// ---------------------------------------------------------------- keyboard and wiring

function moveConversation(step, onlyUnread = false) {
  const list = sortedConversations();
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

function onKey(event) {
  if (!state.me || document.querySelector('dialog[open]')) return;
  if (event.altKey && event.key === 'ArrowDown') { event.preventDefault(); moveConversation(1); }
  else if (event.altKey && event.key === 'ArrowUp') { event.preventDefault(); moveConversation(-1); }
  else if (event.altKey && (event.key === 'u' || event.key === 'U')) { event.preventDefault(); moveConversation(1, true); }
  else if (event.altKey && (event.key === 'n' || event.key === 'N')) { event.preventDefault(); openDirectory(); }
  else if ((event.ctrlKey || event.metaKey) && (event.key === 'k' || event.key === 'K')) { event.preventDefault(); openSearch(); }
  else if (event.key === 'Escape' && $('app-screen').classList.contains('show-chat') && window.matchMedia('(max-width: 720px)').matches) {
    closeConversation();
  }
}

function wireStatic() {
  $('tab-login').addEventListener('click', () => setAuthMode('login'));
  $('tab-register').addEventListener('click', () => setAuthMode('register'));
  $('auth-form').addEventListener('submit', submitAuth);
  $('banner-retry').addEventListener('click', () => state.conn && state.conn.retryNow());
  $('new-direct').addEventListener('click', openDirectory);
  $('open-search').addEventListener('click', openSearch);
  $('search-input').addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(runSearch, 250);
  });
  $('new-group').addEventListener('click', openGroupDialog);
  $('me-button').addEventListener('click', openProfile);
  $('chat-info').addEventListener('click', openInfo);
  $('back').addEventListener('click', () => { closeConversation(); renderList(); });
  $('directory-filter').addEventListener('input', renderDirectory);
  $('group-form').addEventListener('submit', submitGroup);
  $('profile-form').addEventListener('submit', submitProfile);
  $('notify-level').addEventListener('change', (e) => changeNotify({ level: e.target.value }));
  $('notify-previews').addEventListener('change', (e) => changeNotify({ previews: e.target.checked }));
  $('notify-unmute').addEventListener('click', (e) => changeNotify({
    muted_until: e.target.dataset.muted === 'yes' ? null : Date.now() + 3600 * 1000,
  }));
  $('conv-mute').addEventListener('change', (e) => {
    if (state.active !== null) setMuted(state.active, e.target.checked);
  });
  $('block-peer').addEventListener('click', (e) => {
    const id = Number(e.target.dataset.userId);
    if (id) setBlocked(id, !state.blocked.has(id));
  });
  $('blocked-unblock').addEventListener('click', () => {
    const peer = peerOf(state.convs.get(state.active) || {});
    if (peer) setBlocked(peer.id, false);
  });
  $('report-form').addEventListener('submit', submitReport);
  wireAdmin({
    call,
    me: () => state.me,
    userName,
    convName: (id) => (state.convs.has(id) ? convName(state.convs.get(id)) : 'a conversation you are not in'),
  });
  $('edit-form').addEventListener('submit', submitEdit);
  $('rename-form').addEventListener('submit', submitRename);
  $('add-member-form').addEventListener('submit', submitAddMember);
  $('leave-group').addEventListener('click', leaveGroup);
  $('logout').addEventListener('click', logout);
  for (const button of document.querySelectorAll('.close-dialog')) {
    button.addEventListener('click', () => button.closest('dialog').close());
  }
  // Whoever a dialog listed is no longer shown once it closes.
  for (const dialog of document.querySelectorAll('dialog')) dialog.addEventListener('close', () => syncWatch());
  wireFiles();
  const input = $('composer-input');
  $('composer').addEventListener('submit', submitComposer);
  input.addEventListener('input', () => composerChanged(true));
  input.addEventListener('blur', () => sendTyping(false));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('composer').requestSubmit();
    }
  });
  const box = $('messages');
  box.addEventListener('scroll', () => {
    if (box.scrollTop < 80 && state.active !== null) loadOlder(state.active);
    if (atBottom() && state.active !== null) {
      loadNewer(state.active);
      maybeRead();
    }
  });
  $('jump').addEventListener('click', jumpToLatest);
  document.addEventListener('keydown', onKey);
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
    state.conn.send({ type: 'presence', status: document.hidden ? 'away' : 'online' });
    maybeRead();
  });
  window.addEventListener('online', () => state.conn && state.conn.retryNow());
}

boot();
