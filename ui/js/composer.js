// @ts-check
// Writing: the composer (a draft per conversation, the message it answers, the size limit
// as one types, Enter to send) and what one does to a message already sent: reply, edit,
// delete, report, and retry or discard one that could not be sent.

import { newClientId } from './hub.js';
import { $, utf8Length } from './dom.js';
import { state, changed, wantScroll } from './state.js';
import { userName, filesSummary, messageLimit, quoteOf } from './model.js';
import { replaceMessage } from './events.js';
import { call, request, sendItem } from './session.js';
import { sendTyping, typingEndedBySend } from './typing.js';
import { flash } from './notice.js';
import { forgetRetries } from './outbox.js';
import { mentionKey, updateMentions, closeMentions } from './completion.js';
import { draftOf, setDraft } from './drafts.js';
import { maybeOffer } from './notifications.js';
import { confirmAction } from './ask.js';

/** @typedef {import('../types/proto').Message} Message */

/** @type {Map<number, Message>} conversation id -> the message the draft answers */
const replying = new Map();

/**
 * My last message, being edited in the composer (↑ in an empty composer): Enter saves it,
 * Esc gives the draft back.
 * @type {{m: Message, draft: string}|null}
 */
let editingHere = null;

/** Shows the draft of conversation `id` in the composer, and the message it answers. */
export function loadDraft(/** @type {number} */ id) {
  editingHere = null;
  /** @type {HTMLTextAreaElement} */ ($('composer-input')).value = draftOf(id);
  composerChanged(false);
  showReplying();
}

/** Starts a reply to `m` in its conversation's composer. */
export function replyTo(/** @type {Message} */ m) {
  replying.set(m.conversation_id, m);
  showReplying();
  $('composer-input').focus();
}

/** Stops answering (or editing) a message; the draft stays (or comes back). */
function cancelReply() {
  if (editingHere) {
    const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
    input.value = editingHere.draft;
    editingHere = null;
    composerChanged(false);
  } else {
    replying.delete(state.active);
  }
  showReplying();
  $('composer-input').focus();
}

/** My newest message in the open conversation that can still be edited. */
function lastOfMine() {
  const hist = state.history.get(state.active);
  for (let i = hist ? hist.list.length - 1 : -1; i >= 0; i -= 1) {
    const m = hist.list[i];
    if (m.sender_id === state.me.id && !m.deleted && (m.body.trim() || !(m.attachments || []).length)) return m;
  }
  return null;
}

/** ↑ in an empty composer: my last message's text, to edit in place of the draft. */
function editLast() {
  const m = lastOfMine();
  if (!m) return false;
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  editingHere = { m, draft: input.value };
  input.value = m.body;
  composerChanged(false);
  input.selectionStart = input.selectionEnd = input.value.length;
  showReplying();
  return true;
}

/** Saves the message being edited in the composer. */
async function saveEditHere() {
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  const { m, draft } = /** @type {{m: Message, draft: string}} */ (editingHere);
  const body = input.value;
  if (body === m.body) { cancelReply(); return; }
  try {
    const ack = await request({ type: 'edit', message_id: m.id, body });
    changed(...replaceMessage(state, ack.message).topics);
    editingHere = null;
    input.value = draft;
    composerChanged(false);
    showReplying();
  } catch (err) {
    flash(err.message);
  }
}

/** The bar above the composer naming the message being answered or edited, if any. */
function showReplying() {
  if (editingHere) {
    $('reply-bar').hidden = false;
    $('reply-who').textContent = 'Editing your message';
    $('reply-text').textContent = 'Enter saves, Esc cancels';
    $('reply-cancel').setAttribute('aria-label', 'Cancel editing');
    return;
  }
  $('reply-cancel').setAttribute('aria-label', 'Cancel reply');
  const m = state.active === null ? null : replying.get(state.active);
  $('reply-bar').hidden = !m;
  if (!m) return;
  const quote = quoteOf(state, { conversation_id: m.conversation_id, reply_to: m.id });
  $('reply-who').textContent = `Replying to ${quote && quote.who ? quote.who : 'a message'}`;
  $('reply-text').textContent = quote ? quote.text : '';
}

