// The real desktop window, driven over WebDriver: tauri-driver + Debian's WebKitWebDriver,
// under Xvfb, in a private network namespace (run by tests/desktop/run). First launch shows
// the start screen; "Host" starts a hub; registering and sending shows the message; a second
// client's message (REST, straight to the hub) appears; a relaunch goes straight to the chat.
// Then notifications, as the user gets them: a stand-in notification service on the test's
// D-Bus session (chinwag-notify-spy) logs each one and clicks one on request; xdotool gives
// the window keyboard focus and presses Ctrl+W to close it to the tray.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { APP, Window, rest, sleep } from './driver.mjs';

const bubbles = 'return [...document.querySelectorAll("#messages .bubble")].map((b) => b.textContent)';

test('first launch: host a chat, register, chat with a second client; relaunch goes straight in', async () => {
  let win = await Window.open();
  try {
    await win.find('#host-button');
    await win.until('the start screen', 'return document.title.includes("Start")');
    await win.screenshot('desktop-start');
    await win.host('Desk Test');
    await win.until('the hub name', 'return document.getElementById("hub-name").textContent === "Desk Test"');
    await win.register('dana', 'Dana Desk');

    // A colleague without the app, straight on the hub this window hosts.
    const eve = await rest('POST', '/auth/register', null, { username: 'eve', password: 'eve-password', display_name: 'Eve' });
    assert.equal(eve.status, 201, JSON.stringify(eve.body));
    const convs = await rest('GET', '/conversations', eve.body.token);
    const general = convs.body.find((c) => c.kind === 'general');

    await win.run('document.querySelector("#conversation-list button").click()');
    await win.until('# general open', 'return document.getElementById("chat-name").textContent.includes("general")');
    // Dana hosts it and is its admin: # general invites colleagues with the LAN address (not
    // the loopback one the window talks to) and a QR code.
    await win.until('the invite panel', 'return !document.getElementById("invite").hidden');
    const handed = await win.run('return [...document.querySelectorAll("#invite-addresses input")].map((i) => i.value)');
    assert.ok(handed.every((a) => !a.includes('127.0.0.1')), `no loopback address to hand out: ${handed}`);
    if (process.env.CHINWAG_TEST_LAN) {
      assert.ok(handed.includes(`http://${process.env.CHINWAG_TEST_LAN}:7117/`), `the LAN address: ${handed}`);
      await win.until('its QR code', 'return document.querySelector("#invite-qr svg path") !== null');
    }
    await win.screenshot('desktop-invite');
    await win.type('#composer-input', 'Hello from the desktop app\uE007');
    await win.until('my message shown', `${bubbles}.includes("Hello from the desktop app")`);
    // Delete asks in the page's own dialog (not WebKit's "JavaScript" box); Cancel keeps it.
    await win.until('sent', 'return document.querySelector("#messages .msg.mine:not(.pending)") !== null');
    await win.run(`const m = document.querySelector('#messages .msg.mine'); m.focus(); m.querySelector('.more').click();
      [...document.querySelectorAll('#popup-menu [role=menuitem]')].find((b) => b.textContent === 'Delete message').click();`);
    await win.until('the in-app dialog', 'return document.getElementById("confirm-dialog").open');
    assert.equal(await win.run('return document.getElementById("confirm-ok").textContent'), 'Delete message');
    await win.screenshot('desktop-confirm-delete');
    await win.click('#confirm-cancel');
    await win.until('closed', 'return !document.getElementById("confirm-dialog").open');
    assert.ok((await win.run(bubbles)).includes('Hello from the desktop app'), 'Cancel deleted nothing');
    const sent = await rest('POST', `/conversations/${general.id}/messages`, eve.body.token, { client_id: 'eve-1', body: 'Hi Dana, from a browser' });
    assert.equal(sent.status, 201);
    await win.until("Eve's message shown", `${bubbles}.includes("Hi Dana, from a browser")`);
    const history = await rest('GET', `/conversations/${general.id}/messages`, eve.body.token);
    // Both, once each (in the hub's order, which may put Eve's first: the window shows its own
    // message before the hub has acknowledged it).
    assert.deepEqual(history.body.messages.map((m) => m.body).sort(), ['Hello from the desktop app', 'Hi Dana, from a browser']);

    // A picture dropped on the window goes up through the app's node and shows inline.
    await win.run(`
      const c = document.createElement('canvas');
      c.width = 640;
      c.height = 360;
      const g = c.getContext('2d');
      g.fillStyle = '#4f46e5';
      g.fillRect(0, 0, 640, 360);
      const bin = atob(c.toDataURL('image/png').split(',')[1]);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i += 1) bytes[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'desk.png', { type: 'image/png' }));
      document.getElementById('chat').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));`);
    await win.until('the picture inline', `
      const img = document.querySelector('#messages .msg.mine:not(.pending) .thumb img');
      return !!img && img.complete && img.naturalWidth === 320;`);
    const after = await rest('GET', `/conversations/${general.id}/messages`, eve.body.token);
    const picture = after.body.messages.at(-1).attachments[0];
    assert.equal(picture.name, 'desk.png');
    assert.deepEqual(picture.image, { width: 640, height: 360 });
    await win.screenshot('desktop-chat');
  } finally {
    await win.close();
  }

  // Second launch: the choice is remembered, the session too.
  await sleep(1000);
  win = await Window.open();
  try {
    await win.until('straight into the chat', 'return !document.getElementById("app-screen").hidden', 30000);
    await win.until('history', `return document.querySelectorAll("#conversation-list button").length > 0`);
    await win.screenshot('desktop-relaunch');
  } finally {
    await win.close();
  }
});

