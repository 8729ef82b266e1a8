// The real desktop window, driven over WebDriver: tauri-driver + Debian's WebKitWebDriver,
// under Xvfb, in a private network namespace (run by tests/desktop/run). First launch shows
// the start screen; "Host" starts a hub; registering and sending shows the message; a second
// client's message (REST, straight to the hub) appears; a relaunch goes straight to the chat.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const artifacts = path.join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
const DRIVER = process.env.TAURI_DRIVER_URL || 'http://127.0.0.1:4444';
const APP = process.env.CHINWAG_APP;
const HUB = 'http://127.0.0.1:7117/api/v1';
const ELEMENT = 'element-6066-11e4-a23f-4a2bce9e1fa2';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function wd(method, url, body) {
  const res = await fetch(`${DRIVER}${url}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json.value || json)}`);
  return json.value;
}

class Window {
  static async open() {
    // tauri-driver listens before WebKitWebDriver does: retry the first session.
    let last;
    for (let i = 0; i < 60; i += 1) {
      try {
        const value = await wd('POST', '/session', {
          capabilities: { alwaysMatch: { browserName: 'wry', 'tauri:options': { application: APP } } },
        });
        return new Window(value.sessionId);
      } catch (err) {
        last = err;
        await sleep(500);
      }
    }
    throw last;
  }

  constructor(id) { this.id = id; }

  s(url) { return `/session/${this.id}${url}`; }

  async find(css, timeout = 20000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        const el = await wd('POST', this.s('/element'), { using: 'css selector', value: css });
        const id = el[ELEMENT] || el.ELEMENT || Object.values(el)[0];
        if (!id) throw new Error(`odd element reply ${JSON.stringify(el)}`);
        return id;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`no element ${css}: ${err.message}`);
        await sleep(200);
      }
    }
  }

  async run(script, args = []) {
    return wd('POST', this.s('/execute/sync'), { script, args });
  }

  /** Waits until `script` (a function body returning a boolean) is true in the page. */
  async until(what, script, timeout = 20000) {
    const deadline = Date.now() + timeout;
    for (;;) {
      try {
        if (await this.run(script)) return;
      } catch {
        // the page may be navigating
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  }

  async type(css, text) {
    const el = await this.find(css);
    await wd('POST', this.s(`/element/${el}/clear`), {});
    await wd('POST', this.s(`/element/${el}/value`), { text });
  }

  async click(css) {
    const el = await this.find(css);
    await wd('POST', this.s(`/element/${el}/click`), {});
  }

  async screenshot(name) {
    const png = await wd('GET', this.s('/screenshot'));
    writeFileSync(path.join(artifacts, `${name}.png`), Buffer.from(png, 'base64'));
  }

  async close() {
    await wd('DELETE', this.s('')).catch(() => {});
  }
}

async function rest(method, url, token, body) {
  const res = await fetch(`${HUB}${url}`, {
    method,
    headers: {
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const bubbles = 'return [...document.querySelectorAll("#messages .bubble")].map((b) => b.textContent)';

test('first launch: host a chat, register, chat with a second client; relaunch goes straight in', async () => {
  let win = await Window.open();
  try {
    await win.find('#host-button');
    await win.until('the start screen', 'return document.title.includes("Start")');
    await win.screenshot('desktop-start');
    await win.type('#host-form input[name=name]', 'Desk Test');
    await win.click('#host-button');
    await win.until('the sign-in screen', 'return !document.getElementById("auth-screen").hidden');
    await win.until('the hub name', 'return document.getElementById("hub-name").textContent === "Desk Test"');

    await win.click('#tab-register');
    await win.type('#auth-form input[name=username]', 'dana');
    await win.type('#auth-form input[name=display_name]', 'Dana Desk');
    await win.type('#auth-form input[name=password]', 'dana-password');
    await win.click('#auth-submit');
    await win.until('the chat', 'return !document.getElementById("app-screen").hidden');

    // A colleague without the app, straight on the hub this window hosts.
    const eve = await rest('POST', '/auth/register', null, { username: 'eve', password: 'eve-password', display_name: 'Eve' });
    assert.equal(eve.status, 201, JSON.stringify(eve.body));
    const convs = await rest('GET', '/conversations', eve.body.token);
    const general = convs.body.find((c) => c.kind === 'general');

    await win.run('document.querySelector("#conversation-list button").click()');
    await win.until('# general open', 'return document.getElementById("chat-name").textContent.includes("general")');
    await win.type('#composer-input', 'Hello from the desktop app\uE007');
    await win.until('my message shown', `${bubbles}.includes("Hello from the desktop app")`);
    const sent = await rest('POST', `/conversations/${general.id}/messages`, eve.body.token, { client_id: 'eve-1', body: 'Hi Dana, from a browser' });
    assert.equal(sent.status, 201);
    await win.until("Eve's message shown", `${bubbles}.includes("Hi Dana, from a browser")`);
    const history = await rest('GET', `/conversations/${general.id}/messages`, eve.body.token);
    assert.deepEqual(history.body.messages.map((m) => m.body), ['Hello from the desktop app', 'Hi Dana, from a browser']);
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
