// @ts-check
// Inviting colleagues: a panel in # general for the hub's admin with the addresses people
// open (each to copy, and as a QR code for phones), the join code if the hub has one, and
// that the Chinwag app finds the chat on the network by itself. Shown until the admin says
// Done (kept per hub on this device); the Administration dialog brings it back.

import { encode } from '../vendor/uqr.mjs';
import { h, svg, $ } from './dom.js';
import { state, on, changed } from './state.js';
import { call } from './session.js';
import { announce } from './notice.js';

/** The key that remembers, on this device, that the admin closed the panel for this hub. */
const doneKey = () => `chinwag.invite-done.${state.hub ? state.hub.id : ''}`;

/** @type {string|null|undefined} the join code (undefined: not asked yet) */
let joinCode;
/** @type {string} the address the QR code shows */
let chosen = '';

/** Whether the panel shows: in # general, for a hub admin, until Done. */
function wanted() {
  const conv = state.convs.get(state.active);
  if (!conv || conv.kind !== 'general' || !state.me || !state.me.is_admin) return false;
  try {
    return localStorage.getItem(doneKey()) !== '1';
  } catch {
    return true;
  }
}

/**
 * A QR code of `text` as an SVG: one path of dark modules on a light square with its quiet
 * zone (scanners need the margin, and light behind the dark in either theme).
 * @param {string} text
 */
export function qrSvg(text) {
  const { data, size } = encode(text, { ecc: 'M', border: 2 });
  let d = '';
  data.forEach((row, y) => row.forEach((dark, x) => { if (dark) d += `M${x} ${y}h1v1h-1z`; }));
  return svg('svg', { viewBox: `0 0 ${size} ${size}`, 'shape-rendering': 'crispEdges' },
    svg('rect', { width: size, height: size, fill: '#fff' }),
    svg('path', { d, fill: '#000' }));
}

/** Copies `text`; where the page may not (plain http), selects it for Ctrl+C instead. */
async function copy(/** @type {string} */ text, /** @type {HTMLInputElement} */ box) {
  try {
    await navigator.clipboard.writeText(text);
    announce(`Copied ${text}`);
    $('invite-status').textContent = `Copied ${text}`;
  } catch {
    box.focus();
    box.select();
    $('invite-status').textContent = 'Selected: press Ctrl+C to copy it.';
  }
}

function render() {
  const panel = $('invite');
  const show = wanted();
  panel.hidden = !show;
  if (!show) return;
  const addresses = (state.hub && state.hub.addresses) || [];
  if (!addresses.includes(chosen)) chosen = addresses[0] || '';
  $('invite-addresses').replaceChildren(...addresses.map((address) => {
    const box = /** @type {HTMLInputElement} */ (h('input', { type: 'text', readonly: true, value: address, 'aria-label': 'Address', class: 'invite-address' }));
    return h('li', {},
      box,
      h('button', { type: 'button', onclick: () => copy(address, box), 'aria-label': `Copy ${address}` }, 'Copy'),
      addresses.length > 1
        ? h('button', { type: 'button', 'aria-pressed': String(address === chosen), onclick: () => { chosen = address; render(); }, 'aria-label': `Show the QR code for ${address}` }, 'QR')
        : null);
  }));
  $('invite-none').hidden = addresses.length > 0;
  $('invite-how').hidden = addresses.length === 0; // no address to open: only the note says why
  const qr = $('invite-qr');
  qr.hidden = !chosen;
  if (chosen && qr.dataset.text !== chosen) {
    qr.replaceChildren(qrSvg(chosen));
    qr.dataset.text = chosen;
    qr.setAttribute('aria-label', `QR code for ${chosen}: scan it with a phone to open the chat`);
  }
  if (joinCode === undefined && state.hub && state.hub.join_code_required) {
    joinCode = null;
    call('GET', '/admin/stats').then((stats) => { joinCode = stats.join_code || null; render(); }, () => {});
  }
  const code = $('invite-code');
  code.hidden = !(state.hub && state.hub.join_code_required);
  $('invite-code-value').textContent = joinCode || '…';
}

/** Shows the panel again (the Administration dialog's "Invite people"). */
export function showInvite() {
  try {
    localStorage.removeItem(doneKey());
  } catch {
    // Shown until the page goes.
  }
  changed('invite');
}

export function wireInvite() {
  on('invite', render);
  on('head', render); // the conversation changed
  $('invite-done').addEventListener('click', () => {
    try {
      localStorage.setItem(doneKey(), '1');
    } catch {
      // Not kept: it comes back next time.
    }
    $('invite').hidden = true;
    $('composer-input').focus();
  });
}
