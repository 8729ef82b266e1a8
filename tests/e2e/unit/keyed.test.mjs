// Unit tests of ui/js/keyed.js, the keyed list every long view uses. A small stand-in for a
// DOM element (children in order, insertBefore, removeChild) counts the operations, so a
// test can say that appending one message costs one insertion.
import test from 'node:test';
import assert from 'node:assert/strict';
import { reconcile } from '../../../ui/js/keyed.js';

class FakeNode {
  constructor(label) { this.label = label; this.parent = null; }
  get nextSibling() {
    if (!this.parent) return null;
    const kids = this.parent.kids;
    return kids[kids.indexOf(this) + 1] || null;
  }
}

class FakeContainer {
  constructor() { this.kids = []; this.ops = 0; }
  get firstChild() { return this.kids[0] || null; }
  insertBefore(node, before) {
    this.ops += 1;
    if (node.parent) node.parent.kids.splice(node.parent.kids.indexOf(node), 1);
    const at = before ? this.kids.indexOf(before) : this.kids.length;
    this.kids.splice(at, 0, node);
    node.parent = this;
  }
  removeChild(node) {
    this.ops += 1;
    this.kids.splice(this.kids.indexOf(node), 1);
    node.parent = null;
  }
  labels() { return this.kids.map((k) => k.label); }
}

const rows = (items) => items.map(([key, sig]) => ({ key, sig, make: () => new FakeNode(`${key}:${sig}`) }));
const many = (n) => Array.from({ length: n }, (_, i) => [`m${i}`, 'x']);

test('a first render makes every row, in order', () => {
  const box = new FakeContainer();
  assert.equal(reconcile(box, rows([['a', '1'], ['b', '1'], ['c', '1']])), 3);
  assert.deepEqual(box.labels(), ['a:1', 'b:1', 'c:1']);
});

test('appending one row to 1,200 makes one node and one insertion', () => {
  const box = new FakeContainer();
  reconcile(box, rows(many(1200)));
  const kept = box.kids.slice();
  box.ops = 0;
  assert.equal(reconcile(box, rows([...many(1200), ['new', 'x']])), 1);
  assert.equal(box.ops, 1);
  assert.equal(box.kids.length, 1201);
  assert.ok(kept.every((node, i) => box.kids[i] === node), 'the other nodes are the same objects');
});

test('a changed row in the middle is replaced in place; the rest stay put', () => {
  const box = new FakeContainer();
  reconcile(box, rows(many(100)));
  box.ops = 0;
  const next = many(100);
  next[50] = ['m50', 'edited'];
  assert.equal(reconcile(box, rows(next)), 1);
  assert.equal(box.ops, 2, 'one removal and one insertion');
  assert.equal(box.kids[50].label, 'm50:edited');
  assert.equal(box.kids[51].label, 'm51:x');
});

test('prepending an older page inserts only the new rows', () => {
  const box = new FakeContainer();
  reconcile(box, rows([['edge', 'more'], ...many(50)]));
  box.ops = 0;
  const older = Array.from({ length: 50 }, (_, i) => [`o${i}`, 'x']);
  assert.equal(reconcile(box, rows([['edge', 'more'], ...older, ...many(50)])), 50);
  assert.equal(box.ops, 50);
  assert.deepEqual(box.labels().slice(0, 3), ['edge:more', 'o0:x', 'o1:x']);
  assert.equal(box.kids.length, 101);
});

test('removed rows go, reordered rows move, and stray children are cleared', () => {
  const box = new FakeContainer();
  reconcile(box, rows([['a', '1'], ['b', '1'], ['c', '1'], ['d', '1']]));
  box.insertBefore(new FakeNode('stray'), null);
  reconcile(box, rows([['d', '1'], ['b', '1'], ['e', '1']]));
  assert.deepEqual(box.labels(), ['d:1', 'b:1', 'e:1']);
});

test('a key listed twice gets two nodes rather than one node in two places', () => {
  const box = new FakeContainer();
  reconcile(box, rows([['a', '1'], ['a', '1']]));
  assert.equal(box.kids.length, 2);
  assert.notEqual(box.kids[0], box.kids[1]);
});
