// Harness for the browser tests: the real `chinwag --server` binary on a free loopback port
// with a temporary data directory, and Debian's chromium driven by playwright-core.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const artifacts = path.join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const BINARY = process.env.CHINWAG_BIN || path.join(root, 'target/debug/chinwag');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** A hub process. `restart()` keeps its port and data directory. */
export class Hub {
  /** A hub on a free port; a subclass that changes `args` starts through this too. */
  static async start() {
    const hub = new this(mkdtempSync(path.join(tmpdir(), 'chinwag-e2e-')));
    await hub.spawn('127.0.0.1:0');
    return hub;
  }

  constructor(dir) {
    this.dir = dir;
    this.proc = null;
    this.url = null;
  }

  args(bind) {
    return ['--server', '--bind', bind, '--data-dir', this.dir, '--name', 'Test Office'];
  }

  spawn(bind) {
    return new Promise((resolve, reject) => {
      const proc = spawn(BINARY, this.args(bind), {
        env: { ...process.env, RUST_LOG: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.proc = proc;
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`hub did not start: ${err}`)), 15000);
      proc.stdout.on('data', (chunk) => {
        out += chunk;
        const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
        if (m && !this.url) {
          this.url = m[0];
          this.port = m[1];
        }
        if (m) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.stderr.on('data', (chunk) => { err += chunk; });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        if (!this.url) reject(new Error(`hub exited with ${code}: ${err}`));
      });
    });
  }

  async stop(signal = 'SIGTERM') {
    // A process killed by a signal keeps exitCode null and sets signalCode instead.
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.proc.kill(signal);
    await exited;
  }

  /** Stops the hub and starts it again on the same port and data directory. */
  async restart(signal = 'SIGTERM', downMs = 0) {
    await this.stop(signal);
    if (downMs) await sleep(downMs);
    await this.spawn(`127.0.0.1:${this.port}`);
  }

  async dispose() {
    await this.stop('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A node joined to a hub (`chinwag --join`): serves the UI on loopback and relays to the hub.
 * `restart()` keeps its port and data directory, so the page's origin stays the same.
 */
export class JoinedNode extends Hub {
  static async start(hub) {
    const node = new JoinedNode(mkdtempSync(path.join(tmpdir(), 'chinwag-e2e-node-')));
    node.hubAddress = `127.0.0.1:${hub.port}`;
    await node.spawn('127.0.0.1:0');
    return node;
  }

  args(bind) {
    return ['--join', this.hubAddress, '--bind', bind, '--data-dir', this.dir, '--no-mdns'];
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

export const DESKTOP = { width: 1200, height: 800 };
export const PHONE = { width: 360, height: 740 };

/** A person in their own browser context (own storage), on the hub's page. */
export async function person(browser, hub, { viewport = DESKTOP, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(String(err)));
  // Chromium logs refused connections itself while a test has the hub down; those are
  // expected. Anything else logged as an error, and every uncaught exception, fails the test.
  const networkNoise = /^(WebSocket connection to .* failed|Failed to load resource: )/;
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !networkNoise.test(msg.text())) page.errors.push(msg.text());
  });
  // The page asks in its own dialog (confirm-dialog): a browser alert, confirm or prompt is
  // a leftover or injected script, and fails the test (withHub checks dialogsSeen).
  page.dialogsSeen = [];
  page.on('dialog', (dialog) => {
    page.dialogsSeen.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss();
  });
  await page.goto(hub.url);
  return page;
}

/**
 * Answers the page's own confirmation dialog: checks it asks `title`, then presses the
 * button named `action` (or Cancel). Returns the text it showed.
 */
export async function answerConfirm(page, title, action) {
  await page.waitForFunction(() => document.getElementById('confirm-dialog').open);
  const dialog = page.getByRole('alertdialog', { name: title });
  const text = await dialog.locator('#confirm-text').textContent();
  await dialog.getByRole('button', { name: action, exact: true }).click();
  await page.waitForFunction(() => !document.getElementById('confirm-dialog').open);
  return text;
}

/** Chooses `action` from a message's menu (its ⋯ "More actions" button), as a mouse does. */
export async function messageMenu(page, message, action) {
  await message.hover();
  await message.getByRole('button', { name: 'More actions' }).click();
  await page.locator('#popup-menu').getByRole('menuitem', { name: action, exact: true }).click();
}

/** What a message's menu offers (the menu is closed again with Esc). */
export async function menuOf(page, message) {
  await message.hover();
  await message.getByRole('button', { name: 'More actions' }).click();
  const items = await page.locator('#popup-menu [role=menuitem]').allTextContents();
  await page.keyboard.press('Escape');
  return items;
}

/** No script errors, and no browser alert, confirm or prompt (the page asks in its own dialog). */
export function assertClean(page) {
  assert.deepEqual(page.errors, [], 'no script errors on the page');
  assert.deepEqual(page.dialogsSeen, [], 'no browser alert, confirm or prompt');
}

/**
 * One test's hub (a fresh `kind`, Hub unless said) and its pages: `fn(hub, open)`, where
 * `open(options)` is a new person's page; each page must end clean; all is removed after.
 */
export async function hubTest(browser, fn, kind = Hub) {
  const hub = await kind.start();
  const pages = [];
  const open = async (opts) => { const p = await person(browser, hub, opts); pages.push(p); return p; };
  try {
    await fn(hub, open);
    for (const p of pages) assertClean(p);
  } finally {
    for (const p of pages) await p.context().close();
    await hub.dispose();
  }
}

export async function register(page, username, displayName = username, { joinCode = null } = {}) {
  await page.click('#tab-register');
  await page.fill('#auth-form input[name=username]', username);
  await page.fill('#auth-form input[name=display_name]', displayName);
  await page.fill('#auth-form input[name=password]', `${username}-password`);
  if (joinCode) await page.fill('#auth-form input[name=join_code]', joinCode);
  await page.click('#auth-submit');
  await page.waitForSelector('#app-screen:not([hidden])');
}

/** Opens the conversation whose list entry has this name. */
export async function openConversation(page, name) {
  await page.locator('#conversation-list button', { has: page.locator('.conv-name', { hasText: name }) }).first().click();
  await page.waitForFunction((n) => document.getElementById('chat-name').textContent.includes(n), name);
}

export async function startDirect(page, displayName) {
  await page.click('#new-direct');
  await page.locator('#directory-list button', { hasText: displayName }).click();
  await page.waitForFunction((n) => document.getElementById('chat-name').textContent === n, displayName);
}

/** Creates a group from the UI and waits until it is open. */
export async function createGroup(page, name, memberNames) {
  await page.click('#new-group');
  await page.fill('#group-form input[name=name]', name);
  for (const member of memberNames) await page.locator('#group-members label', { hasText: member }).click();
  await page.click('#group-form button[type=submit]');
  await page.waitForFunction((n) => document.getElementById('chat-name').textContent === n, name);
}

export async function send(page, text) {
  await page.fill('#composer-input', text);
  await page.press('#composer-input', 'Enter');
}

/** Bodies of the messages shown, in order. */
export async function bodies(page) {
  return page.$$eval('#messages .msg .bubble', (els) => els.map((e) => e.textContent));
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`) });
}
