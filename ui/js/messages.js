// @ts-check
// The open conversation's message list, as keyed rows (see keyed.js): a new message, a
// receipt or an edit changes only the rows it touches, whatever the length of the history.
// `messageRows` is pure apart from the `make` of each row, so it is unit-tested without a
// page (tests/e2e/unit/messages.test.mjs); app.js hands it what the list shows.

import { h, clock, dayLabel } from './dom.js';
import { render } from './format.js';
import { mentionsUser } from './model.js';
import { reconcile } from './keyed.js';

/**
 * @typedef {object} Message  a message as the hub sends it, or an outbox item shown as one
 * @property {number|string} id
 * @property {number} [seq]
 * @property {number} sender_id
 * @property {string} body
 * @property {number} created_at
 * @property {number|null} [edited_at]
 * @property {boolean} [deleted]
 * @property {object[]} [attachments]
 * @property {boolean} [pending]  still in the outbox
 * @property {string} [client_id]
 * @property {string} [state]     an outbox item's state (`failed` when given up)
 * @property {string} [error]     why an outbox item waits or failed
 * @property {object[]} [files]   an outbox item's files
 * @property {number|null} [reply_to]  the message this one answers
 * @property {number} [conversation_id]
 * @property {{emoji: string, user_ids: number[]}[]} [reactions]
 * @property {{user_ids?: number[], here?: boolean, everyone?: boolean}} [mentions]
 */

/**
 * @typedef {object} Quote  what a reply shows of its original (model.js `quoteOf`)
 * @property {number} id  the original's id
 * @property {'shown'|'deleted'|'unavailable'|'loading'} status
 * @property {import('../types/proto').Message|null} m  the original, when known
 * @property {string} who  its sender, when shown
 * @property {string} text  its first line, or why it is not shown
 * @property {object|null} picture  an image it carries, for a thumbnail
 */

/**
 * @typedef {object} History  the loaded stretch of a conversation (model.js)
 * @property {Message[]} list  by seq
 * @property {boolean} hasMore
 * @property {boolean} [loading]
 * @property {boolean} [hasNewer]
 * @property {boolean} [loadingNewer]
 * @property {number|null} [shownFrom]  the seq of the first message on the page; unset: all
 */

/**
 * @typedef {object} Member
 * @property {number} user_id
 * @property {number} delivered_seq
 * @property {number} read_seq
 * @property {number} [history_from]  sees only messages after this sequence number
 */

/**
 * @typedef {object} ListActions  what a message's buttons do
 * @property {(m: Message) => void} reply
 * @property {(m: Message) => void} react  opens the emoji picker for a reaction
 * @property {(m: Message) => void} unread  marks the conversation unread from this message
 * @property {(m: Message, emoji: string) => void} toggle  puts my reaction on or takes it off
 * @property {(m: import('../types/proto').Message) => void} jump  to a message (a reply's original)
 * @property {(m: Message) => void} edit
 * @property {(m: Message) => void} remove
 * @property {(m: Message) => void} report
 * @property {(clientId: string) => void} retry
 * @property {(clientId: string) => void} discard
 * @property {(button: HTMLElement, items: import('./menu.js').MenuItem[]) => void} menu  opens a message's menu
 */

/**
 * @typedef {object} ListView  everything the list shows
 * @property {{id: number, kind: string}} conv
 * @property {string} title  the conversation's name
 * @property {History} hist
 * @property {Message[]} pending  my outbox items in this conversation
 * @property {number} me  my user id
 * @property {boolean} admin  whether I am a hub admin (I may delete anyone's message)
 * @property {number|null} found  the message a search jump marked
 * @property {number|null} unreadFrom  the first unread message's seq when the conversation was opened
 * @property {Map<number, Member>|undefined} members
 * @property {(id: number) => string} name  a person's display name
 * @property {(file: object) => Node} attachment  builds an attachment's node
 * @property {(m: Message) => Quote|null} quote  what a reply shows of its original
 * @property {(file: object) => Node} thumb  a small thumbnail of a picture, for a quote
 * @property {(m: Message) => import('./format.js').MentionOf|null} mentionOf  the mentions the hub recorded on a message
 * @property {ListActions} actions
 */

/** Puts the list `view` describes into `box`, touching only the rows that changed. */
export function renderMessageList(/** @type {HTMLElement} */ box, /** @type {ListView} */ view) {
  reconcile(box, messageRows(view));
}

