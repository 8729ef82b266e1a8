// @ts-check
// The hub's events applied to the state: idempotently (by message id, by receipt maximum),
// never moving anything backwards. Pure: each returns an Outcome saying which views to
// render and what the caller should do about it (sync.js does it); nothing here touches the
// page or the network, so it is unit-tested with `node --test`.

import { mentionsUser } from './model.js';

/** @typedef {import('./model.js').State} State */
/** @typedef {import('../types/proto').Message} Message */
/** @typedef {import('../types/proto').Event} Event */
/** @typedef {import('../types/proto').User} User */
/** @typedef {import('../types/proto').ConversationSummary} Summary */

/**
 * @typedef {object} Outcome
 * @property {Set<string>} topics  the views to render
 * @property {boolean} reload  the summaries are stale: fetch them again
 * @property {{convId: number, seq: number, already: number}|null} delivered  a receipt to send
 * @property {{convId: number, userId: number}|null} stoppedTyping  who sent, so stopped typing
 * @property {{convId: number, senderId: number, body: string}|null} announce  a message to announce
 * @property {Message|null} notify  a new message from someone else, for a browser notification
 * @property {{isNew: boolean, mine: boolean}|null} arrived  a message came into the open conversation
 */

/** @returns {Outcome} */
export function outcome(/** @type {string[]} */ ...topics) {
  return { topics: new Set(topics), reload: false, delivered: null, stoppedTyping: null, announce: null, notify: null, arrived: null };
}

/** @type {Record<string, (s: State, ev: any) => Outcome>} */
const handlers = {
  message_new: (s, ev) => addMessage(s, ev.message),
  message_edited: (s, ev) => replaceMessage(s, ev.message),
  message_deleted: (s, ev) => replaceMessage(s, ev.message),
  reaction: applyReactions,
  unread_changed: unreadChanged,
  conversation_created: membersAdded,
  members_added: membersAdded,
  conversation_updated(s, ev) {
    const conv = s.convs.get(ev.conversation.id);
    if (conv) Object.assign(conv, ev.conversation);
    return outcome('list', 'head', 'info');
  },
  member_removed(s, ev) {
    if (ev.user_id === s.me.id) return forgetConversation(s, ev.conversation_id);
    const members = s.members.get(ev.conversation_id);
    if (members) members.delete(ev.user_id);
    const conv = s.convs.get(ev.conversation_id);
    if (conv) conv.member_count = Math.max(0, conv.member_count - 1);
    return s.active === ev.conversation_id ? outcome('head', 'messages') : outcome();
  },
  member_updated(s, ev) {
    const members = s.members.get(ev.conversation_id);
    if (members) members.set(ev.member.user_id, ev.member);
    if (ev.member.user_id === s.me.id) {
      const conv = s.convs.get(ev.conversation_id);
      if (conv) conv.my_role = ev.member.role;
    }
    return outcome();
  },
  receipt: applyReceipt,
  user_joined: userChanged,
  user_updated: userChanged,
};

/** Applies one event of the hub's stream (docs/protocol.md, "Events"). @param {State} s @param {Event} ev */
export function applyEvent(s, ev) {
  const handler = Object.hasOwn(handlers, ev.kind) ? handlers[ev.kind] : null;
  return handler ? handler(s, ev) : outcome();
}

/** @param {State} s */
function membersAdded(s, /** @type {any} */ ev) {
  const mine = ev.members.some((/** @type {{user_id: number}} */ m) => m.user_id === s.me.id);
  if (mine || !s.convs.has(ev.conversation.id)) return { ...outcome(), reload: true };
  const members = s.members.get(ev.conversation.id);
  if (members) for (const m of ev.members) members.set(m.user_id, m);
  s.convs.get(ev.conversation.id).member_count += ev.members.length;
  return outcome('head');
}

/** @param {State} s @param {{user: User}} ev */
function userChanged(s, ev) {
  mergeUser(s, ev.user);
  const result = outcome('list', 'head', 'messages');
  if (ev.user.id === s.me.id) {
    s.me = ev.user;
    result.topics.add('me');
  }
  return result;
}

