// @ts-check
// A keyed list: the rows a view wants, reconciled with the nodes already on the page, so an
// update touches only the rows that changed. A row whose `sig` (everything its node shows)
// is the same as last time keeps its node, with its listeners, loaded pictures and focus;
// a row that changed gets a new node (focus inside it moves to the same place in the new
// one); rows that went are removed; the rest are moved only when out of order. Appending
// one message to a long conversation is one DOM insertion.

/**
 * @typedef {object} Row
 * @property {string} key  stable identity within the container (a message id, a day)
 * @property {string} sig  what the node shows; a new signature makes a new node
 * @property {() => Node} make  builds the node
 */

/** @type {WeakMap<object, Map<string, {sig: string, node: Node}>>} */
const kept = new WeakMap();

/**
 * Makes `container`'s children the nodes of `rows`, in order. Returns how many nodes were
 * made (for tests and benchmarks).
 * @param {{firstChild: Node|null, insertBefore: Function, removeChild: Function}} container
 * @param {Row[]} rows
 * @returns {number}
 */
export function reconcile(container, rows) {
  const before = kept.get(container) || new Map();
  const focus = focusIn(container, before);
  const after = new Map();
  const wanted = new Set();
  let made = 0;
  const nodes = rows.map((row) => {
    const old = before.get(row.key);
    let node;
    if (old && old.sig === row.sig && !wanted.has(old.node)) {
      node = old.node;
    } else {
      node = row.make();
      made += 1;
    }
    wanted.add(node);
    after.set(row.key, { sig: row.sig, node });
    return node;
  });
  // Remove what is not wanted first, so that a replaced row does not push the rows after it
  // out of place (which would move every one of them).
  for (let child = container.firstChild; child;) {
    const next = child.nextSibling;
    if (!wanted.has(child)) container.removeChild(child);
    child = next;
  }
  let cursor = container.firstChild;
  for (const node of nodes) {
    if (node === cursor) {
      cursor = cursor.nextSibling;
    } else {
      container.insertBefore(node, cursor);
    }
  }
  kept.set(container, after);
  if (focus) refocus(focus, after);
  return made;
}

/**
 * Where focus is, when it is in one of the container's rows: a live update that makes that
 * row anew must not throw focus to the page's body.
 * @param {any} container @param {Map<string, {sig: string, node: Node}>} before
 */
function focusIn(container, before) {
  if (typeof document === 'undefined' || typeof container.contains !== 'function') return null;
  const active = /** @type {HTMLElement|null} */ (document.activeElement);
  if (!active || active === container || !container.contains(active)) return null;
  for (const [key, old] of before) {
    if (old.node.contains(active)) return { key, node: old.node, active, label: labelOf(active) };
  }
  return null;
}

/**
 * Gives focus back in the row's new node: to the row itself, or the control with the same
 * name, or else the row's first focusable part.
 * @param {NonNullable<ReturnType<typeof focusIn>>} focus @param {Map<string, {sig: string, node: Node}>} after
 */
function refocus(focus, after) {
  const now = after.get(focus.key);
  if (!now || now.node === focus.node || document.activeElement === focus.active) return;
  const node = /** @type {HTMLElement} */ (now.node);
  const same = focus.active === focus.node ? node
    : [...node.querySelectorAll(focus.active.tagName)].find((el) => labelOf(/** @type {HTMLElement} */ (el)) === focus.label);
  const target = /** @type {HTMLElement|null} */ (same
    || (node.hasAttribute('tabindex') ? node : node.querySelector('button, a[href], input, textarea, select, [tabindex]')));
  if (target) target.focus({ preventScroll: true });
}

/** @param {HTMLElement} el */
function labelOf(el) {
  return el.getAttribute('aria-label') || el.textContent || '';
}

/** Forgets what `container` showed, so the next reconcile builds every row anew. */
export function forget(container) {
  kept.delete(container);
}
