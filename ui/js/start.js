// The desktop start screen: hubs found on the LAN (live), host a chat here, or join by
// address. Served by the app's local node until a hub is chosen; the choice is remembered.

import { api } from './hub.js';
import { h } from './dom.js';

const $ = (id) => document.getElementById(id);
let busy = false;

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

function renderHubs(hubs) {
  const list = $('hub-list');
  list.replaceChildren(...hubs.map((hub) => {
    const button = h('button', { type: 'button', class: 'primary' }, 'Join');
    button.addEventListener('click', () => choose({ mode: 'join', address: hub.address }, button));
    return h('li', { class: 'hub-item' },
      h('div', { class: 'hub-text' },
        h('strong', {}, hub.name),
        h('span', { class: 'muted small' }, hub.saved ? `${hub.address} · joined before` : hub.address)),
      button);
  }));
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