/**
 * How far the others have got: the highest `delivered_seq` and `read_seq` among them. My
 * message `seq` is read when someone's read position reached it, delivered when someone's
 * delivery did. Worked out once per render, not once per message.
 * @param {Map<number, Member>|undefined} members
 * @param {number} me
 */
export function othersReach(members, me) {
  let delivered = 0;
  let read = 0;
  for (const m of members ? members.values() : []) {
    if (m.user_id === me) continue;
    delivered = Math.max(delivered, m.delivered_seq);
    read = Math.max(read, m.read_seq);
  }
  return { delivered, read };
}

/** @param {{delivered: number, read: number}} reach @param {number} seq */
function receiptOf(reach, seq) {
  if (reach.read >= seq) return 'read';
  if (reach.delivered >= seq) return 'delivered';
  return 'sent';
}

/**
 * The message "New messages" goes above: the first from someone else at or after
 * `unreadFrom`, if the one before it is loaded too (or nothing is before it). When the
 * first unread is not loaded, there is no line: the loaded ones are not where it begins.
 * @param {ListView} view @returns {Message|null}
 */
function unreadLineAt(view) {
  const { hist, unreadFrom } = view;
  if (unreadFrom == null) return null;
  let i = hist.list.findIndex((m) => (m.seq || 0) >= unreadFrom);
  if (i < 0 || (i === 0 && hist.hasMore)) return null;
  while (i < hist.list.length && hist.list[i].sender_id === view.me) i += 1;
  return hist.list[i] || null;
}

/** The divider above the first unread message. */
const UNREAD_LINE = {
  key: 'unread-line', sig: 'New messages',
  make: () => h('div', { class: 'unread-line', role: 'separator', 'aria-label': 'New messages' }, h('span', {}, 'New messages')),
};

/** @param {string} key @param {string} text */
function edgeRow(key, text) {
  return { key, sig: text, make: () => h('p', { class: 'history-edge' }, text) };
}

/**
 * The rows of the list: the top edge, day separators, messages (history, then my outbox),
 * "Seen by" under my last message in a group, and the bottom edge when newer pages exist.
 * @param {ListView} view
 */
export function messageRows(view) {
  const { conv, hist } = view;
  const start = firstShown(hist);
  const rows = [edgeRow('edge-older', hist.hasMore || start > 0
    ? (hist.loading ? 'Loading older messages…' : 'Scroll up for older messages')
    : `This is the beginning of ${view.title}.`)];
  const group = conv.kind !== 'direct';
  const reach = othersReach(view.members, view.me);
  let lastMine = null;
  for (const m of hist.list) if (m.sender_id === view.me && !m.deleted) lastMine = m;
  const pending = view.pending.map((p) => ({
    ...p, id: `pending-${p.client_id}`, sender_id: view.me, pending: true, deleted: false, edited_at: null,
  }));
  const lineBefore = unreadLineAt(view);
  /** @type {Message|null} */
  let prev = null;
  const each = (/** @type {Message} */ m) => {
    const day = dayOf(m);
    if (!prev || dayOf(prev) !== day) {
      rows.push(dayRow(day, m.created_at));
      prev = null;
    }
    // "New messages" above the first that was unread when the conversation was opened.
    if (lineBefore && m === lineBefore) {
      rows.push(UNREAD_LINE);
      prev = null;
    }
    const first = !prev || prev.sender_id !== m.sender_id || m.created_at - prev.created_at > 5 * 60000;
    const receipt = m.sender_id === view.me && !m.pending ? receiptOf(reach, m.seq || 0) : '';
    const who = first && group && m.sender_id !== view.me ? view.name(m.sender_id) : '';
    rows.push(messageRow(m, first, who, receipt, view.found === m.id, view));
    if (group && lastMine && m.id === lastMine.id) {
      const names = seenBy(view, m.seq || 0);
      const text = `Seen by ${names.join(', ')}`;
      if (names.length) rows.push({ key: `seen-${m.id}`, sig: text, make: () => h('p', { class: 'seen-by' }, text) });
    }
    prev = m;
  };
  for (let i = start; i < hist.list.length; i += 1) each(hist.list[i]);
  pending.forEach(each);
  if (hist.hasNewer) {
    rows.push(edgeRow('edge-newer', hist.loadingNewer ? 'Loading newer messages…' : 'Scroll down for newer messages'));
  }
  return rows;
}

// ---------------------------------------------------------------- the window

