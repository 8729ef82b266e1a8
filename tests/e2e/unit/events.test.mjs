// Unit tests of ui/js/events.js: the hub's events applied to a state, idempotently and never
// backwards, and the outcome each asks the page to carry out. No page is needed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { newState } from '../../../ui/js/model.js';
import { applyEvent, addMessage, applyReceipt, freshest, forgetConversation, mergeUser, markUnseen } from '../../../ui/js/events.js';

const ME = 1;
const BOB = 2;
const GROUP = 7;
const T0 = Date.UTC(2026, 11, 1, 9, 0);

function summary(id, changes = {}) {
  return {
    id, kind: 'group', name: 'Lunch', created_at: T0, created_by: ME, member_count: 2, my_role: 'member',
    last_seq: 0, last_message: null, last_activity_at: T0, read_seq: 0, delivered_seq: 0, unread: 0,
    peer_id: null, muted: false, ...changes,
  };
}

const msg = (seq, sender, changes = {}) => ({
  id: 100 + seq, conversation_id: GROUP, seq, sender_id: sender, body: `m${seq}`, client_id: `c${seq}`,
  created_at: T0 + seq * 1000, edited_at: null, deleted: false, ...changes,
});

function signedIn() {
  const s = newState();
  s.me = { id: ME, username: 'me', display_name: 'Me', status_text: '', is_admin: false, created_at: T0 };
  mergeUser(s, s.me);
  mergeUser(s, { id: BOB, username: 'bob', display_name: 'Bob', status_text: '', is_admin: false, created_at: T0 });
  s.convs.set(GROUP, summary(GROUP));
  return s;
}

const topics = (o) => [...o.topics].sort();

test('a new message from someone else: unread, a delivery receipt, typing stops, announced', () => {
  const s = signedIn();
  const o = applyEvent(s, { kind: 'message_new', message: msg(1, BOB) });
  const conv = s.convs.get(GROUP);
  assert.equal(conv.last_seq, 1);
  assert.equal(conv.unread, 1);
  assert.equal(conv.last_message.body, 'm1');
  assert.deepEqual(o.delivered, { convId: GROUP, seq: 1, already: 0 });
  assert.deepEqual(o.stoppedTyping, { convId: GROUP, userId: BOB });
  assert.deepEqual(o.announce, { convId: GROUP, senderId: BOB, body: 'm1' });
  assert.deepEqual(topics(o), ['list'], 'not open: only the list changes');
  assert.equal(o.arrived, null);
});

test('the same message twice (an event after its ack, or a replay) counts once', () => {
  const s = signedIn();
  s.active = GROUP;
  s.history.set(GROUP, { list: [], hasMore: false });
  applyEvent(s, { kind: 'message_new', message: msg(1, BOB) });
  const again = applyEvent(s, { kind: 'message_new', message: msg(1, BOB) });
  assert.equal(s.history.get(GROUP).list.length, 1);
  assert.equal(s.convs.get(GROUP).unread, 1);
  assert.equal(again.delivered, null);
  assert.deepEqual(again.arrived, { isNew: false, mine: false });
});

test('in the open conversation a message arrives in seq order, and an older stretch waits', () => {
  const s = signedIn();
  s.active = GROUP;
  s.history.set(GROUP, { list: [msg(1, BOB), msg(3, BOB)], hasMore: false });
  const o = addMessage(s, msg(2, ME));
  assert.deepEqual(s.history.get(GROUP).list.map((m) => m.seq), [1, 2, 3]);
  assert.deepEqual(topics(o), ['list', 'messages']);
  assert.deepEqual(o.arrived, { isNew: true, mine: true });
  assert.equal(s.convs.get(GROUP).read_seq, 2, 'my own message is read by me');
  assert.equal(o.announce, null, 'my own message is not announced');
  s.history.get(GROUP).hasNewer = true;
  addMessage(s, msg(9, BOB));
  assert.deepEqual(s.history.get(GROUP).list.map((m) => m.seq), [1, 2, 3], 'comes with the pages below');
  assert.equal(s.convs.get(GROUP).last_seq, 9);
});

test('a message for a conversation not known asks for a reload', () => {
  const s = signedIn();
  const o = addMessage(s, { ...msg(1, BOB), conversation_id: 99 });
  assert.equal(o.reload, true);
  assert.equal(s.convs.has(99), false);
});

test('edits and deletions replace the message where it is shown', () => {
  const s = signedIn();
  s.history.set(GROUP, { list: [msg(1, BOB)], hasMore: false });
  addMessage(s, msg(1, BOB));
  const edited = msg(1, BOB, { body: 'fixed', edited_at: T0 + 5000 });
  applyEvent(s, { kind: 'message_edited', message: edited });
  assert.equal(s.history.get(GROUP).list[0].body, 'fixed');
  assert.equal(s.convs.get(GROUP).last_message.body, 'fixed');
  const gone = msg(1, BOB, { body: '', deleted: true });
  const o = applyEvent(s, { kind: 'message_deleted', message: gone });
  assert.equal(s.history.get(GROUP).list[0].deleted, true);
  assert.deepEqual(topics(o), ['list']);
});

