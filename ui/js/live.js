// @ts-check
// Where the hub's events meet the page: each is applied to the state (events.js, pure) and
// its outcome carried out here: views to render, receipts to send, typing to clear, words
// for screen readers, and a reload when the summaries went stale (sync.js listens).

import { state, changed, wantScroll } from './state.js';
import { applyEvent, addMessage, markUnseen } from './events.js';
import { convName, userName } from './model.js';
import { atBottom, looking, reportDelivered } from './session.js';
import { clearTyping } from './typing.js';
import { announce } from './notice.js';
import { plainText } from './format.js';
import { onArrival } from './notifications.js';

/** @typedef {import('./events.js').Outcome} Outcome */
/** @typedef {import('../types/proto').Message} Message */

/** An event from the hub's stream. @param {import('../types/proto').Event} ev */
export function receive(ev) {
  // Read before anything on the page changes: a read after a change forces a layout.
  const wasAtBottom = ev.kind === 'message_new' && ev.message.conversation_id === state.active && atBottom();
  carryOut(applyEvent(state, ev), wasAtBottom);
}

/** A message the hub gave back (my send's ack, a page of history). @param {Message} message */
export function receiveMessage(message) {
  const wasAtBottom = message.conversation_id === state.active && atBottom();
  if (message.sender_id === state.me.id) state.outbox.remove(message.client_id);
  carryOut(addMessage(state, message), wasAtBottom);
}

/** Does what an outcome asks. @param {Outcome} o @param {boolean} wasAtBottom */
export function carryOut(o, wasAtBottom = false) {
  if (o.reload) changed('stale');
  if (o.delivered) reportDelivered(o.delivered.convId, o.delivered.seq, o.delivered.already);
  if (o.stoppedTyping) clearTyping(o.stoppedTyping.convId, o.stoppedTyping.userId);
  if (o.notify) onArrival(o.notify);
  if (o.announce && (o.announce.convId !== state.active || document.hidden)) {
    const { convId, senderId, body } = o.announce;
    announce(`New message from ${userName(state, senderId)} in ${convName(state, state.convs.get(convId))}: ${plainText(body)}`);
  }
  // In the open conversation the list stays at the end if it was there when the first of
  // the messages since the last render came, or if one was mine.
  if (o.arrived) wantScroll({ bottom: wasAtBottom || o.arrived.mine, isNew: o.arrived.isNew });
  // Someone else's message that nobody is looking at yet: "New messages" goes above it.
  if (o.arrived && o.arrived.isNew && !o.arrived.mine && !(wasAtBottom && looking())) markUnseen(state, state.active);
  changed(...o.topics);
}
