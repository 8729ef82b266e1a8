// Unit tests of ui/js/messages.js: the rows of the message list and their signatures, which
// decide what the page rebuilds. No page is needed: the rows are built without calling their
// `make`.
import test from 'node:test';
import assert from 'node:assert/strict';
import { messageRows, othersReach, WINDOW, trimToWindow, revealOlder, reveal, firstShown } from '../../../ui/js/messages.js';

const ALICE = 1;
const BOB = 2;
const CAROL = 3;
const T0 = Date.UTC(2026, 11, 1, 9, 0);
const names = { [ALICE]: 'Alice', [BOB]: 'Bob', [CAROL]: 'Carol' };

const msg = (id, sender, minutes, body = `m${id}`) =>
  ({ id, seq: id, sender_id: sender, body, created_at: T0 + minutes * 60000, edited_at: null, deleted: false, attachments: [] });

function view({ list, members = [], kind = 'group', pending = [], found = null }) {
  return {
    conv: { id: 7, kind },
    title: 'Lunch',
    hist: { list, hasMore: false },
    pending,
    me: ALICE,
    admin: false,
    found,
    members: new Map(members.map((m) => [m.user_id, m])),
    name: (id) => names[id],
    attachment: () => { throw new Error('not built here'); },
    actions: {},
  };
}

const sigs = (rows) => new Map(rows.map((r) => [r.key, r.sig]));

test('rows: the top edge, one day separator, the messages, and "Seen by" under my last', () => {
  const rows = messageRows(view({
    list: [msg(1, ALICE, 0), msg(2, BOB, 1), msg(3, ALICE, 2)],
    members: [{ user_id: BOB, delivered_seq: 3, read_seq: 3 }, { user_id: CAROL, delivered_seq: 3, read_seq: 1 }],
  }));
  assert.deepEqual(rows.map((r) => r.key.replace(/^day-.*/, 'day')),
    ['edge-older', 'day', 'msg-1', 'msg-2', 'msg-3', 'seen-3']);
  assert.equal(rows[0].sig, 'This is the beginning of Lunch.');
  assert.equal(rows.at(-1).sig, 'Seen by Bob');
});

test('a new message from someone else leaves every earlier row as it was', () => {
  const members = [{ user_id: BOB, delivered_seq: 2, read_seq: 2 }];
  const before = sigs(messageRows(view({ list: [msg(1, ALICE, 0), msg(2, BOB, 1)], members })));
  const after = sigs(messageRows(view({ list: [msg(1, ALICE, 0), msg(2, BOB, 1), msg(3, BOB, 2)], members })));
  for (const [key, sig] of before) assert.equal(after.get(key), sig, key);
  assert.ok(after.has('msg-3'));
});

test('a receipt changes only my messages whose ticks it moves', () => {
  const list = [msg(1, ALICE, 0), msg(2, ALICE, 1), msg(3, BOB, 2)];
  const before = sigs(messageRows(view({ list, kind: 'direct', members: [{ user_id: BOB, delivered_seq: 2, read_seq: 0 }] })));
  const after = sigs(messageRows(view({ list, kind: 'direct', members: [{ user_id: BOB, delivered_seq: 2, read_seq: 1 }] })));
  assert.notEqual(after.get('msg-1'), before.get('msg-1'), 'read now');
  assert.equal(after.get('msg-2'), before.get('msg-2'), 'still delivered');
  assert.equal(after.get('msg-3'), before.get('msg-3'), 'not mine');
});

test('runs from one sender: a name only on the first, again after five minutes', () => {
  const rows = messageRows(view({ list: [msg(1, BOB, 0), msg(2, BOB, 1), msg(3, BOB, 7)] }));
  const who = rows.filter((r) => r.key.startsWith('msg-')).map((r) => JSON.parse(r.sig)[7]);
  assert.deepEqual(who, ['Bob', '', 'Bob']);
});