// ------------------------------------------------------------------ notifications

const NOTIFY_LOG = process.env.CHINWAG_NOTIFY_LOG;
const NOTIFY_CTL = process.env.CHINWAG_NOTIFY_CTL;

function notifications() {
  return readFileSync(NOTIFY_LOG, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((n) => n.summary !== undefined);
}

async function notification(what, match, timeout = 20000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const found = notifications().find(match);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no notification for ${what}; got ${JSON.stringify(notifications())}`);
    }
    await sleep(200);
  }
}

function xdotool(...args) {
  try {
    return execFileSync('xdotool', args, { encoding: 'utf8' }).trim();
  } catch (err) {
    if (err.status === 1 && args[0] === 'search') return '';
    throw err;
  }
}

const visibleWindows = () => xdotool('search', '--onlyvisible', '--name', '^Chinwag$').split('\n').filter(Boolean);

/** Gives the app's window the keyboard focus, as clicking on it would. */
async function focus(win) {
  const deadline = Date.now() + 20000;
  for (;;) {
    for (const id of visibleWindows()) xdotool('windowfocus', '--sync', id);
    if (await win.run('return document.hasFocus()').catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('the window never got the focus');
    await sleep(300);
  }
}

async function userId(token, username) {
  const users = await rest('GET', '/users', token);
  return users.body.find((u) => u.username === username).id;
}

async function directWith(instance, token, userIdOfPeer) {
  const conv = await instance.call('POST', '/conversations/direct', token, { user_id: userIdOfPeer });
  assert.ok(conv.status === 200 || conv.status === 201, JSON.stringify(conv.body));
  return conv.body.id;
}

let sent = 0;
/** A browser user, straight on the hub. */
const onHub = { call: (method, url, token, body) => rest(method, url, token, body) };

async function sayVia(instance, token, conv, body) {
  sent += 1;
  const r = await instance.call('POST', `/conversations/${conv}/messages`, token, { client_id: `n-${sent}`, body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
}

const chatName = 'return document.getElementById("chat-name").textContent';

/**
 * A colleague on a second Chinwag instance, joined to the hub this window hosts
 * (`chinwag --join`, its node on 127.0.0.1:7119): they talk through it.
 */
async function secondInstance() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'chinwag-colleague-'));
  const child = spawn(APP, ['--join', '127.0.0.1:7117', '--bind', '127.0.0.1:7119', '--data-dir', dir, '--no-mdns'],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const base = 'http://127.0.0.1:7119/api/v1';
  const deadline = Date.now() + 20000;
  for (;;) {
    try {
      const r = await fetch(`${base}/node`);
      if (r.ok && (await r.json()).mode === 'joined') break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the second instance did not start');
    await sleep(200);
  }
  const call = (method, url, token, body) => rest(method, url, token, body, base);
  return { child, call };
}

test('notifications: none for the focused conversation; close to tray, notified, click lands in the conversation; mute and previews', async () => {
  const win = await Window.open();
  let colleague;
  try {
    // The app hosts the hub: it is up once the window shows the chat.
    await win.until('the chat', 'return !document.getElementById("app-screen").hidden', 30000);
    colleague = await secondInstance();
    const eve = await colleague.call('POST', '/auth/login', null, { username: 'eve', password: 'eve-password' });
    assert.equal(eve.status, 200, JSON.stringify(eve.body));
    const finn = await rest('POST', '/auth/register', null, { username: 'finn', password: 'finn-password', display_name: 'Finn' });
    assert.equal(finn.status, 201, JSON.stringify(finn.body));
    const dana = await userId(finn.body.token, 'dana');
    const convs = await colleague.call('GET', '/conversations', eve.body.token);
    const general = convs.body.find((c) => c.kind === 'general').id;
    const eveDirect = await directWith(colleague, eve.body.token, dana);
    const finnDirect = await directWith(onHub, finn.body.token, dana);

    await win.until('# general in the list', `return !!document.querySelector('[data-conv="${general}"]')`);
    await win.run(`document.querySelector('[data-conv="${general}"]').click()`);
    await win.until('# general open', `return ${chatName.slice(7)}.includes("general")`);

    // 1. Looking at # general, window focused: a message there does not notify; one
    // elsewhere does (its arrival also proves the first was considered and skipped).
    await focus(win);
    // The page has told the app it shows # general in a focused window.
    await win.until('the app knows what is on screen', `
      const xhr = new XMLHttpRequest();
      xhr.open('GET', '/api/v1/node', false);
      xhr.send();
      const view = JSON.parse(xhr.responseText).view;
      return view.focused === true && view.conversation_id === ${general};`);
    await sayVia(colleague, eve.body.token, general, 'focused one');
    await win.until('it shows', `${bubbles}.includes("focused one")`);
    await sayVia(onHub, finn.body.token, finnDirect, 'control one');
    const control = await notification('control one', (n) => n.body === 'control one');
    assert.equal(control.summary, 'Finn');
    assert.equal(control.app, 'Chinwag');
    assert.deepEqual(control.actions.slice(0, 1), ['default']);
    assert.ok(!notifications().some((n) => n.body === 'focused one'), 'no notification for the focused conversation');

    // 2. Close the window (Ctrl+W): it goes to the tray and the app stays connected.
    xdotool('key', '--clearmodifiers', 'ctrl+w');
    const deadline = Date.now() + 10000;
    while (visibleWindows().length) {
      if (Date.now() > deadline) throw new Error('the window did not close to the tray');
      await sleep(200);
    }
    await sayVia(colleague, eve.body.token, general, 'while you were away');
    const inGeneral = await notification('a # general message', (n) => n.body === 'while you were away');
    assert.equal(inGeneral.summary, 'Eve in # general');
    await sayVia(colleague, eve.body.token, eveDirect, 'Are you there?');
    const direct = await notification('the direct message', (n) => n.body === 'Are you there?');
    assert.equal(direct.summary, 'Eve');

    // The window's place was kept when it closed.
    const kept = JSON.parse(readFileSync(path.join(process.env.CHINWAG_DATA_DIR, 'window.json'), 'utf8'));
    assert.ok(kept.width >= 360 && kept.height >= 480, JSON.stringify(kept));

    // 3. Click it: the window comes back showing that conversation.
    appendFileSync(NOTIFY_CTL, `click ${direct.id}\n`);
    await win.until('the window back on the direct chat', `return ${chatName.slice(7)} === "Eve"`);
    await win.until('the message', `${bubbles}.includes("Are you there?")`);
    assert.ok(visibleWindows().length > 0, 'the window is shown again');
    await win.screenshot('desktop-notification-clicked');

    // 4. Mute this conversation (details dialog; the mute is kept on the hub and the node
    // follows it): its messages stop notifying.
    await win.click('#chat-info');
    await win.until('the mute switch', 'return !document.getElementById("conv-mute-row").hidden');
    await win.click('#conv-mute');
    await win.until('saved', 'return document.getElementById("notify-saved").textContent === "Saved."'
      + ' || document.querySelector(".conv-muted") !== null');
    await win.run('document.getElementById("info-dialog").close()');
    await win.until('the muted mark', `return !!document.querySelector('[data-conv="${eveDirect}"] .conv-muted')`);
    await win.run(`document.querySelector('[data-conv="${general}"]').click()`);
    await sayVia(colleague, eve.body.token, eveDirect, 'muted one');
    await sayVia(onHub, finn.body.token, finnDirect, 'control two');
    await notification('control two', (n) => n.body === 'control two');
    assert.ok(!notifications().some((n) => n.body === 'muted one'), 'no notification for a muted conversation');

    // 4b. Direct messages and @mentions only: a mention of me in # general notifies (the hub
    // recorded it on the message), a message there without one does not.
    await win.click('#me-button');
    await win.until('notification settings', 'return !document.getElementById("notify-settings").hidden');
    await win.run(`document.getElementById("notify-saved").textContent = "";
      const level = document.getElementById("notify-level");
      level.value = "direct_and_mentions";
      level.dispatchEvent(new Event("change"));`);
    await win.until('saved', 'return document.getElementById("notify-saved").textContent === "Saved."');
    await win.run('document.getElementById("profile-dialog").close()');
    await win.run(`document.querySelector('[data-conv="${finnDirect}"]').click()`); // general out of view
    await sayVia(colleague, eve.body.token, general, 'lunch, anyone?');
    await sayVia(colleague, eve.body.token, general, '@dana lunch?');
    const mention = await notification('a mention of me', (n) => n.body === '@dana lunch?');
    assert.equal(mention.summary, 'Eve in # general');
    assert.ok(!notifications().some((n) => n.body === 'lunch, anyone?'), 'no notification without a mention');
    await win.run(`document.querySelector('[data-conv="${general}"]').click()`);

    // 5. Previews off (profile dialog): who and where, not what.
    await win.click('#me-button');
    await win.until('notification settings', 'return !document.getElementById("notify-settings").hidden');
    await win.click('#notify-previews');
    await win.until('saved', 'return document.getElementById("notify-saved").textContent === "Saved."');
    await win.screenshot('desktop-notification-settings');
    await win.run('document.getElementById("profile-dialog").close()');
    await sayVia(onHub, finn.body.token, finnDirect, 'the secret plan');
    const hidden = await notification('a message with previews off', (n) => n.summary === 'Finn' && n.body === 'New message');
    assert.ok(hidden);
    assert.ok(!notifications().some((n) => n.body.includes('secret')), 'no message text with previews off');

    // 6. Switch hub (the menu's item does this): the start screen offers the way back.
    await win.run('fetch("/api/v1/node/switch", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({switching: true})}).then(() => location.assign("/"))');
    await win.until('the start screen, switching', 'return !!document.getElementById("back-row") && !document.getElementById("back-row").hidden');
    await win.until('the current hub marked', 'return document.getElementById("back-text").textContent.includes("Desk Test")');
    await win.screenshot('desktop-switch-hub');
    await win.click('#back-button');
    await win.until('back in the chat', 'return !document.getElementById("app-screen").hidden', 30000);
  } finally {
    if (colleague) colleague.child.kill('SIGTERM');
    await win.close();
  }
});

test('window size is remembered across launches; SIGTERM quits cleanly', async () => {
  let win = await Window.open();
  let id;
  try {
    await win.until('the chat', 'return !document.getElementById("app-screen").hidden', 30000);
    [id] = visibleWindows();
    xdotool('windowsize', '--sync', id, '900', '640');
    await sleep(500);
    const pid = Number(xdotool('getwindowpid', id));
    assert.ok(pid > 0);
    // SIGTERM (logout, systemd): the app quits as from its menu, keeping the window's place.
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 15000;
    for (;;) {
      let alive = true;
      try {
        process.kill(pid, 0);
        alive = !readFileSync(`/proc/${pid}/stat`, 'utf8').split(' ')[2].startsWith('Z');
      } catch {
        alive = false;
      }
      if (!alive) break;
      if (Date.now() > deadline) throw new Error('the app did not quit on SIGTERM');
      await sleep(200);
    }
  } finally {
    await win.close();
  }
  const kept = JSON.parse(readFileSync(path.join(process.env.CHINWAG_DATA_DIR, 'window.json'), 'utf8'));
  assert.equal(Math.round(kept.width), 900, JSON.stringify(kept));

  await sleep(500);
  win = await Window.open();
  try {
    await win.until('the chat', 'return !document.getElementById("app-screen").hidden', 30000);
    [id] = visibleWindows();
    const geometry = xdotool('getwindowgeometry', id);
    const [, w, h] = geometry.match(/Geometry: (\d+)x(\d+)/).map(Number);
    assert.ok(Math.abs(w - 900) <= 2, geometry);
    assert.ok(Math.abs(h - 640) <= 60, geometry);
  } finally {
    await win.close();
  }
});