/**
 * At most this many loaded messages are on the page once the list goes to its end: the
 * older ones stay in memory and come back as one scrolls up. A long conversation then costs
 * the page what a short one does, for layout, paint and memory.
 */
export const WINDOW = 50;

/** The index in `hist.list` of the first message on the page. @param {History} hist */
export function firstShown(hist) {
  const from = hist.shownFrom;
  if (from == null) return 0;
  let lo = 0;
  let hi = hist.list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((hist.list[mid].seq || 0) < from) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** At the end of the list: keep the last WINDOW messages on the page. @param {History} hist */
export function trimToWindow(hist) {
  if (hist.list.length - firstShown(hist) > WINDOW) hist.shownFrom = hist.list[hist.list.length - WINDOW].seq;
}

/**
 * Puts up to `count` more loaded messages on the page above the first shown. False when all
 * loaded ones are shown (the next older ones must come from the hub).
 * @param {History} hist @param {number} count
 */
export function revealOlder(hist, count) {
  const start = firstShown(hist);
  if (start === 0) return false;
  const next = Math.max(0, start - count);
  hist.shownFrom = next === 0 ? null : hist.list[next].seq;
  return true;
}

/** Makes sure the message `seq` (and a few before it) is on the page. @param {History} hist @param {number} seq */
export function reveal(hist, seq) {
  if (hist.shownFrom == null || seq >= hist.shownFrom) return;
  while (firstShown(hist) > 0 && hist.shownFrom > seq) revealOlder(hist, 10);
}

/** @param {ListView} view @param {number} seq */
function seenBy(view, seq) {
  if (!view.members) return [];
  return [...view.members.values()]
    // Nobody is said to have seen a message from before they could see the group's history.
    .filter((m) => m.user_id !== view.me && m.read_seq >= seq && seq > (m.history_from || 0))
    .map((m) => view.name(m.user_id));
}

/**
 * @typedef {object} Shown  a message as its row shows it
 * @property {Message} m
 * @property {boolean} first  the first of a run from one sender
 * @property {string} who  the sender's name, when shown
 * @property {string} receipt  sent, delivered or read (my messages), else ''
 * @property {boolean} found  marked by a search jump
 * @property {Quote|null} quote  a reply's quote of its original
 */

/**
 * A message's row. A message object is replaced, never changed, when the hub edits or
 * deletes it; so its row is kept with it and made again only when what is shown around it
 * changed. A render of a long list then allocates next to nothing for the rows that stay.
 * @param {Message} m @param {boolean} first @param {string} who @param {string} receipt
 * @param {boolean} found @param {ListView} view
 */
function messageRow(m, first, who, receipt, found, view) {
  const last = rowsOf.get(m);
  const quote = m.reply_to ? view.quote(m) : null;
  const quoted = quote ? JSON.stringify([quote.status, quote.who, quote.text, quote.picture]) : '';
  if (last && last.first === first && last.who === who && last.receipt === receipt
      && last.found === found && last.admin === view.admin && last.quoted === quoted) return last.row;
  /** @type {Shown} */
  const s = { m, first, who, receipt, found, quote };
  const files = (m.pending ? m.files : m.attachments) || [];
  // Everything `messageNode` shows: when it changes, the node is made again.
  const sig = JSON.stringify([m.body, m.deleted, m.edited_at, m.created_at, m.seq, m.pending ? [m.state, m.error] : 0,
    s.first, s.who, s.receipt, s.found, view.admin, files.length ? files : 0, quoted, m.reactions || 0, m.mentions || 0]);
  const row = { key: `msg-${m.id}`, sig, make: () => messageNode(s, view) };
  rowsOf.set(m, { first: s.first, who: s.who, receipt: s.receipt, found: s.found, admin: view.admin, quoted, row });
  return row;
}

/** @type {WeakMap<Message, {first: boolean, who: string, receipt: string, found: boolean, admin: boolean, quoted: string, row: import('./keyed.js').Row}>} */
const rowsOf = new WeakMap();

/** The day a message was sent (local time), worked out once per message object. @param {Message} m */
function dayOf(m) {
  let day = daysOf.get(m);
  if (day === undefined) {
    day = new Date(m.created_at).toDateString();
    daysOf.set(m, day);
  }
  return day;
}

/** @type {WeakMap<Message, string>} */
const daysOf = new WeakMap();

/**
 * The separator that starts a day, kept while its label ("Today", "Yesterday", a date) is
 * the same.
 * @param {string} day @param {number} at
 */
function dayRow(day, at) {
  const label = dayLabel(at);
  const kept = dayRows.get(day);
  if (kept && kept.sig === label) return kept;
  const row = { key: `day-${day}`, sig: label, make: () => h('div', { class: 'day', role: 'separator' }, label) };
  dayRows.set(day, row);
  return row;
}

/** @type {Map<string, import('./keyed.js').Row>} */
const dayRows = new Map();

/** @param {Shown} s @param {ListView} view */
function messageNode(s, view) {
  const { m } = s;
  const mine = m.sender_id === view.me;
  const mentionsMe = !mine && mentionsUser(m, view.me);
  const classes = ['msg', mine ? 'mine' : 'theirs', s.first ? 'first' : '', m.pending ? 'pending' : '',
    s.found ? 'found' : '', mentionsMe ? 'mentions-me' : ''];
  const files = (m.pending ? m.files : m.attachments) || [];
  // A message is one item for the keyboard (↑/↓ move between them, chat.js) and is read as
  // who, what, when and its receipt: the parts its label names by id.
  const id = `m${m.id}`;
  let bubble = null;
  if (m.deleted) bubble = h('div', { class: 'bubble deleted', id: `${id}-text` }, 'This message was deleted');
  else if (m.body.trim() || !files.length) bubble = h('div', { class: 'bubble', id: `${id}-text` }, render(m.body, m.mentions ? view.mentionOf(m) : null));
  const attached = files.length && !m.deleted
    ? h('div', { class: 'attachments', id: `${id}-files` }, files.map(view.attachment))
    : null;
  const meta = h('div', { class: 'meta' }, h('time', { id: `${id}-time`, datetime: new Date(m.created_at).toISOString() }, clock(m.created_at)));
  if (m.edited_at && !m.deleted) meta.append(h('span', { id: `${id}-edited` }, '· edited'));
  if (mine) meta.append(ticks(m, s.receipt, `${id}-receipt`));
  const actions = messageActions(m, mine, view);
  if (actions) meta.append(actions);
  // The sender, spoken for every message, shown for the first of a run in a group.
  const sender = mine ? 'You' : view.name(m.sender_id);
  const who = s.who ? h('span', { class: 'who', id: `${id}-who` }, s.who)
    : h('span', { class: 'visually-hidden', id: `${id}-who` }, sender);
  const quote = s.quote && !m.deleted ? quoteNode(s.quote, view) : null;
  const reactions = m.reactions && m.reactions.length && !m.deleted ? reactionsNode(m, view) : null;
  const parts = [`${id}-who`, bubble ? `${id}-text` : '', attached ? `${id}-files` : '', `${id}-time`,
    m.edited_at && !m.deleted ? `${id}-edited` : '', mine ? `${id}-receipt` : ''].filter(Boolean);
  return h('div', {
    class: classes.filter(Boolean).join(' '), dataset: { id: String(m.id), seq: String(m.seq || '') },
    role: 'article', tabindex: '-1', 'aria-labelledby': parts.join(' '),
  }, who, quote, bubble, attached, reactions, meta);
}

/**
 * The reactions under a message: each emoji with its count, pressed when one of them is
 * mine; who reacted is its title and its label (read on hover and on focus). A click
 * toggles mine; the last button adds another.
 * @param {Message} m @param {ListView} view
 */
function reactionsNode(m, view) {
  const buttons = (m.reactions || []).map((r) => {
    const mine = r.user_ids.includes(view.me);
    const names = r.user_ids.map((id) => (id === view.me ? 'you' : view.name(id)));
    const who = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names[0];
    return h('button', {
      type: 'button', class: 'reaction', 'aria-pressed': mine ? 'true' : 'false',
      title: `${who} reacted with ${r.emoji}`,
      'aria-label': `${r.emoji} ${r.user_ids.length}: ${who}. ${mine ? 'Remove your reaction' : 'React with this too'}`,
      dataset: { emoji: r.emoji }, onclick: () => view.actions.toggle(m, r.emoji),
    }, h('span', { 'aria-hidden': 'true' }, r.emoji), h('span', { class: 'count', 'aria-hidden': 'true' }, String(r.user_ids.length)));
  });
  const add = h('button', { type: 'button', class: 'reaction add', 'aria-label': 'Add a reaction', title: 'Add a reaction',
    onclick: () => view.actions.react(m) }, '+');
  return h('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' }, buttons, add);
}