test('my outbox items follow the history; a search mark and a new day show in the rows', () => {
  const pending = [{ client_id: 'c-9', body: 'on its way', created_at: T0 + 26 * 3600000, conversation_id: 7 }];
  const rows = messageRows(view({ list: [msg(1, BOB, 0)], pending, found: 1 }));
  const keys = rows.map((r) => r.key);
  assert.equal(keys.at(-1), 'msg-pending-c-9');
  assert.equal(keys.filter((k) => k.startsWith('day-')).length, 2, 'the outbox item is the next day');
  assert.equal(JSON.parse(rows.find((r) => r.key === 'msg-1').sig)[9], true, 'marked by the search jump');
});

test("the others' reach ignores me", () => {
  const members = new Map([[ALICE, { user_id: ALICE, delivered_seq: 9, read_seq: 9 }], [BOB, { user_id: BOB, delivered_seq: 4, read_seq: 2 }]]);
  assert.deepEqual(othersReach(members, ALICE), { delivered: 4, read: 2 });
  assert.deepEqual(othersReach(undefined, ALICE), { delivered: 0, read: 0 });
});

test('the window: at the end only the last WINDOW messages are rows; scrolling up brings the rest back', () => {
  const list = Array.from({ length: WINDOW + 120 }, (_, i) => msg(i + 1, i % 2 ? BOB : ALICE, i));
  const hist = { list, hasMore: false };
  const v = { ...view({ list }), hist };
  const count = () => messageRows(v).filter((r) => r.key.startsWith('msg-')).length;
  assert.equal(count(), list.length, 'all shown until the list goes to its end');
  trimToWindow(hist);
  assert.equal(count(), WINDOW);
  assert.equal(messageRows(v)[0].sig, 'Scroll up for older messages', 'more above, though the hub has no more');
  trimToWindow(hist);
  assert.equal(count(), WINDOW, 'trimming again changes nothing');
  hist.list.push(msg(list.length + 1, BOB, list.length));
  trimToWindow(hist);
  assert.equal(count(), WINDOW, 'an arrival at the end moves the window');
  assert.equal(revealOlder(hist, 50), true);
  assert.equal(count(), WINDOW + 50);
  reveal(hist, 3);
  assert.ok(messageRows(v).some((r) => r.key === 'msg-3'), 'a search jump target is put on the page');
  while (revealOlder(hist, 50));
  assert.equal(count(), hist.list.length);
  assert.equal(messageRows(v)[0].sig, 'This is the beginning of Lunch.');
  assert.equal(firstShown(hist), 0);
});

test('"New messages" goes above the first unread from someone else, once', () => {
  const base = view({ list: [msg(1, BOB, 0), msg(2, ALICE, 1), msg(3, BOB, 2), msg(4, CAROL, 3)] });
  const keys = (unreadFrom) => messageRows({ ...base, unreadFrom }).map((r) => r.key).filter((k) => !k.startsWith('day-'));
  assert.deepEqual(keys(2), ['edge-older', 'msg-1', 'msg-2', 'unread-line', 'msg-3', 'msg-4'], 'not above my own message');
  assert.deepEqual(keys(4), ['edge-older', 'msg-1', 'msg-2', 'msg-3', 'unread-line', 'msg-4']);
  assert.ok(!keys(null).includes('unread-line'));
  assert.ok(!keys(9).includes('unread-line'), 'nothing unread loaded');
});

test('no "New messages" when the first unread is not loaded', () => {
  const list = [msg(9, BOB, 0), msg(10, BOB, 1)];
  const rows = messageRows({ ...view({ list }), hist: { list, hasMore: true }, unreadFrom: 1 });
  assert.ok(!rows.some((r) => r.key === 'unread-line'), 'seq 1 to 8 are not loaded');
  const all = messageRows({ ...view({ list }), hist: { list, hasMore: false }, unreadFrom: 1 });
  assert.equal(all.findIndex((r) => r.key === 'unread-line') + 1, all.findIndex((r) => r.key === 'msg-9'),
    'nothing before: the line is at the start');
});
