// @ts-check
// The desktop start screen: hubs found on the LAN (live), host a chat here, or join by
// address. Served by the app's local node until a hub is chosen; the choice is remembered.

import { api } from './hub.js';
import { h, $ } from './dom.js';

let busy = false;
let current = null; // the hub in use, when switching from the menu
const online = new Map(); // address -> { count, at }
let lastHubs = [];

function setError(message) {
  $('start-error').textContent = message;
}

async function choose(choice, button) {
  if (busy) return;
  busy = true;
  const label = button.textContent;
  button.disabled = true;
  button.textContent = choice.mode === 'host' ? 'Starting…' : 'Connecting…';
  setError('');
  try {
    await api('POST', '/node/choose', { body: choice });
    location.replace('/');
  } catch (err) {
    setError(err.message);
    button.disabled = false;
    button.textContent = label;
    busy = false;
  }
}

function describe(hub) {
  const parts = [hub.host ? `${hub.host.replace(/\.local\.?$/, '')} · ${hub.address}` : hub.address];
  const seen = online.get(hub.address);
  if (seen && seen.count !== null) parts.push(seen.count === 1 ? '1 person online' : `${seen.count} people online`);
  if (hub.saved) parts.push('joined before');
  return parts.join(' · ');
}

function renderHubs(hubs) {
  lastHubs = hubs;
  const list = $('hub-list');
  list.replaceChildren(...hubs.map((hub) => {
    const inUse = current && current.id && hub.id === current.id;
    const button = h('button', { type: 'button', class: inUse ? '' : 'primary' }, inUse ? 'In use' : 'Join');
    if (inUse) button.addEventListener('click', goBack);
    else button.addEventListener('click', () => choose({ mode: 'join', address: hub.address }, button));
    return h('li', { class: 'hub-item' },
      h('div', { class: 'hub-text' },
        h('strong', {}, hub.name),
        h('span', { class: 'muted small' }, describe(hub))),
      button);
  }));
  countOnline(hubs);
  // A chat found on the network is the one to join: hosting another is then the lesser way
  // (a big "Host a chat" invites everyone to start a hub of their own).
  const joinable = hubs.some((hub) => !(current && current.id && hub.id === current.id));
  $('host-button').classList.toggle('primary', !joinable);
  $('host-heading').textContent = joinable ? 'Or host a separate chat here' : 'Host a chat on this computer';
  $('host-note').hidden = !joinable;
  $('hub-empty').hidden = hubs.length > 0;
  if (!hubs.length) $('hub-empty').textContent = 'No chats found on this network yet. You can host one, or join by address.';
}

async function watchHubs() {
  let version = null;
  for (;;) {
    try {
      const query = version === null ? '' : `?since=${version}`;
      const reply = await api('GET', `/node/hubs${query}`);
      version = reply.version;
      const seen = new Set(reply.discovered.map((d) => d.id));
      const saved = reply.saved.filter((s) => !seen.has(s.id)).map((s) => ({ ...s, saved: true }));
      renderHubs([...reply.discovered, ...saved]);
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

/** How many people each listed hub has online (asked at most every 15 s per hub). */
function countOnline(hubs) {
  const now = Date.now();
  for (const hub of hubs) {
    if (!hub.address) continue;
    const seen = online.get(hub.address);
    if (seen && now - seen.at < 15000) continue;
    online.set(hub.address, { count: seen ? seen.count : null, at: now });
    api('POST', '/node/verify', { body: { address: hub.address } })
      .then((reply) => {
        const count = typeof reply.hub.online === 'number' ? reply.hub.online : null;
        online.set(hub.address, { count, at: Date.now() });
        renderHubs(lastHubs);
      })
      .catch(() => {});
  }
}

async function goBack() {
  try {
    await api('POST', '/node/switch', { body: { switching: false } });
  } catch {
    // Nothing to go back to: stay here.
    return;
  }
  location.replace('/');
}

/** Opened from the menu's "Switch hub": offer the way back. */
async function showCurrent() {
  try {
    const node = await api('GET', '/node');
    if (node.mode !== 'joined') return;
    current = node.hub;
  } catch {
    return;
  }
  $('start-title').textContent = 'Switch to another chat';
  $('back-text').textContent = `You are using ${current.name || current.address}.`;
  $('back-row').hidden = false;
  renderHubs(lastHubs);
}

$('back-button').addEventListener('click', goBack);
setInterval(() => countOnline(lastHubs), 15000);
showCurrent();

$('host-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('host-form').name.value.trim();
  choose({ mode: 'host', ...(name ? { name } : {}) }, $('host-button'));
});
$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const address = $('join-form').address.value.trim();
  if (!address) {
    setError('Type the address of the hub, e.g. 192.168.1.20.');
    $('join-form').address.focus();
    return;
  }
  choose({ mode: 'join', address }, $('join-button'));
});
watchHubs();
