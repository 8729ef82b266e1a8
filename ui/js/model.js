// @ts-check
// What the UI knows, and the questions views ask of it. Everything here is pure: it reads
// the state it is given and touches no page, so it is unit-tested with `node --test`
// (tests/e2e/unit/events.test.mjs). The one live state is in state.js.

import { plainText } from './format.js';

/** @typedef {import('../types/proto').User} User */
/** @typedef {import('../types/proto').ConversationSummary} Summary */
/** @typedef {import('../types/proto').Member} Member */
/** @typedef {import('../types/proto').Message} Message */
/** @typedef {import('../types/proto').HubInfo} HubInfo */

/** @typedef {User & {presence: string}} Person  a user with the presence last heard */

/** A presence as words: online, away, offline, or unknown while I am not connected. */
export function presenceText(/** @type {string} */ presence) {
  return presence === 'unknown' ? 'presence unknown while reconnecting' : presence;
}

/**
 * @typedef {object} History  the loaded stretch of a conversation
 * @property {Message[]} list  by seq
 * @property {boolean} hasMore  older messages exist on the hub
 * @property {boolean} [hasNewer]  newer ones do (an older stretch is shown)
 * @property {boolean} [loading]
 * @property {boolean} [loadingNewer]
 * @property {number|null} [shownFrom]  the seq of the first message on the page (messages.js)
 */

/**
 * @typedef {object} Upload  a file on its way to the hub
 * @property {number} key
 * @property {number} convId
 * @property {string} name
 * @property {number} size
 * @property {number} loaded
 * @property {'uploading'|'failed'} state
 * @property {string} error
 * @property {(() => void)|null} cancel
 * @property {string} [caption]  the text typed before the files were chosen, sent with the first
 */

/**
 * @typedef {object} ScrollIntent  what the next render of the message list does to its scroll
 * @property {boolean} [bottom]  go to the end
 * @property {boolean} [isNew]  a new message came (show "Jump to latest" if not at the end)
 * @property {'older'|'newer'} [keep]  a page was added above or below: keep what is on screen
 * @property {boolean} [unread]  just opened: show the first unread, if it is above the end
 */

/** A fresh state: nobody signed in, nothing loaded. */
export function newState() {
  return {
    /** @type {HubInfo|null} */ hub: null,
    /** @type {string|null} */ token: null,
    /** @type {User|null} */ me: null,
    /** @type {Map<number, Person>} */ users: new Map(),
    /** @type {Map<number, Summary>} */ convs: new Map(),
    /** @type {Map<number, Map<number, Member>>} conversation id -> user id -> member */
    members: new Map(),
    /** @type {Map<number, History>} */ history: new Map(),
    /** @type {number|null} the open conversation */ active: null,
    /** @type {boolean} a conversation the app opened by itself, before the person acted */
    untouched: false,
    /** @type {number|null} the message a search jumped to, marked for a moment */
    found: null,
    /** @type {Map<number, Message|null>} originals of replies fetched on their own; null: not available */
    originals: new Map(),
    /** @type {{convId: number, seq: number}|null} where the unread began when the open conversation was opened */
    unreadLine: null,
    /** @type {number|null} a conversation I marked unread while in it: not read again until reopened */
    markedUnread: null,
    /** @type {ScrollIntent|null} */ scroll: null,
    /** @type {Set<number>} ids of the people I blocked */ blocked: new Set(),
    /** @type {Upload[]} */ uploads: [],
    /** @type {Map<number, Map<number, ReturnType<typeof setTimeout>>>} conv -> user -> expiry */
    typing: new Map(),
    /** @type {Map<number, number>} conversation id -> highest seq reported delivered */
    delivered: new Map(),
    /** @type {boolean} in the desktop app (its node notifies) */ desktop: false,
    /** @type {boolean} through a local node that joined a hub */ joined: false,
    /** @type {boolean} that node cannot reach its hub */ linkDown: false,
    /** @type {any} the desktop's notification settings */ notify: null,
    /** @type {number} unread messages that claim attention (not muted) */ unread: 0,
    /** @type {boolean} */ firstSync: true,
    /** @type {import('./hub.js').Connection|null} */ conn: null,
    /** @type {import('./hub.js').Outbox|null} messages not acked yet */ outbox: null,
  };
}

/** @typedef {ReturnType<typeof newState>} State */

/** @param {State} s @param {number} id */
export function userName(s, id) {
  const user = s.users.get(id);
  return user ? user.display_name : 'Someone';
}

/** The other person of a direct conversation. @param {State} s @param {Summary} conv */
export function peerOf(s, conv) {
  return conv.peer_id ? s.users.get(conv.peer_id) || null : null;
}

/** @param {State} s @param {Summary} conv */
export function convName(s, conv) {
  if (conv.kind === 'direct') {
    const peer = peerOf(s, conv);
    return peer ? peer.display_name : 'Direct message';
  }
  return conv.kind === 'general' ? `# ${conv.name || 'general'}` : conv.name || 'Group';
}

/** Newest activity first. @param {State} s */
export function sortedConversations(s) {
  return [...s.convs.values()].sort((a, b) => b.last_activity_at - a.last_activity_at || b.id - a.id);
}

