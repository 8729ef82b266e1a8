// Unit tests of the reactions' pure parts: the picker's search (ui/js/reactions.js) and a
// reaction event applied to the state (ui/js/events.js). No page is needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { matching, QUICK } from '../../../ui/js/reactions.js';
import { newState } from '../../../ui/js/model.js';
import { applyEvent } from '../../../ui/js/events.js';

const entries = [
  { emoji: '😀', name: 'grinning face', shortcodes: ['grinning'], group: 'Smileys & Emotion' },
  { emoji: '😂', name: 'face with tears of joy', shortcodes: ['joy'], group: 'Smileys & Emotion' },
  { emoji: '👍', name: 'thumbs up', shortcodes: ['+1', 'thumbsup'], group: 'People & Body' },
  { emoji: '🎉', name: 'party popper', shortcodes: ['tada'], group: 'Activities' },
];

test('the picker finds emoji by the start of any word of their name or shortcodes', () => {
  const found = (q) => matching(entries, q).map((e) => e.emoji);
  assert.deepEqual(found(''), ['😀', '😂', '👍', '🎉'], 'no query: the list in order');
  assert.deepEqual(found('face'), ['😀', '😂']);
  assert.deepEqual(found(':tada:'), ['🎉'], 'a shortcode with its colons');
  assert.deepEqual(found('thumbs UP'), ['👍'], 'every word, any case');
  assert.deepEqual(found('+1'), ['👍']);
  assert.deepEqual(found('ears'), [], 'the start of a word, not its middle');
  assert.deepEqual(found('<script>'), []);
  assert.equal(QUICK.length, 6);
});

test('a reaction event replaces the message\'s reactions, idempotently', () => {
  const s = newState();
  s.me = { id: 1, username: 'me', display_name: 'Me', status_text: '', is_admin: false, created_at: 0 };
  const m = { id: 10, conversation_id: 7, seq: 1, sender_id: 2, body: 'hi', client_id: 'c', created_at: 0, edited_at: null, deleted: false };
  s.history.set(7, { list: [m], hasMore: false });
  const ev = { kind: 'reaction', conversation_id: 7, message_id: 10, message_seq: 1, user_id: 2, emoji: '👍', on: true,
    reactions: [{ emoji: '👍', user_ids: [2] }] };
  applyEvent(s, ev);
  applyEvent(s, ev);
  assert.deepEqual(s.history.get(7).list[0].reactions, [{ emoji: '👍', user_ids: [2] }]);
  assert.notEqual(s.history.get(7).list[0], m, 'replaced, not changed: its row is made again');
  applyEvent(s, { ...ev, on: false, reactions: [] });
  assert.deepEqual(s.history.get(7).list[0].reactions, []);
  // A reaction to a message not loaded changes nothing.
  applyEvent(s, { ...ev, message_id: 99 });
  assert.equal(s.history.get(7).list.length, 1);
});
