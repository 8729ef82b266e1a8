// What the desktop tests and the desktop benchmark share: the WebDriver client (tauri-driver
// + WebKitWebDriver, started by tests/desktop/run), a `Window` of the real app, and REST calls
// to the hub it hosts.

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const artifacts = path.join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });
export const DRIVER = process.env.TAURI_DRIVER_URL || 'http://127.0.0.1:4444';
export const APP = process.env.CHINWAG_APP;
export const HUB = 'http://127.0.0.1:7117/api/v1';
const ELEMENT = 'element-6066-11e4-a23f-4a2bce9e1fa2';

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function wd(method, url, body) {
  // Bounded: a WebDriver call that never answers (the app gone under it) fails the call, so
  // a retry or the test's own error follows instead of a test that hangs.
  const res = await fetch(`${DRIVER}${url}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(method === 'DELETE' ? 10000 : 60000),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${JSON.stringify(json.value || json)}`);
  return json.value;
}

export class Window {
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

  /** On the start screen: hosts a hub named `name` here, up to its sign-in screen. */
  async host(name) {
    await this.type('#host-form input[name=name]', name);
    await this.click('#host-button');
    await this.until('the sign-in screen', 'return !document.getElementById("auth-screen").hidden');
  }

  /** On the sign-in screen: registers, up to the chat. */
  async register(username, displayName) {
    await this.click('#tab-register');
    await this.type('#auth-form input[name=username]', username);
    await this.type('#auth-form input[name=display_name]', displayName);
    await this.type('#auth-form input[name=password]', `${username}-password`);
    await this.click('#auth-submit');
    await this.until('the chat', 'return !document.getElementById("app-screen").hidden');
  }

  async close() {
    await wd('DELETE', this.s('')).catch(() => {});
  }
}

export async function rest(method, url, token, body, base = HUB) {
  const res = await fetch(`${base}${url}`, {
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

