// @ts-check
// The signed-in session's traffic: REST calls with my token, requests over the connection,
// and the small reports the page sends by itself (delivered and read receipts, whose
// presence is shown, what the desktop window shows).

import { clearDrafts } from './drafts.js';
import { api, ApiError } from './hub.js';
import { $ } from './dom.js';
import { state, changed, TOKEN_KEY } from './state.js';

/** A REST call with my token; a 401 signs me out. @param {string} method @param {string} path @param {unknown} [body] */
export async function call(method, path, body) {
  try {
    return await api(method, path, { token: state.token, body });
  } catch (err) {
    if (err.status === 401) signedOut();
    throw err;
  }
}

/** The session ended (signed out here or elsewhere): start again from the sign-in screen. */
export function signedOut() {
  if (state.conn) state.conn.stop();
  localStorage.removeItem(TOKEN_KEY);
  location.reload();
}

export async function logout() {
  try {
    await api('POST', '/auth/logout', { token: state.token });
  } catch {
    // Signing out locally is what matters; the session dies with the token either way.
  }
  localStorage.removeItem(`chinwag.outbox.${state.me.id}`);
  clearDrafts();
  signedOut();
}

/** Requests waiting for their reply: ref -> { resolve, reject }. */
const requests = new Map();
let nextRef = 1;

/** A frame that expects a reply (edit, delete): resolves with it, or rejects with its error. */
export function request(/** @type {object} */ frame) {
  const ref = `r${nextRef++}`;
  return new Promise((resolve, reject) => {
    if (!state.conn.send({ ...frame, ref })) {
      reject(new ApiError(0, 'offline', 'You are offline; try again when the connection is back.'));
      return;
    }
    requests.set(ref, { resolve, reject });
  });
}

/** Settles the request a reply answers. False when it answers none (a send's ack). */
export function settleRequest(/** @type {any} */ frame) {
  const waiting = requests.get(frame.ref);
  if (!waiting) return false;
  requests.delete(frame.ref);
  if (frame.type === 'error') waiting.reject(new ApiError(0, frame.code, frame.message, frame.retry_after_ms));
  else waiting.resolve(frame);
  return true;
}

/** Sends an outbox item (again: its client_id makes a resend harmless). */
export function sendItem(/** @type {any} */ item) {
  const frame = {
    type: 'send', ref: item.client_id, conversation_id: item.conversation_id,
    client_id: item.client_id, body: item.body,
  };
  if (item.attachments && item.attachments.length) frame.attachments = item.attachments;
  if (item.reply_to) frame.reply_to = item.reply_to;
  state.conn.send(frame);
}

// ---------------------------------------------------------------- receipts I send

const pendingDelivered = new Map();
let deliveredTimer = null;

/** Reports a message delivered to this device, a few together. */
export function reportDelivered(/** @type {number} */ convId, /** @type {number} */ seq, alreadyDelivered = 0) {
  const known = Math.max(state.delivered.get(convId) || 0, alreadyDelivered);
  if (seq <= known) return;
  state.delivered.set(convId, seq);
  pendingDelivered.set(convId, seq);
  clearTimeout(deliveredTimer);
  deliveredTimer = setTimeout(flushDelivered, 150);
}

function flushDelivered() {
  for (const [convId, seq] of pendingDelivered) {
    if (state.conn.send({ type: 'delivered', conversation_id: convId, seq })) pendingDelivered.delete(convId);
  }
}

/** Whether the message list is scrolled to its end. */
export function atBottom() {
  const box = $('messages');
  return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
}

/**
 * Whether the person is at the open conversation: the page shown and focused, and touched
 * since the app opened the conversation by itself. Read receipts and "New messages" ask it.
 */
export function looking() {
  return !state.untouched && !document.hidden && document.hasFocus();
}

/** Reports "read" when the open conversation is visible, focused and scrolled to the end. */
export function maybeRead() {
  const conv = state.convs.get(state.active);
  if (!conv || !looking() || state.markedUnread === conv.id || !atBottom()) return;
  const hist = state.history.get(conv.id);
  if (!hist || hist.hasNewer) return; // an older stretch is shown, not the latest
  const last = conv.last_seq;
  if (last > 0 && conv.read_seq < last) {
    if (state.conn.send({ type: 'read', conversation_id: conv.id, seq: last })) {
      conv.read_seq = last;
      state.delivered.set(conv.id, Math.max(state.delivered.get(conv.id) || 0, last));
    }
  }
  if ((conv.unread !== 0 || conv.mentions) && conv.read_seq >= last) {
    conv.unread = 0;
    conv.mentions = 0;
    changed('list');
  }
  $('jump').hidden = true;
}

// ---------------------------------------------------------------- whose presence is shown

// The hub sends presence only for the people a connection watches: the peers of direct
// conversations, and whoever an open dialog lists. At most this many (the hub's limit).
const MAX_WATCHED = 1000;
let watchTimer = null;
let watchKey = null; // the `watch` list last sent, joined

/**
 * Tells the hub whose presence we show, when that changed (debounced, since dialogs re-render
 * as one types a filter), or at once and unconditionally after (re)connecting.
 */
export function syncWatch({ now = false } = {}) {
  clearTimeout(watchTimer);
  if (now) watchKey = null;
  watchTimer = setTimeout(() => {
    if (!state.conn || !state.me) return;
    const ids = new Set();
    for (const conv of state.convs.values()) if (conv.peer_id) ids.add(conv.peer_id);
    for (const el of document.querySelectorAll('dialog[open] [data-user-id]')) {
      ids.add(Number(/** @type {HTMLElement} */ (el).dataset.userId));
    }
    ids.delete(state.me.id);
    const list = [...ids].sort((a, b) => a - b).slice(0, MAX_WATCHED);
    const key = list.join(',');
    if (key === watchKey) return;
    if (state.conn.send({ type: 'watch', user_ids: list })) watchKey = key;
  }, now ? 0 : 300);
}

// ---------------------------------------------------------------- what the desktop shows

let sentView = '';
let viewInFlight = false;

/**
 * In the desktop app, tells the local node what is on screen, so it does not notify about
 * messages the user is reading. One report at a time: two in flight could arrive in the
 * wrong order and leave the node believing an older view (say, unfocused). A hub has no such
 * endpoint; nothing is sent to it.
 */
export function reportView() {
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
