// Unit tests of ui/js/notifications.js: which new messages make a browser notification, and
// what it says, by the person's settings (the desktop's rules). No page is needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { noticeFor } from '../../../ui/js/notifications.js';
import { newState } from '../../../ui/js/model.js';
import { mergeUser } from '../../../ui/js/events.js';

const NOW = Date.UTC(2026, 11, 3, 9, 0);

function state(settings = {}) {
  const s = newState();
  s.me = { id: 1, username: 'ada', display_name: 'Ada', status_text: '', is_admin: false, created_at: 0 };
  mergeUser(s, s.me);
  mergeUser(s, { id: 2, username: 'bob', display_name: 'Bob Baker', status_text: '', is_admin: false, created_at: 0 });
  s.convs.set(5, { id: 5, kind: 'direct', name: null, peer_id: 2, muted: false });
  s.convs.set(7, { id: 7, kind: 'group', name: 'Team', muted: false });
  s.notify = { level: 'all', previews: true, muted_conversations: [], muted_until: null, ...settings };
  return s;
}

const msg = (conv, body, extra = {}) => ({ id: 9, conversation_id: conv, seq: 1, sender_id: 2, body, client_id: 'c',
  created_at: NOW - 1000, edited_at: null, deleted: false, ...extra });
const away = { now: NOW, lookingAt: null };

test('a message elsewhere notifies with its sender, place and text without markup', () => {
  assert.deepEqual(noticeFor(state(), msg(7, '**Lunch** at noon?'), away), { title: 'Bob Baker in Team', body: 'Lunch at noon?', convId: 7 });
  assert.deepEqual(noticeFor(state(), msg(5, 'hi'), away), { title: 'Bob Baker', body: 'hi', convId: 5 });
  assert.equal(noticeFor(state({ previews: false }), msg(5, 'secret'), away).body, 'New message');
  assert.equal(noticeFor(state(), msg(5, 'x'.repeat(500)), away).body.length, 141);
});

test('none for mine, the conversation in view, old news, mutes, or below the level', () => {
  const s = state();
  assert.equal(noticeFor(s, msg(7, 'mine', { sender_id: 1 }), away), null);
  assert.equal(noticeFor(s, msg(7, 'here'), { now: NOW, lookingAt: 7 }), null);
  assert.equal(noticeFor(s, msg(7, 'old', { created_at: NOW - 120000 }), away), null);
  s.convs.get(7).muted = true;
  assert.equal(noticeFor(s, msg(7, 'muted'), away), null);
  assert.equal(noticeFor(state({ muted_until: NOW + 1000 }), msg(5, 'later'), away), null);
  assert.equal(noticeFor(state({ level: 'nothing' }), msg(5, 'x'), away), null);
  const quiet = state({ level: 'direct_and_mentions' });
  assert.equal(noticeFor(quiet, msg(7, 'lunch?'), away), null);
  assert.ok(noticeFor(quiet, msg(5, 'direct'), away));
  assert.ok(noticeFor(quiet, msg(7, '@ada lunch?', { mentions: { user_ids: [1] } }), away), 'the hub says I am mentioned');
  assert.equal(noticeFor(quiet, msg(7, '@ada lunch?'), away), null, 'text alone is no mention');
});
