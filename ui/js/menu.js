// @ts-check
// A popup menu (the WAI-ARIA menu button pattern): opened from a button, it takes focus on
// its first item; ↑/↓ (wrapping), Home and End move, Enter or Space chooses, Esc closes it
// and gives focus back to its button, Tab or a click elsewhere closes it. One menu element
// (#popup-menu) serves every button.

import { h, $ } from './dom.js';

/**
 * @typedef {object} MenuItem
 * @property {string} label
 * @property {() => void} run
 * @property {boolean} [danger]  says so in red (it asks before it acts)
 */

/** @type {HTMLElement|null} the button the open menu belongs to */
let opener = null;

/** Opens the menu of `items` under (or above) `button`. @param {HTMLElement} button @param {MenuItem[]} items */
export function openMenu(button, items) {
  closeMenu(false);
  const menu = $('popup-menu');
  menu.replaceChildren(...items.map((item) => h('button', {
    type: 'button', role: 'menuitem', tabindex: '-1', class: item.danger ? 'danger' : '',
    onclick: () => {
      closeMenu(true);
      item.run();
    },
  }, item.label)));
  opener = button;
  button.setAttribute('aria-expanded', 'true');
  menu.hidden = false;
  place(menu, button);
  /** @type {HTMLElement|null} */ (menu.firstElementChild)?.focus();
}

/** Closes the menu; `refocus` gives focus back to its button. */
export function closeMenu(refocus = false) {
  const menu = $('popup-menu');
  if (menu.hidden) return;
  menu.hidden = true;
  menu.replaceChildren();
  const button = opener;
  opener = null;
  if (!button) return;
  button.setAttribute('aria-expanded', 'false');
  if (refocus && button.isConnected) button.focus();
}

/** Below the button if it fits, else above; never off the screen's sides. */
function place(/** @type {HTMLElement} */ menu, /** @type {HTMLElement} */ button) {
  const at = button.getBoundingClientRect();
  const size = menu.getBoundingClientRect();
  const below = at.bottom + 4 + size.height <= window.innerHeight;
  menu.style.top = `${Math.max(4, below ? at.bottom + 4 : at.top - 4 - size.height)}px`;
  menu.style.left = `${Math.max(4, Math.min(at.right - size.width, window.innerWidth - size.width - 4))}px`;
}

/** Wires the menu's keys and its closing on a click elsewhere, once. */
export function wireMenu() {
  const menu = $('popup-menu');
  menu.addEventListener('keydown', (event) => {
    const items = /** @type {HTMLElement[]} */ ([...menu.querySelectorAll('[role=menuitem]')]);
    const at = items.indexOf(/** @type {HTMLElement} */ (document.activeElement));
    const go = (/** @type {number} */ i) => { event.preventDefault(); items[(i + items.length) % items.length].focus(); };
    if (event.key === 'ArrowDown') go(at + 1);
    else if (event.key === 'ArrowUp') go(at - 1);
    else if (event.key === 'Home') go(0);
    else if (event.key === 'End') go(items.length - 1);
    else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation(); // the menu, not the dialog or view under it
      closeMenu(true);
    } else if (event.key === 'Tab') closeMenu(false);
  });
  document.addEventListener('pointerdown', (event) => {
    const target = /** @type {Node} */ (event.target);
    if (!menu.hidden && !menu.contains(target) && !(opener && opener.contains(target))) closeMenu(false);
  });
  window.addEventListener('resize', () => closeMenu(false));
  // It stays by its button: a scroll under it closes it.
  document.addEventListener('scroll', (event) => { if (event.target !== menu) closeMenu(false); }, true);
}
