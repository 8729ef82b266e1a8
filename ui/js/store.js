// @ts-check
// The UI's one way from a change to the page: handlers change the state, then say which
// parts of it changed (`changed('list', 'head')`); the views that subscribed to those parts
// (`on('list', renderList)`) run once, together, at the next frame. Nobody calls a view by
// hand, and a busy conversation costs one render per frame, not one per event.

/**
 * @typedef {object} Store
 * @property {(topic: string, view: () => void) => void} on  runs `view` whenever `topic` changed
 * @property {(...topics: string[]) => void} changed  marks topics changed; their views run soon
 * @property {() => void} flush  runs the views of what changed now (before reading the page)
 */

/**
 * A store whose renders are started by `schedule` (given the flush to call).
 * @param {(flush: () => void) => void} schedule
 * @returns {Store}
 */
export function createStore(schedule) {
  /** @type {{topic: string, view: () => void}[]} */
  const views = [];
  /** @type {Map<string, number>} topic -> the index of the view running when it was marked (-1: none) */
  const dirty = new Map();
  let scheduled = false;
  let running = -1;

  /**
   * One pass over the views, in the order they subscribed. A topic marked by a view is
   * rendered in the same pass by the views after it, and left for the next pass only if a
   * view of it had already run.
   */
  function pass() {
    const now = new Set(dirty.keys());
    dirty.clear();
    /** @type {Map<() => void, number>} */
    const ranAt = new Map();
    views.forEach(({ topic, view }, i) => {
      const due = now.has(topic) || (dirty.has(topic) && dirty.get(topic) < i);
      if (!due || ranAt.has(view)) return;
      ranAt.set(view, i);
      running = i;
      try {
        view();
      } finally {
        running = -1;
      }
    });
    for (const [topic, markedAt] of [...dirty]) {
      const seen = views.every((v) => v.topic !== topic || (ranAt.get(v.view) ?? -1) > markedAt);
      if (seen) dirty.delete(topic);
    }
  }

  function flush() {
    scheduled = false;
    // What a view changes is rendered in the same flush, a few passes at most.
    for (let round = 0; round < 4 && dirty.size; round += 1) pass();
    if (dirty.size && !scheduled) {
      scheduled = true;
      schedule(flush);
    }
  }

  return {
    on(topic, view) {
      views.push({ topic, view });
    },
    changed(...topics) {
      for (const topic of topics) dirty.set(topic, running);
      if (scheduled || !dirty.size || running >= 0) return;
      scheduled = true;
      schedule(flush);
    },
    flush,
  };
}

/**
 * The page's scheduler: the next animation frame, or the next task where there are no frames
 * (a hidden page, or a window the system stopped painting).
 * @param {() => void} flush
 */
export function nextFrame(flush) {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    flush();
  };
  if (document.hidden) {
    setTimeout(once, 0);
    return;
  }
  requestAnimationFrame(once);
  setTimeout(once, 250);
}