test('receipts never move backwards, and mine from another device clear the unread count', () => {
  const s = signedIn();
  s.active = GROUP;
  s.members.set(GROUP, new Map([[BOB, { user_id: BOB, role: 'member', delivered_seq: 5, read_seq: 4 }]]));
  let o = applyReceipt(s, { conversation_id: GROUP, user_id: BOB, delivered_seq: 3, read_seq: 6 });
  assert.deepEqual(s.members.get(GROUP).get(BOB), { user_id: BOB, role: 'member', delivered_seq: 5, read_seq: 6 });
  assert.deepEqual(topics(o), ['messages'], 'their ticks change');
  s.convs.set(GROUP, summary(GROUP, { last_seq: 6, unread: 2, read_seq: 4 }));
  o = applyEvent(s, { kind: 'receipt', conversation_id: GROUP, user_id: ME, delivered_seq: 6, read_seq: 6 });
  assert.equal(s.convs.get(GROUP).unread, 0);
  assert.deepEqual(topics(o), ['list'], 'my own receipt changes no tick');
});

test('removed from a conversation: it leaves the list and the screen', () => {
  const s = signedIn();
  s.active = GROUP;
  const o = applyEvent(s, { kind: 'member_removed', conversation_id: GROUP, user_id: ME, by: BOB });
  assert.equal(s.convs.has(GROUP), false);
  assert.equal(s.active, null);
  assert.ok(o.topics.has('panes'));
  assert.deepEqual(topics(forgetConversation(s, 12345)), topics(o), 'forgetting twice is harmless');
});

test('someone else removed: the member count drops, never below zero', () => {
  const s = signedIn();
  s.convs.set(GROUP, summary(GROUP, { member_count: 1 }));
  s.members.set(GROUP, new Map([[BOB, { user_id: BOB, role: 'member', delivered_seq: 0, read_seq: 0 }]]));
  applyEvent(s, { kind: 'member_removed', conversation_id: GROUP, user_id: BOB, by: ME });
  applyEvent(s, { kind: 'member_removed', conversation_id: GROUP, user_id: BOB, by: ME });
  assert.equal(s.convs.get(GROUP).member_count, 0);
  assert.equal(s.members.get(GROUP).has(BOB), false);
});

test('added to a conversation, or one not known: reload; others added: counted', () => {
  const s = signedIn();
  const conversation = { id: GROUP, kind: 'group', name: 'Lunch' };
  assert.equal(applyEvent(s, { kind: 'members_added', conversation, by: BOB,
    members: [{ user_id: ME, role: 'member', delivered_seq: 0, read_seq: 0 }] }).reload, true);
  const o = applyEvent(s, { kind: 'members_added', conversation, by: ME,
    members: [{ user_id: 3, role: 'member', delivered_seq: 0, read_seq: 0 }] });
  assert.equal(o.reload, false);
  assert.equal(s.convs.get(GROUP).member_count, 3);
});

test('a user update keeps the presence heard, clears a stale `disabled`, and updates me', () => {
  const s = signedIn();
  s.users.get(BOB).presence = 'online';
  mergeUser(s, { ...s.users.get(BOB), disabled: true });
  const o = applyEvent(s, { kind: 'user_updated', user: { id: BOB, username: 'bob', display_name: 'Robert', status_text: '', is_admin: false, created_at: T0 } });
  assert.equal(s.users.get(BOB).display_name, 'Robert');
  assert.equal(s.users.get(BOB).presence, 'online');
  assert.equal(s.users.get(BOB).disabled, false);
  assert.equal(o.topics.has('me'), false);
  const mine = applyEvent(s, { kind: 'user_updated', user: { ...s.me, display_name: 'New me' } });
  assert.equal(s.me.display_name, 'New me');
  assert.ok(mine.topics.has('me'));
});

test('unknown event kinds change nothing (a newer hub)', () => {
  const s = signedIn();
  const before = JSON.stringify([...s.convs]);
  const o = applyEvent(s, { kind: 'reaction_added', emoji: '👍' });
  assert.equal(o.topics.size, 0);
  assert.equal(JSON.stringify([...s.convs]), before);
  assert.equal(applyEvent(s, { kind: 'toString' }).topics.size, 0, 'no inherited handler runs');
});

test('freshest: a fetched summary never moves the live one backwards', () => {
  // The fetch left before messages 8 and 9 came and before I read them on this device.
  const live = summary(GROUP, { last_seq: 9, last_message: msg(9, BOB), unread: 0, read_seq: 9 });
  const fetched = summary(GROUP, { last_seq: 7, unread: 1, read_seq: 6, name: 'Renamed' });
  const merged = freshest(live, fetched);
  assert.equal(merged.name, 'Renamed');
  assert.equal(merged.last_seq, 9);
  assert.equal(merged.read_seq, 9);
  assert.equal(merged.unread, 0, 'read up to the end');
  assert.equal(merged.last_message.seq, 9);
  const older = freshest(summary(GROUP, { last_seq: 5, read_seq: 5 }), fetched);
  assert.equal(older.last_seq, 7, 'a fresher fetch wins');
  assert.equal(older.unread, 1);
  assert.equal(freshest(undefined, fetched), fetched);
});