/**
 * A reply's quote of its original: who wrote it and its first line (a thumbnail if it has a
 * picture); a click goes to the original. One that cannot be shown says why and goes nowhere.
 * @param {Quote} q @param {ListView} view
 */
function quoteNode(q, view) {
  const there = q.m && (q.status === 'shown' || q.status === 'deleted');
  const shown = q.status === 'shown';
  // Read as it shows, with what the quote is and does around it (no label that replaces it).
  return h('button', {
    type: 'button', class: `reply-quote ${q.status}`, disabled: !there,
    onclick: there ? () => view.actions.jump(q.m) : undefined,
  },
  shown ? h('span', { class: 'visually-hidden' }, 'Reply to ') : null,
  q.who ? h('span', { class: 'reply-who' }, q.who) : null,
  shown ? h('span', { class: 'visually-hidden' }, ': ') : null,
  h('span', { class: 'reply-text' }, q.text),
  shown ? h('span', { class: 'visually-hidden' }, '. Go to the original message') : null,
  q.picture ? view.thumb(q.picture) : null);
}

/** A message's buttons: mine to edit or delete, others' to report (and, for a hub admin, to delete). */
function messageActions(/** @type {Message} */ m, /** @type {boolean} */ mine, /** @type {ListView} */ view) {
  const { actions } = view;
  if (m.pending) {
    if (m.state !== 'failed') return null;
    const clientId = m.client_id || '';
    return h('span', { class: 'msg-actions always' },
      h('button', { type: 'button', onclick: () => actions.retry(clientId) }, 'Retry'),
      h('button', { type: 'button', onclick: () => actions.discard(clientId) }, 'Discard'));
  }
  if (m.deleted) return null;
  // React and Reply at hand; the rest in the message's menu (also Enter on the message).
  const more = h('button', {
    type: 'button', class: 'more', 'aria-label': 'More actions', title: 'More actions', 'aria-haspopup': 'menu', 'aria-expanded': 'false',
    onclick: () => actions.menu(more, menuItems(m, mine, view)),
  }, '⋯');
  return h('span', { class: 'msg-actions' },
    h('button', { type: 'button', onclick: () => actions.react(m), 'aria-label': 'React to message' }, 'React'),
    h('button', { type: 'button', onclick: () => actions.reply(m), 'aria-label': 'Reply to message' }, 'Reply'),
    more);
}

