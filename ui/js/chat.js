// @ts-check
// The open conversation: opening and closing it, its history in pages (older as one scrolls
// up, newer below an older stretch a search opened), going to one message (a search result,
// a reply's original), and its views: which pane shows, the name line, and the message list
// (messages.js) with its scroll.

import { $ } from './dom.js';
import { state, on, changed, flush, wantScroll } from './state.js';
import { convName, peerOf, userName, quoteOf, originalOf, mentionOf, presenceText } from './model.js';
import { forgetConversation } from './events.js';
import { call, request, reportView, maybeRead, atBottom } from './session.js';
import { carryOut } from './live.js';
import { sendTyping } from './typing.js';
import { loadDraft, replyTo, editMessage, deleteMessage, reportMessage, retryItem, discardItem } from './composer.js';
import { attachmentNode, smallThumb } from './uploads.js';
import { flash, announce } from './notice.js';
import { openPicker, toggleReaction } from './reactions.js';
import { renderMessageList, trimToWindow, revealOlder, reveal, firstShown } from './messages.js';
import { openMenu, wireMenu } from './menu.js';

const PAGE = 50;

/** Shows conversation `id` at its newest messages (loading them the first time). */
export async function openConversation(/** @type {number} */ id, { focus = true } = {}) {
  const again = state.active === id;
  if (!again) sendTyping(false);
  state.active = id;
  state.markedUnread = null; // opened anew: what shows is read as usual
  reportView();
  $('jump').hidden = true;
  // Where the unread begin, kept while the conversation stays open ("New messages"); a
  // click on the open conversation keeps the line its first click or key has just read.
  const conv = state.convs.get(id);
  if (!(again && state.unreadLine && state.unreadLine.convId === id)) {
    state.unreadLine = conv && conv.unread > 0 ? { convId: id, seq: conv.read_seq + 1 } : null;
  }
  changed('panes', 'list', 'head', 'typing', 'uploads');
  flush(); // the composer is shown before its draft is measured
  loadDraft(id);
  // Opening a conversation shows its newest messages, not an older stretch a search left.
  if (state.history.get(id)?.hasNewer) state.history.delete(id);
  if (!state.history.has(id)) {
    state.history.set(id, { list: [], hasMore: true, loading: false });
    changed('messages');
    flush();
    await loadOlder(id);
  }
  wantScroll({ bottom: true, unread: true });
  flush();
  refreshMembers(id);
  if (focus) $('composer-input').focus();
}

/** Back to the list (on a phone, the list and the chat take turns). */
export function closeConversation() {
  state.active = null;
  changed('panes', 'uploads', 'list');
  flush(); // a navigation shows at once, as opening does
}

/** Fetches the open conversation's members (their receipts) again. */
export async function refreshMembers(/** @type {number} */ id) {
  try {
    const detail = await call('GET', `/conversations/${id}`);
    state.members.set(id, new Map(detail.members.map((m) => [m.user_id, m])));
    const conv = state.convs.get(id);
    if (conv) conv.member_count = detail.members.length;
    if (id === state.active) changed('head', 'messages');
  } catch (err) {
    if (err.status === 404) carryOut(forgetConversation(state, id));
  }
}

/**
 * Replaces the loaded history with a page on each side of `seq` (a search result further back
 * than what is loaded). Newer pages then load as the person scrolls down (`hasNewer`).
 */
export async function loadAround(/** @type {number} */ id, /** @type {number} */ seq) {
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
  if (id === state.active) changed('messages');
}

/**
 * Opens a message's conversation, loads the history around it if it is further back than
 * what is loaded, and shows it, marked for a moment (a search result, a reply's original).
 * @param {{id: number, conversation_id: number, seq: number}} m
 */
export async function jumpToMessage(m) {
  if (!state.convs.has(m.conversation_id)) return;
  if (state.active !== m.conversation_id) await openConversation(m.conversation_id);
  await putOnPage(m.conversation_id, m.seq, (hist) => hist.list.some((x) => x.id === m.id));
  const selector = `#messages .msg[data-id="${Number(m.id)}"]`;
  if (!document.querySelector(selector)) {
    flash('That message could not be loaded; it may have been deleted.');
    return;
  }
  // Kept in the state, so the mark survives the renders that follow.
  state.found = m.id;
  changed('messages');
  flush();
  document.querySelector(selector).scrollIntoView({ block: 'center' });
  setTimeout(() => {
    if (state.found !== m.id) return; // a later jump owns the mark now
    state.found = null;
    changed('messages');
  }, 4000);
}

