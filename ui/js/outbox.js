// @ts-check
// My messages on their way: the hub's answer to each send. An ack replaces the pending
// message with the real one; an error worth waiting out is retried by itself, and one that
// is not marks the message "Not sent" with Retry and Discard (messages.js).

import { state, changed } from './state.js';
import { sendItem } from './session.js';
import { receiveMessage } from './live.js';

// Send errors worth trying again by themselves: a rate limit (after the wait the hub names)
// and a hub that cannot save right now (disk full, restarting) are retried until they pass,
// backing off to 30 s; a hub bug (`internal`) is retried a few times, then the message is
// marked "Not sent".
const RETRYABLE = new Set(['rate_limited', 'unavailable', 'internal']);
const INTERNAL_RETRIES = 3;
const retries = new Map(); // client_id -> attempts after an error, this page load

/** Forgets the attempts at a message (tried again by hand). */
export function forgetRetries(/** @type {string} */ clientId) {
  retries.delete(clientId);
}

/** The hub's reply to a `send` (its ref is the client_id). @param {any} frame */
export function onSendReply(frame) {
  const item = state.outbox.items.find((i) => i.client_id === frame.ref);
  if (!item) return;
  if (frame.type === 'ack') {
    retries.delete(item.client_id);
    receiveMessage(frame.message); // it leaves the outbox there, as any message of mine does
    return;
  }
  if (frame.type !== 'error') return;
  const attempts = (retries.get(item.client_id) || 0) + 1;
  retries.set(item.client_id, attempts);
  const giveUp = frame.code === 'internal' && attempts > INTERNAL_RETRIES;
  if (!RETRYABLE.has(frame.code) || giveUp) {
    retries.delete(item.client_id);
    state.outbox.update(item.client_id, { state: 'failed', error: frame.message });
    if (item.conversation_id === state.active) changed('messages');
    return;
  }
  const backoff = Math.min(30000, 1000 * 2 ** Math.min(attempts, 5));
  const wait = frame.code === 'rate_limited' ? Math.max(500, frame.retry_after_ms || 2000) : backoff;
  const stillWaiting = frame.code === 'unavailable' ? frame.message : undefined;
  if (stillWaiting !== item.error) {
    state.outbox.update(item.client_id, { error: stillWaiting });
    if (item.conversation_id === state.active) changed('messages');
  }
  setTimeout(() => {
    const now = state.outbox.items.find((i) => i.client_id === item.client_id);
    if (now && now.state !== 'failed') sendItem(now);
  }, wait);
}

/** Sends again everything not given up (after connecting). */
export function resendAll() {
  for (const item of state.outbox.items) if (item.state !== 'failed') sendItem(item);
}