/** Knows `user` (anew or again), keeping the presence last heard. @param {State} s @param {User} user */
export function mergeUser(s, user) {
  const known = s.users.get(user.id);
  // `disabled` is left out when false: an enabled account must not keep an old `true`.
  s.users.set(user.id, { presence: 'offline', ...known, disabled: false, ...user });
}

/**
 * A message, new or known (an ack and its event both bring it): added to its conversation's
 * history and summary once.
 * @param {State} s @param {Message} message
 */
export function addMessage(s, message) {
  const conv = s.convs.get(message.conversation_id);
  if (!conv) return { ...outcome(), reload: true };
  const mine = message.sender_id === s.me.id;
  const hist = s.history.get(message.conversation_id);
  let isNew;
  if (hist) {
    isNew = !hist.list.some((m) => m.id === message.id);
    // While an older stretch is shown, newer messages come with the pages below it.
    if (isNew && !hist.hasNewer) insertSorted(hist.list, message);
  } else {
    isNew = message.seq > conv.last_seq;
  }
  if (message.seq >= conv.last_seq) {
    conv.last_seq = message.seq;
    conv.last_message = message;
    conv.last_activity_at = Math.max(conv.last_activity_at, message.created_at);
  }
  senderRead(s, message);
  const result = outcome('list');
  if (mine) {
    conv.read_seq = Math.max(conv.read_seq, message.seq);
  } else if (isNew) {
    if (message.seq > conv.read_seq) {
      conv.unread += 1;
      if (mentionsUser(message, s.me.id)) conv.mentions = (conv.mentions || 0) + 1;
    }
    result.delivered = { convId: conv.id, seq: message.seq, already: conv.delivered_seq };
    result.stoppedTyping = { convId: conv.id, userId: message.sender_id };
    result.announce = { convId: conv.id, senderId: message.sender_id, body: message.body };
    result.notify = message;
  }
  if (message.conversation_id === s.active) {
    result.topics.add('messages');
    result.arrived = { isNew, mine };
  }
  return result;
}

/**
 * Sending is reading (docs/protocol.md, "Receipts"): whoever sent message S has delivered
 * and read up to S, though no receipt event says so.
 * @param {State} s @param {Message} message
 */
function senderRead(s, message) {
  const members = s.members.get(message.conversation_id);
  const before = members && members.get(message.sender_id);
  if (!before || (before.read_seq >= message.seq && before.delivered_seq >= message.seq)) return;
  members.set(message.sender_id, {
    ...before,
    delivered_seq: Math.max(before.delivered_seq, message.seq),
    read_seq: Math.max(before.read_seq, message.seq),
  });
}

/** An edited or deleted message takes the place of the one shown. @param {State} s @param {Message} message */
export function replaceMessage(s, message) {
  if (s.originals.has(message.id)) s.originals.set(message.id, message);
  const hist = s.history.get(message.conversation_id);
  if (hist) {
    const i = hist.list.findIndex((m) => m.id === message.id);
    if (i >= 0) hist.list[i] = message;
  }
  const conv = s.convs.get(message.conversation_id);
  if (conv && conv.last_message && conv.last_message.id === message.id) conv.last_message = message;
  return message.conversation_id === s.active ? outcome('list', 'messages') : outcome('list');
}

/**
 * A message's reactions changed: the loaded copy (and a fetched original) gets the event's
 * list, which is all of them, so applying an event twice changes nothing.
 * @param {State} s @param {{conversation_id: number, message_id: number, reactions: any[]}} ev
 */
export function applyReactions(s, ev) {
  const hist = s.history.get(ev.conversation_id);
  const loaded = hist && hist.list.find((m) => m.id === ev.message_id);
  const kept = s.originals.get(ev.message_id);
  const base = loaded || kept;
  if (!base) return outcome();
  return replaceMessage(s, { ...base, reactions: ev.reactions });
}

/**
 * My own unread state changed (I marked a conversation unread, or read it again after): the
 * hub's position and counts replace mine, backwards too. In the open conversation, a mark
 * draws "New messages" where it begins.
 * @param {State} s @param {{conversation_id: number, read_seq: number, unread: number, mentions: number}} ev
 */
