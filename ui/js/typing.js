// @ts-check
// Typing indicators: who is typing in the open conversation (from the hub's `typing` frames,
// each with its time to live), and mine, sent as I type and refreshed every few seconds.

import { $ } from './dom.js';
import { state, on, changed } from './state.js';
import { userName } from './model.js';

const TYPING_REFRESH_MS = 3000;
let sent = { conv: null, at: 0 }; // where my indicator is on, and since when

/** A `typing` frame: someone started or stopped. */
export function onTyping(/** @type {any} */ { conversation_id: convId, user_id: userId, typing, expires_in_ms: ttl }) {
  if (!state.typing.has(convId)) state.typing.set(convId, new Map());
  const people = state.typing.get(convId);
  clearTimeout(people.get(userId));
  if (typing) people.set(userId, setTimeout(() => clearTyping(convId, userId), ttl || 6000));
  else people.delete(userId);
  if (convId === state.active) changed('typing');
}

/** Someone stopped typing there (their message came, or their indicator expired). */
export function clearTyping(/** @type {number} */ convId, /** @type {number} */ userId) {
  const people = state.typing.get(convId);
  if (!people || !people.has(userId)) return;
  clearTimeout(people.get(userId));
  people.delete(userId);
  if (convId === state.active) changed('typing');
}

function renderTyping() {
  const people = state.active === null ? null : state.typing.get(state.active);
  const names = people ? [...people.keys()].map((id) => userName(state, id)) : [];
  let text = '';
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = 'Several people are typing…';
  $('typing').textContent = text;
}

/** Turns my indicator in the open conversation on (refreshing it) or off. */
export function sendTyping(/** @type {boolean} */ typing) {
  const conv = state.active;
  const now = Date.now();
  if (typing) {
    if (sent.conv === conv && now - sent.at < TYPING_REFRESH_MS) return;
    if (state.conn.send({ type: 'typing', conversation_id: conv, typing: true })) sent = { conv, at: now };
  } else if (sent.conv !== null) {
    state.conn.send({ type: 'typing', conversation_id: sent.conv, typing: false });
    sent = { conv: null, at: 0 };
  }
}

/** My message went: the hub stops my indicator when it lands, so there is nothing to turn off. */
export function typingEndedBySend() {
  sent = { conv: null, at: 0 };
}

on('typing', renderTyping);