/**
 * Makes message `seq` of the open conversation `convId` loaded and on the page: the history
 * around it is loaded unless `loaded` says what is loaded will do, then the page shows it
 * (it may be loaded but above what the page shows).
 * @param {number} convId @param {number} seq
 * @param {(hist: import('./messages.js').History) => boolean} loaded
 */
async function putOnPage(convId, seq, loaded) {
  const hist = state.history.get(convId);
  if (!hist || !loaded(hist)) await loadAround(convId, seq);
  const now = state.history.get(convId);
  if (now) reveal(now, seq);
  changed('messages');
  flush();
}

/** Originals asked of the hub and not answered yet. */
const fetching = new Set();

/**
 * Fetches the originals of the replies on the page that are neither loaded nor fetched
 * (`GET /messages/{id}`); one the hub will not give is remembered as not available.
 * @param {number} convId
 */
function fetchOriginals(convId) {
  const hist = state.history.get(convId);
  if (!hist) return;
  const shown = [...hist.list.slice(firstShown(hist)), ...state.outbox.forConversation(convId)];
  for (const m of shown) {
    const o = originalOf(state, { conversation_id: convId, reply_to: m.reply_to });
    if (!o || o.status !== 'loading' || fetching.has(o.id)) continue;
    fetching.add(o.id);
    call('GET', `/messages/${o.id}`).then((original) => {
      state.originals.set(o.id, original);
    }, (err) => {
      if (err.status === 404) state.originals.set(o.id, null);
    }).finally(() => {
      fetching.delete(o.id);
      if (state.active === convId) changed('messages');
    });
  }
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

function loadOlder(/** @type {number} */ id) { return loadPage(id, true); }
function loadNewer(/** @type {number} */ id) { return loadPage(id, false); }

/** Loads the page before (older) or after what is shown, keeping what is on screen in place. */
async function loadPage(/** @type {number} */ id, /** @type {boolean} */ older) {
  const hist = state.history.get(id);
  if (older && state.scroll && state.scroll.keep) return; // the last page is not on screen yet
  if (older && hist && !hist.loading && revealOlder(hist, PAGE)) {
    // Loaded already, only not on the page.
    if (id === state.active) wantScroll({ keep: 'older' });
    return;
  }
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
  if (id === state.active) wantScroll({ keep: older ? 'older' : 'newer' });
}

/**
 * Just opened at the end: when the first unread is above what shows, the view goes up to
 * it instead ("New messages" at the top); when it is not even loaded (a long backlog), a
 * bar offers to jump there. Either way nothing is read until it has been seen. Whether the
 * view went up to the line.
 * @param {import('./messages.js').History} hist
 */
function toFirstUnread(hist) {
  const line = state.unreadLine;
  $('jump-unread').hidden = true;
  if (!line || line.convId !== state.active) return false;
  const box = $('messages');
  const divider = /** @type {HTMLElement|null} */ (box.querySelector('.unread-line'));
  if (divider) {
    const above = divider.getBoundingClientRect().top - box.getBoundingClientRect().top;
    if (above < 0) box.scrollTop += above - 8;
    return above < 0;
  }
  if (hist.list.length) $('jump-unread').hidden = false; // not loaded, or above the messages on the page
  return false;
}

/** Loads the history around the first unread and shows it at the top. */
async function jumpToFirstUnread() {
  const line = state.unreadLine;
  $('jump-unread').hidden = true;
  if (!line || line.convId !== state.active) return;
  // Where the line goes is known once what is before it is loaded, or nothing is.
  await putOnPage(line.convId, line.seq, (hist) => !hist.hasMore || hist.list.some((m) => (m.seq || 0) < line.seq));
  const divider = document.querySelector('#messages .unread-line');
  if (divider) divider.scrollIntoView({ block: 'start' });
}

function scrollToBottom() {
  const box = $('messages');
  box.scrollTop = box.scrollHeight;
  $('jump').hidden = true;
}

/** Which shows: the list, or the open chat (side by side on a wide screen). */
function renderPanes() {
  const open = state.active !== null;
  $('app-screen').classList.toggle('show-chat', open);
  $('empty-state').hidden = open;
  $('chat-head').hidden = !open;
  $('messages-wrap').hidden = !open;
  $('composer').hidden = !open;
  if (!open) $('typing').textContent = '';
}

function renderChatHead() {
  const conv = state.convs.get(state.active);
  if (!conv) return;
  $('chat-name').textContent = convName(state, conv);
  let sub = '';
  const peer = conv.kind === 'direct' ? peerOf(state, conv) : null;
  if (conv.kind === 'direct') {
    if (peer) sub = [presenceText(peer.presence), peer.status_text].filter(Boolean).join(' · ');
  } else {
    sub = `${conv.member_count} ${conv.member_count === 1 ? 'member' : 'members'}`;
  }
  $('chat-sub').textContent = sub;
  // A direct chat with someone I blocked says so where I write, with the way back.
  const blocked = Boolean(peer && state.blocked.has(peer.id));
  $('blocked-note').hidden = !blocked;
  if (blocked) $('blocked-text').textContent = `You blocked ${peer.display_name}: they cannot send you direct messages, and you do not see them typing.`;
}

/** Marks the open conversation unread from `m` on; it stays so until opened anew. */
async function markUnread(/** @type {import('../types/proto').Message} */ m) {
  state.markedUnread = m.conversation_id;
  try {
    await request({ type: 'mark_unread', conversation_id: m.conversation_id, seq: m.seq });
    announce('Marked unread from this message.');
  } catch (err) {
    state.markedUnread = null;
    flash(err.message);
  }
}

const actions = {
  reply: replyTo, react: openPicker, toggle: toggleReaction, unread: markUnread, jump: jumpToMessage, edit: editMessage, remove: deleteMessage, report: reportMessage,
  retry: retryItem, discard: discardItem, menu: openMenu,
};

/**
 * The keyboard in the message list (as in Slack and Element): ↑/↓ from the list or a
 * message move between messages, Home/End go to the first and last shown, Enter opens the
 * focused message's menu, Esc goes back to the message box, and a typed character goes
 * there too. Tab goes into a message's buttons.
 * @param {KeyboardEvent} event
 */
function moveInMessages(event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  const box = $('messages');
  const target = /** @type {HTMLElement} */ (event.target);
  const onMessage = target.classList.contains('msg');
  if (target !== box && !onMessage) return; // keys in a message's buttons stay theirs
  // Typing while on a message (or after clicking one) writes in the message box, as in Slack.
  if (event.key.length === 1 && !$('composer').hidden && event.key !== ' ') {
    $('composer-input').focus();
    return;
  }
  const all = /** @type {HTMLElement[]} */ ([...box.querySelectorAll(':scope > .msg')]);
  if (!all.length) return;
  const at = onMessage ? all.indexOf(target) : -1;
  /** @type {HTMLElement|null} */
  let next = null;
  if (event.key === 'ArrowUp') next = at === -1 ? all[all.length - 1] : all[Math.max(0, at - 1)];
  else if (event.key === 'ArrowDown') next = at === -1 ? all[all.length - 1] : all[Math.min(all.length - 1, at + 1)];
  else if (event.key === 'Home') next = all[0];
  else if (event.key === 'End') next = all[all.length - 1];
  else if (event.key === 'Escape' && onMessage && !$('composer').hidden) next = $('composer-input');
  else if (event.key === 'Enter' && onMessage) {
    const more = /** @type {HTMLElement|null} */ (target.querySelector('.msg-actions .more'));
    if (more) {
      event.preventDefault();
      more.click();
    }
    return;
  }
  if (!next) return;
  event.preventDefault();
  next.focus({ preventScroll: true });
  next.scrollIntoView({ block: 'nearest' });
}

/** Whether the view was at the end when last scrolled or drawn (it follows what comes). */
let following = true;

/**
 * Right at the end (atBottom allows 40 px, for reading): a view brought a little up to
 * "New messages" is not at the end, and is not pulled back there.
 * @param {HTMLElement} box
 */
function atEnd(box) {
  return box.scrollHeight - box.scrollTop - box.clientHeight < 2;
}

/** The open conversation's messages (messages.js, touching only what changed), then its scroll. */
function renderMessages() {
  const intent = state.scroll;
  state.scroll = null;
  const conv = state.convs.get(state.active);
  const hist = state.history.get(state.active);
  if (!conv || !hist) return;
  const box = $('messages');
  // Receipts, reactions and edits change heights too: a view at the end stays there.
  const stick = !intent && following;
  const keep = intent && intent.keep && !intent.bottom
    ? { fromBottom: box.scrollHeight - box.scrollTop, top: box.scrollTop } : null;
  if (intent && intent.bottom) trimToWindow(hist);
  renderMessageList(box, {
    conv,
    hist,
    title: convName(state, conv),
    pending: state.outbox.forConversation(conv.id),
    me: state.me.id,
    admin: state.me.is_admin,
    found: state.found,
    unreadFrom: state.unreadLine && state.unreadLine.convId === conv.id ? state.unreadLine.seq : null,
    members: state.members.get(conv.id),
    name: (id) => userName(state, id),
    attachment: attachmentNode,
    quote: (m) => quoteOf(state, { conversation_id: conv.id, reply_to: m.reply_to }),
    mentionOf: (m) => mentionOf(state, m),
    thumb: smallThumb,
    actions,
  });
  fetchOriginals(conv.id);
  let atLine = false;
  if (intent && intent.bottom) {
    scrollToBottom();
    if (intent.unread) atLine = toFirstUnread(hist);
  } else if (keep) box.scrollTop = intent.keep === 'older' ? box.scrollHeight - keep.fromBottom : keep.top;
  else if (intent && intent.isNew) $('jump').hidden = false;
  else if (stick) box.scrollTop = box.scrollHeight;
  // Brought up to "New messages" (if only a little): what settles below does not pull it away.
  following = !atLine && atEnd(box);
  maybeRead();
}

/** Wires the chat's own controls and views. */
export function wireChat() {
  const box = $('messages');
  box.addEventListener('scroll', () => {
    following = atEnd(box);
    if (box.scrollTop < 80 && state.active !== null) loadOlder(state.active);
    if (state.active !== null && atBottom()) {
      loadNewer(state.active);
      maybeRead();
    }
  });
  // A picture that finishes loading at the end pushes the end down: follow it.
  box.addEventListener('load', () => { if (following) box.scrollTop = box.scrollHeight; }, true);
  $('jump').addEventListener('click', jumpToLatest);
  $('jump-unread').addEventListener('click', jumpToFirstUnread);
  $('back').addEventListener('click', closeConversation);
  box.addEventListener('keydown', moveInMessages);
  wireMenu();
  // A dialog opened from a message (edit, report, the emoji picker, a confirmation) gives
  // focus back where it was; when that control went (the message was drawn again, or
  // deleted), the message gets it, not the page's body.
  let lastMessage = '';
  box.addEventListener('focusin', (event) => {
    const msg = /** @type {HTMLElement} */ (event.target).closest('.msg');
    lastMessage = msg instanceof HTMLElement ? msg.dataset.id || '' : '';
  });
  document.addEventListener('close', () => setTimeout(() => {
    if (document.activeElement !== document.body || !lastMessage || document.querySelector('dialog[open]')) return;
    const msg = /** @type {HTMLElement|null} */ (box.querySelector(`.msg[data-id="${CSS.escape(lastMessage)}"]`));
    if (msg) msg.focus({ preventScroll: true });
  }), true);
  // The skip link: to the message box when a conversation is open, else to the list.
  $('skip-to-composer').addEventListener('click', (event) => {
    event.preventDefault();
    const target = state.active !== null ? $('composer-input') : $('conversation-list').querySelector('button');
    if (target) /** @type {HTMLElement} */ (target).focus();
  });
  on('panes', renderPanes);
  on('head', renderChatHead);
  on('messages', renderMessages);
}
