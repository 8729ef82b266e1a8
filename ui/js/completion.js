// @ts-check
// Completion in the composer, one list for two kinds. Typing `@` and the start of a name
// lists the open conversation's members whose username or name starts so (and `@here`,
// `@everyone` in a group or `general`, where I may use them); typing `:` and two letters
// lists emoji by shortcode and name (the hub's list, as the reaction picker uses). ↑/↓
// choose, Enter or Tab put `@username ` or the emoji in the text, Esc closes. The list is a
// listbox the composer controls (the ARIA combobox pattern), so a screen reader follows
// the choice. `candidates`, `mentionAt` and `emojiAt` are pure.

import { h, $ } from './dom.js';
import { state } from './state.js';
import { emojiList, matching } from './reactions.js';

/** Most names the list shows. */
const SHOWN = 8;

/**
 * @typedef {object} Candidate
 * @property {string} username  what goes after `@`
 * @property {string} label     what the list shows
 */

/**
 * @typedef {object} Choice  a line of the open list
 * @property {string} text   what replaces the typed prefix (`@ada `, `🎉`)
 * @property {string} label
 */

/**
 * The `:short` being typed just before the caret (two letters at least, as Slack asks), if
 * any: where its `:` is and the letters after it. Not after a letter or digit (`12:30`).
 * @param {string} before @returns {{at: number, prefix: string}|null}
 */
export function emojiAt(before) {
  const m = before.match(/(^|[^A-Za-z0-9:]):([a-z0-9_+-]{2,})$/i);
  if (!m) return null;
  return { at: before.length - m[2].length - 1, prefix: m[2] };
}

/**
 * The `@prefix` being typed just before the caret, if any: where its `@` is and the
 * letters after it. The same rule as the hub's (crates/proto/src/text.rs).
 * @param {string} before  the text before the caret
 * @returns {{at: number, prefix: string}|null}
 */
export function mentionAt(before) {
  const m = before.match(/(^|[^A-Za-z0-9._@-])@([A-Za-z0-9._-]*)$/);
  if (!m) return null;
  return { at: before.length - m[2].length - 1, prefix: m[2] };
}

/**
 * Who `prefix` may mean in conversation `convId`: its members but me, not disabled, whose
 * username or a word of whose name starts with it (usernames first), then `@here` and
 * `@everyone` where I may use them.
 * @param {import('./model.js').State} s @param {number} convId @param {string} prefix
 * @returns {Candidate[]}
 */
export function candidates(s, convId, prefix) {
  const p = prefix.toLowerCase();
  const conv = s.convs.get(convId);
  const members = s.members.get(convId);
  /** @type {{c: Candidate, rank: number}[]} */
  const found = [];
  for (const id of members ? members.keys() : []) {
    const user = s.users.get(id);
    if (!user || id === s.me.id || user.disabled) continue;
    const byName = user.username.toLowerCase().startsWith(p);
    const byDisplay = user.display_name.toLowerCase().split(/\s+/).some((w) => w.startsWith(p));
    if (byName || byDisplay) {
      found.push({ c: { username: user.username, label: `${user.display_name} @${user.username}` }, rank: byName ? 0 : 1 });
    }
  }
  found.sort((a, b) => a.rank - b.rank || a.c.label.localeCompare(b.c.label));
  const out = found.slice(0, SHOWN).map((f) => f.c);
  if (conv && conv.kind !== 'direct' && mayMentionEveryone(s, conv)) {
    for (const [username, label] of [['here', '@here: the members online'], ['everyone', '@everyone: all members']]) {
      if (username.startsWith(p) && out.length < SHOWN + 2) out.push({ username, label });
    }
  }
  return out;
}

/** @param {import('./model.js').State} s @param {import('../types/proto').ConversationSummary} conv */
function mayMentionEveryone(s, conv) {
  if (conv.kind === 'general') return Boolean(s.me.is_admin);
  return !conv.everyone_admins_only || conv.my_role === 'admin';
}

/** @type {{at: number, items: Choice[], index: number}|null} the open list */
let open = null;

const input = () => /** @type {HTMLTextAreaElement} */ ($('composer-input'));

/** Shows, updates or closes the list for what is before the caret. */
export async function updateMentions() {
  const box = input();
  const before = state.active === null || box.selectionStart !== box.selectionEnd
    ? null : box.value.slice(0, box.selectionStart);
  const mention = before === null ? null : mentionAt(before);
  const emoji = before === null || mention ? null : emojiAt(before);
  /** @type {Choice[]} */
  let items = [];
  if (mention && state.active !== null) {
    items = candidates(state, state.active, mention.prefix).map((c) => ({ text: `@${c.username} `, label: c.label }));
  } else if (emoji) {
    let entries = [];
    try {
      entries = await emojiList();
    } catch {
      entries = []; // no list, no completion; the text stays as typed
    }
    if (box.value.slice(0, box.selectionStart) !== before) return; // typed on meanwhile
    items = matching(entries, emoji.prefix).slice(0, SHOWN)
      .map((e) => ({ text: e.emoji, label: `${e.emoji}  :${e.shortcodes[0] || e.name.replace(/\s+/g, '_')}:` }));
  }
  const found = mention || emoji;
  if (!found || !items.length) {
    closeMentions();
    return;
  }
  const keep = open && open.at === found.at ? Math.min(open.index, items.length - 1) : 0;
  open = { at: found.at, items, index: keep };
  show();
}

function show() {
  const list = $('mention-list');
  const box = input();
  if (!open) return;
  const { items, index } = open;
  list.replaceChildren(...items.map((c, i) => h('li', {
    id: `mention-${i}`, role: 'option', class: i === index ? 'active' : '', 'aria-selected': i === index ? 'true' : 'false',
    // Chosen with the mouse: mousedown, before the composer loses focus.
    onmousedown: (/** @type {Event} */ e) => { e.preventDefault(); choose(i); },
  }, c.label)));
  list.hidden = false;
  box.setAttribute('aria-expanded', 'true');
  box.setAttribute('aria-activedescendant', `mention-${index}`);
}

export function closeMentions() {
  open = null;
  $('mention-list').hidden = true;
  input().setAttribute('aria-expanded', 'false');
  input().removeAttribute('aria-activedescendant');
}

/** Puts the choice (`@username ` or an emoji) in place of the prefix typed. */
function choose(/** @type {number} */ i) {
  if (!open) return;
  const box = input();
  const { at, items } = open;
  const end = box.selectionStart;
  const { text } = items[i];
  box.value = box.value.slice(0, at) + text + box.value.slice(end);
  box.selectionStart = box.selectionEnd = at + text.length;
  closeMentions();
  box.dispatchEvent(new Event('input')); // the composer measures, keeps the draft, types
}

/**
 * The composer's keys while the list is open: ↑/↓ move, Enter or Tab choose, Esc closes.
 * True when the key was the list's (the composer must not act on it).
 * @param {KeyboardEvent} event
 */
export function mentionKey(event) {
  if (!open || event.isComposing) return false;
  const n = open.items.length;
  if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
    open.index = (open.index + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
    show();
  } else if (event.key === 'Enter' || event.key === 'Tab') {
    choose(open.index);
  } else if (event.key === 'Escape') {
    closeMentions();
  } else {
    return false;
  }
  event.preventDefault();
  event.stopPropagation();
  return true;
}