test('sending is reading: a message from Bob marks everything before it read by Bob', () => {
  const s = signedIn();
  s.active = GROUP;
  s.history.set(GROUP, { list: [msg(1, ME)], hasMore: false });
  s.members.set(GROUP, new Map([
    [ME, { user_id: ME, role: 'member', delivered_seq: 1, read_seq: 1 }],
    [BOB, { user_id: BOB, role: 'member', delivered_seq: 0, read_seq: 0 }],
  ]));
  const o = applyEvent(s, { kind: 'message_new', message: msg(2, BOB) });
  assert.deepEqual(s.members.get(GROUP).get(BOB), { user_id: BOB, role: 'member', delivered_seq: 2, read_seq: 2 });
  assert.ok(o.topics.has('messages'), 'my message 1 now shows read');
  // A late copy of an older message moves nothing backwards.
  applyEvent(s, { kind: 'message_new', message: msg(1, BOB) });
  assert.equal(s.members.get(GROUP).get(BOB).read_seq, 2);
});

test("a reply's quote: the original loaded or fetched, its edits, its deletion, or why not", async () => {
  const { quoteOf } = await import('../../../ui/js/model.js');
  const s = signedIn();
  s.history.set(GROUP, { list: [msg(1, BOB, { body: '**Lunch** at noon?\nor later' })], hasMore: false });
  const reply = (to) => ({ conversation_id: GROUP, reply_to: to });
  assert.equal(quoteOf(s, { conversation_id: GROUP }), null, 'not a reply');
  assert.deepEqual(
    (({ status, who, text }) => ({ status, who, text }))(quoteOf(s, reply(101))),
    { status: 'shown', who: 'Bob', text: 'Lunch at noon?' },
    'loaded: its sender and first line, without markup',
  );
  assert.equal(quoteOf(s, reply(150)).status, 'loading', 'neither loaded nor fetched yet');
  s.originals.set(150, msg(50, ME, { id: 150, body: '', attachments: [{ id: 9, name: 'a.png', image: { width: 1, height: 1 } }] }));
  const pic = quoteOf(s, reply(150));
  assert.deepEqual([pic.who, pic.text, pic.picture.id], ['You', 'Picture', 9]);
  s.originals.set(160, null);
  assert.equal(quoteOf(s, reply(160)).text, 'Original message not available');
  // A fetched original follows its edits and its deletion.
  applyEvent(s, { kind: 'message_edited', message: msg(50, ME, { id: 150, body: 'now text', edited_at: T0 }) });
  assert.equal(quoteOf(s, reply(150)).text, 'now text');
  applyEvent(s, { kind: 'message_deleted', message: msg(50, ME, { id: 150, body: '', deleted: true }) });
  assert.equal(quoteOf(s, reply(150)).text, 'Original message deleted');
});

test('unread_changed sets my position and counts, backwards too, and draws the line in the open conversation', async () => {
  const s = signedIn();
  s.convs.set(GROUP, summary(GROUP, { last_seq: 5, read_seq: 5, unread: 0 }));
  s.active = GROUP;
  const o = applyEvent(s, { kind: 'unread_changed', conversation_id: GROUP, user_id: ME, read_seq: 2, unread: 3, mentions: 1 });
  const conv = s.convs.get(GROUP);
  assert.deepEqual([conv.read_seq, conv.unread, conv.mentions], [2, 3, 1]);
  assert.deepEqual(s.unreadLine, { convId: GROUP, seq: 3 });
  assert.ok(o.topics.has('list') && o.topics.has('messages'));
  applyEvent(s, { kind: 'unread_changed', conversation_id: GROUP, user_id: ME, read_seq: 5, unread: 0, mentions: 0 });
  assert.deepEqual([conv.read_seq, conv.unread, conv.mentions], [5, 0, 0]);
});

test('messages nobody looked at get "New messages" above the first unread; a line still unread stays', () => {
  const s = signedIn();
  s.convs.set(GROUP, summary(GROUP, { last_seq: 4, read_seq: 4 }));
  s.active = GROUP;
  s.history.set(GROUP, { list: [], hasMore: false });
  assert.equal(markUnseen(s, GROUP), false, 'nothing unread: no line');
  applyEvent(s, { kind: 'message_new', message: msg(5, BOB) });
  assert.equal(markUnseen(s, GROUP), true);
  assert.deepEqual(s.unreadLine, { convId: GROUP, seq: 5 });
  applyEvent(s, { kind: 'message_new', message: msg(6, BOB) });
  assert.equal(markUnseen(s, GROUP), false, 'the line above 5 still marks what is unread');
  assert.deepEqual(s.unreadLine, { convId: GROUP, seq: 5 });
  // Read, then away again: the line moves to the first message not seen since.
  s.convs.get(GROUP).read_seq = 6;
  s.convs.get(GROUP).unread = 0;
  applyEvent(s, { kind: 'message_new', message: msg(7, BOB) });
  assert.equal(markUnseen(s, GROUP), true);
  assert.deepEqual(s.unreadLine, { convId: GROUP, seq: 7 });
});