/**
 * What a message's menu offers: mine to edit or delete; others' to mark unread or report
 * (and, for a hub admin, to delete).
 * @param {Message} m @param {boolean} mine @param {ListView} view
 * @returns {import('./menu.js').MenuItem[]}
 */
export function menuItems(m, mine, view) {
  const { actions } = view;
  const items = [
    { label: 'Reply', run: () => actions.reply(m) },
    { label: 'React', run: () => actions.react(m) },
  ];
  if (mine) {
    items.push({ label: 'Edit message', run: () => actions.edit(m) }, { label: 'Delete message', run: () => actions.remove(m), danger: true });
  } else {
    items.push({ label: 'Mark unread from here', run: () => actions.unread(m) }, { label: 'Report message', run: () => actions.report(m) });
    if (view.admin) items.push({ label: 'Delete message (admin)', run: () => actions.remove(m), danger: true });
  }
  return items;
}

/**
 * The ticks of my message: sending, waiting (and why), failed, sent, delivered or read.
 * The marks are drawn, the word is read (after a pause, not glued to what follows); read
 * differs from delivered in shape (filled), not only in colour.
 */
function ticks(/** @type {Message} */ m, /** @type {string} */ status, /** @type {string} */ id) {
  const said = (/** @type {string} */ word) => h('span', { class: 'visually-hidden', id }, `, ${word}.`);
  if (m.pending) {
    if (m.state === 'failed') return h('span', { class: 'ticks failed', title: m.error, id }, `Not sent: ${m.error}`);
    if (m.error) return h('span', { class: 'ticks pending waiting', title: m.error, id }, '◷ Not sent yet: the hub cannot save right now. Retrying…');
    return h('span', { class: 'ticks pending', title: 'Sending' }, h('span', { 'aria-hidden': 'true' }, '◷'), said('Sending'));
  }
  const marks = { sent: '✓', delivered: '✓✓', read: '✓✓' }[status];
  const label = { sent: 'Sent', delivered: 'Delivered', read: 'Read' }[status];
  return h('span', { class: `ticks ${status}`, title: label, dataset: { receipt: status } },
    h('span', { class: 'marks', 'aria-hidden': 'true' }, marks), said(label));
}