/** What a message's files read as where it has no text (as the desktop's notifications). */
export function filesSummary(/** @type {{name: string, image?: unknown}[]} */ files) {
  if (files.length === 1) return files[0].image ? 'Picture' : `File: ${files[0].name}`;
  return files.length ? `${files.length} files` : '';
}

/**
 * What a reply's quote shows of its original: the message, if loaded or fetched; whether it
 * was deleted; `unavailable` when the hub would not give it (older than my history, or gone);
 * `loading` while nobody has asked yet.
 * @param {State} s @param {{conversation_id: number, reply_to?: number|null}} m
 * @returns {{id: number, status: 'shown'|'deleted'|'unavailable'|'loading', m: Message|null}|null}
 */
export function originalOf(s, m) {
  const id = m.reply_to;
  if (!id) return null;
  const hist = s.history.get(m.conversation_id);
  const found = (hist && hist.list.find((x) => x.id === id)) || s.originals.get(id);
  if (found === undefined) return { id, status: 'loading', m: null };
  if (found === null) return { id, status: 'unavailable', m: null };
  return { id, status: found.deleted ? 'deleted' : 'shown', m: found };
}

/**
 * The quote of a reply, as text: the original's sender and its first line without markup
 * (or what its files are), or why it cannot be shown.
 * @param {State} s @param {{conversation_id: number, reply_to?: number|null}} m
 */
export function quoteOf(s, m) {
  const o = originalOf(s, m);
  if (!o) return null;
  if (o.status !== 'shown') {
    const text = { deleted: 'Original message deleted', unavailable: 'Original message not available',
      loading: 'Loading the original message…' }[o.status];
    return { ...o, who: '', text, picture: null };
  }
  const files = o.m.attachments || [];
  const line = o.m.body.trim() ? plainText(o.m.body).split('\n')[0] : filesSummary(files);
  return {
    ...o,
    who: o.m.sender_id === s.me.id ? 'You' : userName(s, o.m.sender_id),
    text: line.length > 140 ? `${line.slice(0, 139)}…` : line,
    picture: files.find((f) => f.image) || null,
  };
}

/**
 * Whether the hub recorded that `m` mentions `userId`: by name, `@here` or `@everyone`
 * (the hub's `Mentions::include`).
 * @param {{mentions?: {user_ids?: number[], here?: boolean, everyone?: boolean}}} m @param {number} userId
 */
export function mentionsUser(m, userId) {
  const recorded = m.mentions;
  return Boolean(recorded && (recorded.here || recorded.everyone || (recorded.user_ids || []).includes(userId)));
}

/**
 * The mentions the hub recorded on `m`, by the name written after `@`: a member named is
 * `me` or `other`; `@here` and `@everyone`, when recorded, mention me too. Anything else
 * after an `@` is text.
 * @param {State} s @param {{mentions?: {user_ids?: number[], here?: boolean, everyone?: boolean}}} m
 * @returns {((name: string) => 'me'|'other'|null)|null}
 */
export function mentionOf(s, m) {
  const recorded = m.mentions;
  if (!recorded) return null;
  /** @type {Map<string, 'me'|'other'>} */
  const names = new Map();
  for (const id of recorded.user_ids || []) {
    const user = s.users.get(id);
    if (user) names.set(user.username.toLowerCase(), id === s.me.id ? 'me' : 'other');
  }
  if (recorded.here) names.set('here', 'me');
  if (recorded.everyone) names.set('everyone', 'me');
  return (name) => names.get(name) || null;
}

/** The line under a conversation's name in the list. @param {State} s @param {Summary} conv */
export function previewOf(s, conv) {
  const m = conv.last_message;
  if (!m) return conv.kind === 'direct' ? 'Say hello' : 'No messages yet';
  if (m.deleted) return 'Message deleted';
  const body = m.body.trim() ? oneLine(m) : filesSummary(m.attachments || []);
  if (m.sender_id === s.me.id) return `You: ${body}`;
  return conv.kind === 'direct' ? body : `${userName(s, m.sender_id)}: ${body}`;
}

/**
 * A message's text on one line without its markup, worked out once per message object (the
 * hub's messages are replaced, never changed). @param {{body: string}} m
 */
function oneLine(m) {
  let text = oneLines.get(m);
  if (text === undefined) {
    text = plainText(m.body, true);
    oneLines.set(m, text);
  }
  return text;
}

/** @type {WeakMap<object, string>} */
const oneLines = new WeakMap();

/** Muted on the hub (any device), or in an older desktop's own list. @param {State} s @param {number} convId */
export function isMuted(s, convId) {
  const conv = s.convs.get(convId);
  return Boolean((conv && conv.muted) || (s.notify && s.notify.muted_conversations.includes(convId)));
}

/** The people I can start a chat with or add: everyone else, but not disabled accounts. @param {State} s */
export function otherUsers(s) {
  return [...s.users.values()]
    .filter((u) => u.id !== s.me.id && !u.disabled)
    .sort((a, b) => a.display_name.localeCompare(b.display_name));
}

/** The largest message the hub takes, in UTF-8 bytes. @param {State} s */
export function messageLimit(s) {
  return s.hub ? s.hub.limits.max_message_bytes : 16384;
}
