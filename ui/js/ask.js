// @ts-check
// Asking before something that cannot be undone, in the UI's own dialog (never the
// browser's confirm(), which the desktop app shows as an unstyled "JavaScript" box).

import { $ } from './dom.js';

/**
 * Asks the person to confirm; resolves true only if they press the button that acts.
 * The dialog is modal (the page behind is inert, so focus stays in it), opens on Cancel
 * (the harmless choice), Esc cancels, and focus goes back where it was.
 * @param {{title: string, text: string, action: string}} what  `action` names the button
 *   for what it does ("Delete message", "Leave group"), never "OK"
 * @returns {Promise<boolean>}
 */
export function confirmAction({ title, text, action }) {
  const dialog = /** @type {HTMLDialogElement} */ ($('confirm-dialog'));
  const back = /** @type {HTMLElement|null} */ (document.activeElement);
  if (dialog.open) dialog.close();
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = action;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'ok');
      if (back && back.isConnected) back.focus();
    }, { once: true });
    dialog.showModal();
    /** @type {HTMLElement} */ ($('confirm-cancel')).focus();
  });
}
