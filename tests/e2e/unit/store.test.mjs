// Unit tests of ui/js/store.js: views run once per flush for what changed, in the order they
// subscribed, and what a view changes is rendered in the same flush.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../../../ui/js/store.js';

function manual() {
  const queued = [];
  const store = createStore((flush) => queued.push(flush));
  return { store, queued, tick: () => { const run = queued.splice(0); for (const f of run) f(); } };
}

test('many changes before a frame: each view runs once, in subscription order', () => {
  const { store, queued, tick } = manual();
  const ran = [];
  store.on('list', () => ran.push('list'));
  store.on('messages', () => ran.push('messages'));
  store.on('head', () => ran.push('head'));
  store.changed('messages');
  store.changed('list', 'messages');
  store.changed('messages');
  assert.equal(queued.length, 1, 'scheduled once');
  assert.deepEqual(ran, [], 'nothing runs before the frame');
  tick();
  assert.deepEqual(ran, ['list', 'messages']);
  tick();
  assert.deepEqual(ran, ['list', 'messages'], 'nothing changed since');
});

test('a view on two topics runs once when both changed', () => {
  const { store, tick } = manual();
  let runs = 0;
  const view = () => { runs += 1; };
  store.on('a', view);
  store.on('b', view);
  store.changed('a', 'b');
  tick();
  assert.equal(runs, 1);
});

test('what a view changes is rendered in the same flush; a loop is cut off', () => {
  const { store, queued, tick } = manual();
  const ran = [];
  store.on('messages', () => { ran.push('messages'); store.changed('list'); });
  store.on('list', () => ran.push('list'));
  store.changed('messages');
  tick();
  assert.deepEqual(ran, ['messages', 'list']);
  let spins = 0;
  store.on('spin', () => { spins += 1; store.changed('spin'); });
  store.changed('spin');
  tick();
  assert.equal(spins, 4, 'a few rounds, then the rest waits for the next frame');
  assert.equal(queued.length, 1);
});

test('flush renders now, and the scheduled frame then has nothing to do', () => {
  const { store, tick } = manual();
  let runs = 0;
  store.on('head', () => { runs += 1; });
  store.changed('head');
  store.flush();
  assert.equal(runs, 1);
  tick();
  assert.equal(runs, 1);
});

test('a topic a view marks is rendered once, by the views after it, in the same pass', () => {
  const { store, queued, tick } = manual();
  const ran = [];
  store.on('messages', () => { ran.push('messages'); store.changed('list'); });
  store.on('list', () => ran.push('list'));
  store.changed('messages', 'list');
  tick();
  assert.deepEqual(ran, ['messages', 'list'], 'the list once, not again for the mark');
  assert.equal(queued.length, 0);
});

test('a topic marked after its view ran is rendered again', () => {
  const { store, tick } = manual();
  const ran = [];
  store.on('list', () => ran.push('list'));
  store.on('messages', () => { ran.push('messages'); store.changed('list'); });
  store.changed('messages', 'list');
  tick();
  assert.deepEqual(ran, ['list', 'messages', 'list']);
});
