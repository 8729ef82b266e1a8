// @ts-check
// The page's one state and its store: handlers change `state`, then call `changed(topic…)`;
// views subscribe with `on(topic, view)` (store.js). Topics: `me`, `list` (the conversation
// list and the title), `panes` (which of list and chat shows), `head` (the open chat's name
// line), `messages`, `typing`, `uploads`, `info` (the open info dialog), `notify`.

import { newState } from './model.js';
import { createStore, nextFrame } from './store.js';

export const TOKEN_KEY = 'chinwag.token';

export const state = newState();

export const { on, changed, flush } = createStore(nextFrame);

/**
 * Asks the next render of the message list to scroll: to the end, or to keep what is on
 * screen where it is. Requests made before that render add up.
 * @param {import('./model.js').ScrollIntent} intent
 */
export function wantScroll(intent) {
  const was = state.scroll || {};
  state.scroll = {
    bottom: Boolean(was.bottom || intent.bottom),
    isNew: Boolean(was.isNew || intent.isNew),
    keep: intent.keep || was.keep,
    unread: Boolean(was.unread || intent.unread),
  };
  changed('messages');
}