export function unreadChanged(s, ev) {
  const conv = s.convs.get(ev.conversation_id);
  if (!conv) return outcome();
  const back = ev.read_seq < conv.read_seq;
  conv.read_seq = ev.read_seq;
  conv.unread = ev.unread;
  conv.mentions = ev.mentions;
  const result = outcome('list');
  if (ev.conversation_id === s.active && back && ev.unread > 0) {
    s.unreadLine = { convId: ev.conversation_id, seq: ev.read_seq + 1 };
    result.topics.add('messages');
  }
  return result;
}

/**
 * Someone else's message came into the open conversation while nobody was looking at it (the
 * page hidden or in the background, opened by itself, or scrolled up): "New messages" goes
 * above the first unread, unless a line there still marks messages not yet read. Whether
 * the line changed.
 * @param {State} s @param {number} convId
 */
export function markUnseen(s, convId) {
  const conv = s.convs.get(convId);
  const line = s.unreadLine;
  if (!conv || conv.unread === 0) return false;
  if (line && line.convId === convId && conv.read_seq < line.seq) return false;
  s.unreadLine = { convId, seq: conv.read_seq + 1 };
  return true;
}

/** @param {Message[]} list @param {Message} message */
export function insertSorted(list, message) {
  let i = list.length;
  while (i > 0 && list[i - 1].seq > message.seq) i -= 1;
  list.splice(i, 0, message);
}

/** Someone's delivered/read position moved (never backwards). @param {State} s */
export function applyReceipt(s, /** @type {{conversation_id: number, user_id: number, delivered_seq: number, read_seq: number}} */ ev) {
  const members = s.members.get(ev.conversation_id);
  if (members) {
    const before = members.get(ev.user_id) || { user_id: ev.user_id, role: 'member', delivered_seq: 0, read_seq: 0, history_from: 0 };
    members.set(ev.user_id, {
      ...before,
      delivered_seq: Math.max(before.delivered_seq, ev.delivered_seq),
      read_seq: Math.max(before.read_seq, ev.read_seq),
    });
  }
  const result = outcome();
  if (ev.user_id === s.me.id) {
    // Another of my devices read it.
    const conv = s.convs.get(ev.conversation_id);
    if (conv && ev.read_seq > conv.read_seq) {
      conv.read_seq = ev.read_seq;
      if (conv.read_seq >= conv.last_seq) {
        conv.unread = 0;
        conv.mentions = 0;
      }
      result.topics.add('list');
    }
  }
  // My own receipts (from this device or another) change no tick and no "Seen by".
  if (ev.conversation_id === s.active && ev.user_id !== s.me.id) result.topics.add('messages');
  return result;
}

/** A conversation I am no longer in leaves the list, and the screen if it is open. @param {State} s @param {number} id */
export function forgetConversation(s, id) {
  s.convs.delete(id);
  if (s.active === id) s.active = null;
  return outcome('list', 'panes', 'head', 'uploads');
}

/**
 * Merges a summary fetched over REST with the one kept live from events. The fetch may have
 * started before an event arrived, so neither side may move the other backwards.
 * @param {Summary|undefined} live @param {Summary} fetched
 */
export function freshest(live, fetched) {
  if (!live) return fetched;
  const merged = live.last_seq > fetched.last_seq
    ? { ...fetched, last_seq: live.last_seq, last_message: live.last_message,
      last_activity_at: live.last_activity_at, unread: live.unread, mentions: live.mentions }
    : fetched;
  if (live.read_seq > merged.read_seq) {
    merged.read_seq = live.read_seq;
    if (merged.read_seq >= merged.last_seq) {
      merged.unread = 0;
      merged.mentions = 0;
    }
  }
  return merged;
}

/**
 * Nobody's presence is known while I am the one cut off (the connection or the node's link
 * is down): everyone but me shows "unknown", not "offline", until `ready` says again.
 * @param {State} s
 */
export function presenceUnknown(s) {
  for (const user of s.users.values()) if (user.id !== s.me.id) user.presence = 'unknown';
  return outcome('list', 'head');
}
