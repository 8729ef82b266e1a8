// Unit tests of mentions in the UI: what is being typed after `@` and who it may mean
// (ui/js/mentions.js), how the hub's record marks the text (format.js, model.js), and the
// mention count kept live (events.js). No page is needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mentionAt, emojiAt, candidates } from '../../../ui/js/completion.js';
import { mentionPieces } from '../../../ui/js/format.js';
import { newState, mentionOf } from '../../../ui/js/model.js';
import { addMessage, applyReceipt, mergeUser } from '../../../ui/js/events.js';

const ME = 1;
const GROUP = 7;

function state() {
  const s = newState();
  s.me = { id: ME, username: 'me', display_name: 'Me Myself', status_text: '', is_admin: false, created_at: 0 };
  for (const [id, username, display_name, disabled] of [[1, 'me', 'Me Myself', false], [2, 'ada', 'Ada Lovelace', false],
    [3, 'alan', 'Alan Turing', false], [4, 'grace', 'Grace Hopper', false], [5, 'old', 'Adam Old', true]]) {
    mergeUser(s, { id, username, display_name, status_text: '', is_admin: false, created_at: 0, disabled });
  }
  s.convs.set(GROUP, { id: GROUP, kind: 'group', name: 'Team', my_role: 'member', everyone_admins_only: false,
    last_seq: 0, read_seq: 0, delivered_seq: 0, unread: 0, mentions: 0, last_message: null, last_activity_at: 0 });
  s.members.set(GROUP, new Map([1, 2, 3, 5].map((id) => [id, { user_id: id }])));
  return s;
}

test('the @prefix before the caret, by the hub\'s rule', () => {
  assert.deepEqual(mentionAt('hi @ad'), { at: 3, prefix: 'ad' });
  assert.deepEqual(mentionAt('@'), { at: 0, prefix: '' });
  assert.equal(mentionAt('mail@ad'), null, 'inside a word is no mention');
  assert.equal(mentionAt('@ada done'), null, 'a space ends it');
  assert.deepEqual(mentionAt('(@al'), { at: 1, prefix: 'al' });
});

test("the :shortcode before the caret: two letters at least, not in a time", () => {
  assert.deepEqual(emojiAt('great :ta'), { at: 6, prefix: 'ta' });
  assert.deepEqual(emojiAt(':+1'), { at: 0, prefix: '+1' });
  assert.equal(emojiAt('at 12:30'), null);
  assert.equal(emojiAt('hm :t'), null, 'one letter is not enough');
  assert.equal(emojiAt('::ta'), null);
});

test('candidates: members but me and disabled ones, by username first, then @here and @everyone', () => {
  const s = state();
  const names = (p) => candidates(s, GROUP, p).map((c) => c.username);
  assert.deepEqual(names('a'), ['ada', 'alan'], 'not Grace (not a member), not Adam (disabled), not me');
  assert.deepEqual(names('tur'), ['alan'], 'a word of the name');
  assert.deepEqual(names('e'), ['everyone']);
  assert.deepEqual(names('h'), ['here']);
  s.convs.get(GROUP).everyone_admins_only = true;
  assert.deepEqual(names('e'), [], 'kept to admins');
  s.convs.get(GROUP).my_role = 'admin';
  assert.deepEqual(names('e'), ['everyone']);
});

test('the text marks only what the hub recorded', () => {
  const s = state();
  const m = { mentions: { user_ids: [ME, 2] } };
  const of = mentionOf(s, m);
  const pieces = mentionPieces('@ada and @me, not @alan nor mail@ada. @Ada.', of);
  assert.deepEqual(pieces, [
    { mention: '@ada', me: false }, { text: ' and ' }, { mention: '@me', me: true },
    { text: ', not @alan nor mail@ada. ' }, { mention: '@Ada', me: false }, { text: '.' },
  ]);
  assert.equal(mentionOf(s, {}), null);
  assert.equal(mentionOf(s, { mentions: { everyone: true } })('everyone'), 'me');
});

test('a mention of me counts until read', () => {
  const s = state();
  const msg = (seq, mentions) => ({ id: 100 + seq, conversation_id: GROUP, seq, sender_id: 2, body: 'x', client_id: `c${seq}`,
    created_at: seq, edited_at: null, deleted: false, mentions });
  addMessage(s, msg(1, undefined));
  addMessage(s, msg(2, { user_ids: [ME] }));
  addMessage(s, msg(3, { here: true }));
  addMessage(s, msg(4, { user_ids: [3] }));
  addMessage(s, msg(3, { here: true }));
  const conv = s.convs.get(GROUP);
  assert.deepEqual([conv.unread, conv.mentions], [4, 2], 'each once; a mention of someone else is not mine');
  applyReceipt(s, { conversation_id: GROUP, user_id: ME, delivered_seq: 4, read_seq: 4 });
  assert.deepEqual([conv.unread, conv.mentions], [0, 0]);
});

test('the quick switcher finds conversations by a word of their name, then people without a chat', async () => {
  const { switchTargets } = await import('../../../ui/js/switcher.js');
  const s = state();
  s.convs.set(8, { id: 8, kind: 'direct', name: null, peer_id: 2, my_role: 'member', last_seq: 0, read_seq: 0,
    delivered_seq: 0, unread: 0, mentions: 0, last_message: null, last_activity_at: 5 });
  const found = (q) => switchTargets(s, q).map((t) => [t.label, 'conv' in t.go ? `conv ${t.go.conv}` : `user ${t.go.user}`]);
  assert.deepEqual(found('tea'), [['Team', 'conv 7']]);
  assert.deepEqual(found('love'), [['Ada Lovelace', 'conv 8']], 'a direct chat by its person');
  assert.deepEqual(found('a'), [['Ada Lovelace', 'conv 8'], ['Alan Turing', 'user 3']], 'then people, not disabled ones');
  assert.deepEqual(found('zzz'), []);
  assert.equal(found('').length, 2, 'no query: my conversations');
});

test('search filters in the box: from:, in:, before:, after:', async () => {
  const { searchParams } = await import('../../../ui/js/search.js');
  const s = state();
  const asked = searchParams(s, 'budget from:ada in:team after:2026-11-01 before:2026-12-01 numbers');
  assert.equal(asked.error, '');
  assert.equal(asked.words, 'budget numbers');
  assert.equal(asked.params.get('sender_id'), '2');
  assert.equal(asked.params.get('conversation_id'), '7');
  assert.equal(Number(asked.params.get('after')), new Date(2026, 10, 1).getTime());
  assert.equal(Number(asked.params.get('before')), new Date(2026, 11, 1).getTime());
  assert.equal(searchParams(s, 'x from:@Lovelace').params.get('sender_id'), '2', 'a word of the name, with @');
  assert.match(searchParams(s, 'x from:nobody').error, /Nobody is called nobody/);
  assert.match(searchParams(s, 'x in:nowhere').error, /no conversation called nowhere/);
  assert.match(searchParams(s, 'x before:yesterday').error, /date like/);
  assert.equal(searchParams(s, 'ratio 3:2').words, 'ratio 3:2', 'other colons are words');
});