/** The composer's text changed (typed, or set by the page): size hint, Send, draft, typing. */
export function composerChanged(typed = true) {
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight + 2, window.innerHeight * 0.4)}px`;
  const bytes = utf8Length(input.value);
  const max = messageLimit(state);
  const hint = $('composer-hint');
  const over = bytes > max;
  hint.classList.toggle('over', over);
  if (over) hint.textContent = `Too long by ${bytes - max} bytes (the limit is ${max}).`;
  else if (bytes > max * 0.8) hint.textContent = `${max - bytes} bytes left.`;
  else hint.textContent = '';
  /** @type {HTMLButtonElement} */ ($('send')).disabled = over || input.value.trim() === '';
  if (editingHere) return; // the text is the message's, not the draft's; no typing shown
  if (state.active !== null && setDraft(state.active, input.value)) changed('list');
  if (typed) sendTyping(input.value.trim() !== '');
}

function submitComposer(/** @type {Event} */ event) {
  event.preventDefault();
  const input = /** @type {HTMLTextAreaElement} */ ($('composer-input'));
  const body = input.value;
  if (body.trim() === '' || utf8Length(body) > messageLimit(state) || state.active === null) return;
  if (editingHere) {
    saveEditHere();
    return;
  }
  const item = { client_id: newClientId(), conversation_id: state.active, body, created_at: Date.now(), state: 'pending' };
  const answered = replying.get(state.active);
  if (answered) item.reply_to = answered.id;
  state.outbox.add(item);
  input.value = '';
  if (setDraft(state.active, '')) changed('list');
  replying.delete(state.active);
  showReplying();
  composerChanged(false);
  typingEndedBySend();
  wantScroll({ bottom: true });
  sendItem(item);
  maybeOffer();
}

/** Tries a message that was not sent again. */
export function retryItem(/** @type {string} */ clientId) {
  forgetRetries(clientId);
  state.outbox.update(clientId, { state: 'pending', error: undefined });
  const item = state.outbox.items.find((i) => i.client_id === clientId);
  changed('messages');
  if (item) sendItem(item);
}

/** Gives up a message that was not sent. */
export function discardItem(/** @type {string} */ clientId) {
  state.outbox.remove(clientId);
  changed('messages');
}

/** @type {Message|null} */
let editing = null;

/** Opens the edit dialog on my message. */
export function editMessage(/** @type {Message} */ m) {
  editing = m;
  const input = /** @type {HTMLTextAreaElement} */ ($('edit-input'));
  input.value = m.body;
  $('edit-error').textContent = '';
  /** @type {HTMLDialogElement} */ ($('edit-dialog')).showModal();
  input.focus();
}

async function submitEdit(/** @type {Event} */ event) {
  event.preventDefault();
  const body = /** @type {HTMLTextAreaElement} */ ($('edit-input')).value;
  if (body.trim() === '') { $('edit-error').textContent = 'A message cannot be empty; delete it instead.'; return; }
  try {
    const ack = await request({ type: 'edit', message_id: editing.id, body });
    changed(...replaceMessage(state, ack.message).topics);
    /** @type {HTMLDialogElement} */ ($('edit-dialog')).close();
  } catch (err) {
    $('edit-error').textContent = err.message;
  }
}

/** Deletes a message for everyone, once the person confirms. */
export async function deleteMessage(/** @type {Message} */ m) {
  const whose = m.sender_id === state.me.id ? 'this message' : `this message by ${userName(state, m.sender_id)}`;
  if (!await confirmAction({ title: 'Delete message?', text: `Delete ${whose} for everyone? This cannot be undone.`, action: 'Delete message' })) return;
  try {
    const ack = await request({ type: 'delete', message_id: m.id });
    changed(...replaceMessage(state, ack.message).topics);
  } catch (err) {
    flash(err.message);
  }
}

/** @type {Message|null} */
let reporting = null;

/** Opens the report dialog on someone's message. */
export function reportMessage(/** @type {Message} */ m) {
  reporting = m;
  $('report-quote').textContent = m.body.trim() ? m.body : filesSummary(m.attachments || []);
  /** @type {HTMLTextAreaElement} */ ($('report-reason')).value = '';
  $('report-error').textContent = '';
  /** @type {HTMLDialogElement} */ ($('report-dialog')).showModal();
  $('report-reason').focus();
}

async function submitReport(/** @type {Event} */ event) {
  event.preventDefault();
  try {
    const reason = /** @type {HTMLTextAreaElement} */ ($('report-reason')).value.trim();
    await call('POST', `/messages/${reporting.id}/report`, { reason });
    /** @type {HTMLDialogElement} */ ($('report-dialog')).close();
    flash('Reported. The hub\'s admins will have a look.');
  } catch (err) {
    $('report-error').textContent = err.message;
  }
}

/** Wires the composer and the message dialogs. */
export function wireComposer() {
  const input = $('composer-input');
  const form = /** @type {HTMLFormElement} */ ($('composer'));
  form.addEventListener('submit', submitComposer);
  input.addEventListener('input', () => { composerChanged(true); updateMentions(); });
  input.addEventListener('click', updateMentions);
  input.addEventListener('blur', () => { sendTyping(false); closeMentions(); });
  input.addEventListener('keydown', (event) => {
    if (mentionKey(event)) return; // the mention list's keys
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === 'Escape' && state.active !== null && (editingHere || replying.has(state.active))) {
      event.preventDefault();
      event.stopPropagation(); // Esc here cancels the reply or the edit, nothing else
      cancelReply();
    } else if (event.key === 'ArrowUp' && !event.shiftKey && !event.altKey && input.value === '' && !editingHere) {
      if (editLast()) event.preventDefault();
    }
  });
  $('reply-cancel').addEventListener('click', cancelReply);
  $('edit-form').addEventListener('submit', submitEdit);
  $('report-form').addEventListener('submit', submitReport);
}
