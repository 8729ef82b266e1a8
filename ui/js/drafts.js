// @ts-check
// Drafts: what was typed in each conversation and not sent, kept in this browser's
// localStorage per signed-in user so that it survives reloads and app restarts (the
// desktop window's storage persists too). Signing out deletes them with the outbox.

const PREFIX = 'chinwag.drafts.';

/** @type {Map<number, string>} conversation id -> draft */
let drafts = new Map();
/** @type {string|null} the storage key of the signed-in user's drafts */
let key = null;

/** Loads the drafts of user `userId` (called on sign-in). */
export function loadDrafts(/** @type {number} */ userId) {
  key = `${PREFIX}${userId}`;
  drafts = new Map();
  try {
    const kept = JSON.parse(localStorage.getItem(key) || '{}');
    for (const [id, text] of Object.entries(kept)) {
      if (typeof text === 'string' && text) drafts.set(Number(id), text);
    }
  } catch {
    // A damaged entry is not worth more than the drafts in it.
  }
}

/** The draft of conversation `id` ('' when none). */
export function draftOf(/** @type {number} */ id) {
  return drafts.get(id) || '';
}

/**
 * Keeps (or, empty, forgets) the draft of conversation `id`. True when whether it has one
 * changed (the conversation list shows a draft mark).
 * @param {number} id @param {string} text
 */
export function setDraft(id, text) {
  const had = drafts.has(id);
  if (text.trim()) drafts.set(id, text); else drafts.delete(id);
  save();
  return had !== drafts.has(id);
}

function save() {
  if (!key) return;
  try {
    if (drafts.size) localStorage.setItem(key, JSON.stringify(Object.fromEntries(drafts)));
    else localStorage.removeItem(key);
  } catch {
    // Storage full or refused: the draft stays in memory for this page.
  }
}

/** Forgets every draft of every user in this browser (signing out). */
export function clearDrafts() {
  drafts = new Map();
  key = null;
  for (let i = localStorage.length - 1; i >= 0; i -= 1) {
    const name = localStorage.key(i);
    if (name && name.startsWith(PREFIX)) localStorage.removeItem(name);
  }
}
