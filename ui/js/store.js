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
  /** @type {Set<string>} */
  const dirty = new Set();
  let scheduled = false;

  function flush() {
    scheduled = false;
    // A view may change more: that is rendered in the same flush, a few rounds at most.
    for (let round = 0; round < 4 && dirty.size; round += 1) {
      const now = new Set(dirty);
      dirty.clear();
      const ran = new Set();
      for (const { topic, view } of views) {
        if (!now.has(topic) || ran.has(view)) continue;
        ran.add(view);
        view();
      }
    }
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
      for (const topic of topics) dirty.add(topic);
      if (scheduled || !dirty.size) return;
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
