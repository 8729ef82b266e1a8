// Accessibility of every main view, checked by axe-core (npm, injected into the real page),
// in light and dark, at desktop and phone width: no serious or critical violation anywhere.
// Screenshots of each view go to tests/e2e/artifacts/a11y-*.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { crc32, deflateSync } from 'node:zlib';
import {
  Hub, launch, register, startDirect, openConversation, createGroup, send, shot, messageMenu, hubTest,
  DESKTOP, PHONE,
} from './harness.mjs';

const axeSource = createRequire(import.meta.url)('axe-core').source;

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

/** A PNG of `w`×`h` (a two-colour gradient): a picture message, its thumbnail and the viewer. */
function png(w, h) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(body.length + 8);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), body.length + 4);
    return out;
  };
  const head = Buffer.alloc(13);
  head.writeUInt32BE(w, 0);
  head.writeUInt32BE(h, 4);
  head.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y += 1) {
    for (let x = 0; x < w; x += 1) rows.set([79 + (x * 170) / w, 70, 229 - (y * 200) / h], y * (w * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', head), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

/**
 * Runs axe on the page as it is now; returns the serious and critical violations, each
 * with the elements it names, and logs every violation (the moderate ones too).
 */
async function audit(page, view) {
  await page.evaluate(() => document.fonts.ready);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${n.failureSummary.split('\n').slice(1, 2).join('')}`),
    }));
  });
  for (const v of violations) console.log(`axe ${view}: ${v.impact} ${v.id} (${v.help}) ${JSON.stringify(v.nodes)}`);
  await shot(page, `a11y-${view}`);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({ view, ...v }));
}

/** Opens a dialog with `open`, audits it, closes it (Esc unless `close` says otherwise). */
async function auditDialog(page, view, id, open, close = () => page.keyboard.press('Escape')) {
  await open();
  await page.waitForFunction((d) => document.getElementById(d).open, id);
  const found = await audit(page, view);
  await close();
  await page.waitForFunction((d) => !document.getElementById(d).open, id);
  return found;
}

/** The message whose text is `text`, with its actions shown. */
async function messageWith(page, text) {
  const msg = page.locator('#messages .msg', { has: page.locator('.bubble', { hasText: text }) }).last();
  await msg.hover();
  return msg;
}

async function signIn(page, username) {
  await page.fill('#auth-form input[name=username]', username);
  await page.fill('#auth-form input[name=password]', `${username}-password`);
  await page.click('#auth-submit');
  await page.waitForSelector('#app-screen:not([hidden])');
}

test('axe finds no serious or critical violation on any main view, light and dark, desktop and phone', async () => {
  await hubTest(browser, async (hub, open) => {
    // Alice (the hub's admin), Bob and Carol, with something in each view to look at.
    const alice = await open();
    await register(alice, 'alice', 'Alice Archer');
    const bob = await open();
    await register(bob, 'bob', 'Bob Baker');
    const carol = await open();
    await register(carol, 'carol', 'Carol Cho');
    // The app draws in animation frames, which only the page in front gets.
    await bob.bringToFront();
    await startDirect(bob, 'Alice Archer');
    await send(bob, 'Morning! The **draft** is in `reports/q3.md`:\n- figures\n- charts');
    await bob.setInputFiles('#file-input', [
      { name: 'chart.png', mimeType: 'image/png', buffer: png(400, 240) },
      { name: 'Quarterly review.pptx', mimeType: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', buffer: Buffer.from('slides') },
    ]);
    await bob.waitForFunction(() => document.querySelectorAll('#messages .msg:not(.pending) :is(.thumb img, .file-card)').length >= 2);
    // An Office file's card: its family's icon, a friendly type, the name cut in the middle
    // (the whole on hover), and Download beside it, not under it.
    const card = await bob.evaluate(() => {
      const el = document.querySelector('#messages .file-card');
      const box = (sel) => el.querySelector(sel).getBoundingClientRect();
      return {
        family: el.dataset.family, ext: el.querySelector('.type .ext').textContent, icon: el.querySelector('.type svg') !== null,
        facts: el.querySelector('.facts').textContent, title: el.querySelector('.name').title, end: el.querySelector('.name .end').textContent,
        sideBySide: box('button').top < box('.name').bottom && box('button').left > box('.name').right - 1,
      };
    });
    assert.deepEqual(card, {
      family: 'slides', ext: 'PPTX', icon: true, facts: '6 B · PowerPoint presentation', title: 'Quarterly review.pptx', end: 'eview.pptx', sideBySide: true,
    });
    await alice.bringToFront();
    await createGroup(alice, 'Planning', ['Bob Baker', 'Carol Cho']);
    await send(alice, '@bob the agenda for Friday');
    await alice.waitForFunction(() => document.querySelector('#messages .msg.mine:not(.pending)') !== null);
    await carol.bringToFront();
    await openConversation(carol, 'Planning');
    await send(carol, 'Here is a message to report');
    await carol.waitForFunction(() => document.querySelector('#messages .msg.mine:not(.pending)') !== null);
    await bob.bringToFront();
    await openConversation(bob, 'Planning');
    await bob.waitForFunction(() => document.querySelectorAll('#messages .msg').length >= 2);
    await messageMenu(bob, await messageWith(bob, 'Here is a message to report'), 'Report message');
    await bob.click('#report-form button[type=submit]');
    await bob.waitForFunction(() => !document.getElementById('report-dialog').open);

    const found = [];
    for (const [theme, viewport, width] of [
      ['light', DESKTOP, 'desktop'], ['dark', DESKTOP, 'desktop'], ['light', PHONE, 'phone'], ['dark', PHONE, 'phone'],
    ]) {
      const at = (view) => `${view}-${theme}-${width}`;
      const page = await open({ viewport, colorScheme: theme });
      await page.bringToFront();
      found.push(...await audit(page, at('sign-in')));
      await page.click('#tab-register');
      found.push(...await audit(page, at('create-account')));
      await page.click('#tab-login');
      await signIn(page, 'alice');
      found.push(...await audit(page, at('list')));

      await openConversation(page, 'Bob Baker');
      await page.waitForFunction(() => document.querySelectorAll('#messages .msg').length >= 2);
      // A reaction and a reply, so both show.
      const first = await messageWith(page, 'Morning!');
      if (theme === 'light' && width === 'desktop') {
        await first.getByRole('button', { name: 'React to message' }).click();
        await page.locator('#emoji-dialog button', { hasText: '👍' }).first().click();
        await (await messageWith(page, 'Morning!')).getByRole('button', { name: 'Reply to message' }).click();
        await send(page, 'Thanks, reading it now');
        await page.waitForFunction(() => document.querySelector('#messages .msg.mine:not(.pending) .reply-quote') !== null);
      }
      found.push(...await audit(page, at('direct-chat')));
      await (await messageWith(page, 'Morning!')).getByRole('button', { name: 'More actions' }).click();
      found.push(...await audit(page, at('message-menu')));
      await page.keyboard.press('Escape');
      found.push(...await auditDialog(page, at('emoji-picker'), 'emoji-dialog',
        async () => (await messageWith(page, 'Morning!')).getByRole('button', { name: 'React to message' }).click()));
      found.push(...await auditDialog(page, at('picture'), 'image-dialog', () => page.locator('#messages .thumb img').first().click()));
      found.push(...await auditDialog(page, at('edit'), 'edit-dialog',
        async () => messageMenu(page, await messageWith(page, 'Thanks, reading it now'), 'Edit message')));
      found.push(...await auditDialog(page, at('confirm-delete'), 'confirm-dialog',
        async () => messageMenu(page, await messageWith(page, 'Thanks, reading it now'), 'Delete message')));
      found.push(...await auditDialog(page, at('details-direct'), 'info-dialog', () => page.click('#chat-info')));

      if (width === 'phone') await page.click('#back');
      await openConversation(page, 'Planning');
      found.push(...await audit(page, at('group-chat')));
      found.push(...await auditDialog(page, at('details-group'), 'info-dialog', () => page.click('#chat-info')));
      found.push(...await auditDialog(page, at('report'), 'report-dialog',
        async () => messageMenu(page, await messageWith(page, 'Here is a message to report'), 'Report message')));
      if (width === 'phone') await page.click('#back');

      found.push(...await auditDialog(page, at('new-direct'), 'directory-dialog', () => page.click('#new-direct')));
      found.push(...await auditDialog(page, at('new-group'), 'group-dialog', () => page.click('#new-group')));
      found.push(...await auditDialog(page, at('profile'), 'profile-dialog', () => page.click('#me-button')));
      found.push(...await auditDialog(page, at('switcher'), 'switcher-dialog', () => page.keyboard.press('Control+k')));
      found.push(...await auditDialog(page, at('search'), 'search-dialog', async () => {
        await page.click('#open-search');
        await page.fill('#search-input', 'draft');
        await page.waitForFunction(() => document.querySelectorAll('#search-results li').length > 0);
      }, () => page.click('#search-dialog button[value=cancel]')));
      await page.click('#open-admin');
      await page.waitForFunction(() => document.querySelectorAll('#admin-reports li').length > 0);
      found.push(...await audit(page, at('admin-reports')));
      await page.click('#admin-tab-people');
      found.push(...await audit(page, at('admin-people')));
      await page.keyboard.press('Escape');
    }
    assert.deepEqual(found, [], 'no serious or critical accessibility violations');
  });
});

test('a theme chosen in the profile is kept on this device only; the skip link and the heading are there', async () => {
  await hubTest(browser, async (hub, open) => {
    const laptop = await open();
    await register(laptop, 'alice', 'Alice Archer');
    const theme = (page) => page.evaluate(() => [document.documentElement.dataset.theme, getComputedStyle(document.body).backgroundColor]);
    assert.deepEqual(await theme(laptop), ['light', 'rgb(246, 247, 251)']);
    assert.equal(await laptop.textContent('#app-title'), 'Test Office on Chinwag');

    await laptop.click('#me-button');
    assert.equal(await laptop.inputValue('#theme-choice'), 'system');
    await laptop.selectOption('#theme-choice', 'dark');
    assert.deepEqual(await theme(laptop), ['dark', 'rgb(15, 17, 23)'], 'applied at once');
    await shot(laptop, 'theme-dark-chosen');
    await laptop.keyboard.press('Escape');
    await laptop.reload();
    await laptop.waitForSelector('#app-screen:not([hidden])');
    assert.equal((await theme(laptop))[0], 'dark', 'kept across a reload');

    // Another device (another browser profile) still follows its system.
    const phone = await open({ viewport: PHONE });
    await signIn(phone, 'alice');
    assert.equal((await theme(phone))[0], 'light');
    await phone.emulateMedia({ colorScheme: 'dark' });
    await phone.waitForFunction(() => document.documentElement.dataset.theme === 'dark');

    // Back to the system's on the laptop: light again.
    await laptop.bringToFront();
    await laptop.click('#me-button');
    await laptop.selectOption('#theme-choice', 'system');
    assert.equal((await theme(laptop))[0], 'light');
    await laptop.keyboard.press('Escape');

    // The keyboard's first stop is the skip link; it leads to the message box.
    await openConversation(laptop, 'general');
    // (This hub listens on loopback only: the invite panel says so, and offers no address.)
    await laptop.waitForSelector('#invite:not([hidden])');
    assert.deepEqual([await laptop.isVisible('#invite-none'), await laptop.isVisible('#invite-how')], [true, false]);
    await laptop.reload();
    await laptop.waitForSelector('#app-screen:not([hidden])');
    await laptop.keyboard.press('Tab');
    assert.equal(await laptop.evaluate(() => document.activeElement.id), 'skip-to-composer');
    assert.ok(await laptop.isVisible('#skip-to-composer'));
    await shot(laptop, 'skip-link-light-desktop');
    await laptop.keyboard.press('Enter');
    assert.equal(await laptop.evaluate(() => document.activeElement.id), 'composer-input');
  });
});

/** Presses Tab (Shift+Tab when `back`) until focus is on `selector`; fails after 40 presses. */
async function tabTo(page, selector, back = false) {
  for (let i = 0; i < 40; i += 1) {
    if (await page.evaluate((sel) => document.activeElement && document.activeElement.matches(sel), selector)) return;
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

/** The focused element, described: a message by its text, anything else by its id. */
function focused(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (el.classList.contains('msg')) return `message: ${el.querySelector('.bubble')?.textContent}`;
    if (el.getAttribute('role') === 'menuitem') return `menuitem: ${el.textContent}`;
    return `${el.tagName.toLowerCase()}#${el.id}`;
  });
}

/** In an open menu: presses `moves`, checks focus is on `item`, and chooses it with Enter. */
async function choose(page, moves, item) {
  for (const key of moves) await page.keyboard.press(key);
  assert.equal(await focused(page), `menuitem: ${item}`);
  await page.keyboard.press('Enter');
}

test('a whole conversation by keyboard alone: sign up, open, send, move to a message, edit, react, report, delete', async () => {
  await hubTest(browser, async (hub, open) => {
    const bob = await open();
    await register(bob, 'bob', 'Bob Baker');
    const alice = await open();
    const keys = alice.keyboard;
    await alice.bringToFront();

    // Create an account: Tab to the tab, the fields, Enter.
    await tabTo(alice, '#tab-register');
    await keys.press('Enter');
    await tabTo(alice, '#auth-form input[name=username]');
    await keys.type('alice');
    await keys.press('Tab');
    await keys.type('Alice Archer');
    await keys.press('Tab');
    await keys.type('alice-password');
    await keys.press('Enter');
    await alice.waitForSelector('#app-screen:not([hidden])');

    // Open the chat with Bob through Ctrl+K, and send.
    await keys.press('Control+k');
    await keys.type('Bob');
    await keys.press('Enter');
    await alice.waitForFunction(() => document.getElementById('chat-name').textContent === 'Bob Baker');
    // Opening a conversation puts me in its message box (once its messages are in).
    await alice.waitForFunction(() => document.activeElement.id === 'composer-input');
    await keys.type('Lunch at noon?');
    await keys.press('Enter');
    await alice.waitForFunction(() => document.querySelector('#messages .msg.mine:not(.pending)') !== null);
    await bob.bringToFront();
    await openConversation(bob, 'Alice Archer');
    await send(bob, 'Sounds good');
    await alice.bringToFront();
    await alice.waitForFunction(() => document.querySelectorAll('#messages .msg:not(.pending)').length === 2);

    // To the messages (Shift+Tab from the box), ↑ to the last and again to mine.
    await tabTo(alice, '#messages', true);
    await keys.press('ArrowUp');
    assert.equal(await focused(alice), 'message: Sounds good');
    await keys.press('ArrowUp');
    assert.equal(await focused(alice), 'message: Lunch at noon?');
    await keys.press('ArrowUp');
    assert.equal(await focused(alice), 'message: Lunch at noon?', 'the first stays the first');
    const name = await alice.evaluate(() => {
      const ids = document.activeElement.getAttribute('aria-labelledby').split(' ');
      return ids.map((id) => document.getElementById(id).textContent).join(' ');
    });
    assert.match(name, /^You Lunch at noon\? \d\d?:\d\d/, `the message is read with its sender and time (${name})`);
    await shot(alice, 'keyboard-message-focused-light-desktop');

    // A live update does not move focus: Bob writes again while mine is focused.
    await bob.bringToFront();
    await send(bob, 'See you there');
    await alice.bringToFront();
    await alice.waitForFunction(() => document.querySelectorAll('#messages .msg:not(.pending)').length === 3);
    assert.equal(await focused(alice), 'message: Lunch at noon?', 'focus stays where it was');

    // Enter opens its menu: ↓ to Edit, Enter, change it, Tab to Save.
    await keys.press('Enter');
    assert.equal(await focused(alice), 'menuitem: Reply');
    await shot(alice, 'keyboard-message-menu-light-desktop');
    await choose(alice, ['ArrowDown', 'ArrowDown'], 'Edit message');
    await alice.waitForFunction(() => document.getElementById('edit-dialog').open);
    await keys.press('Control+a');
    await keys.type('Lunch at 12:30?');
    await tabTo(alice, '#edit-form button[type=submit]');
    await keys.press('Enter');
    await alice.waitForFunction(() => !document.getElementById('edit-dialog').open);
    await alice.waitForFunction(() => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'Lunch at 12:30?'));
    assert.match(await focused(alice), /^(message: Lunch at 12:30\?|button#)/, 'focus comes back to the message');
    await alice.locator('#messages .msg.mine').focus(); // where it came back to, if on its button

    // React from the menu: the picker, type, ↓ into the grid, Enter.
    await keys.press('Enter');
    await choose(alice, ['ArrowDown'], 'React');
    await alice.waitForFunction(() => document.getElementById('emoji-dialog').open);
    await keys.type('thumbs up');
    await alice.waitForFunction(() => document.querySelector('#emoji-grid .emoji-choice')?.dataset.emoji === '👍');
    await keys.press('ArrowDown');
    await keys.press('Enter');
    await alice.waitForFunction(() => document.querySelector('#messages .msg.mine .reaction[data-emoji="👍"]') !== null);
    assert.match(await focused(alice), /^(message: Lunch at 12:30\?|button#)/);

    // Report Bob's message: ↓ to it, Enter, End (the last item; Bob made the hub, so Alice
    // is no admin and has no Delete there), ↑ wraps from the first to it too.
    await alice.locator('#messages .msg.mine').focus();
    await keys.press('ArrowDown');
    assert.equal(await focused(alice), 'message: Sounds good');
    await keys.press('Enter');
    await keys.press('End');
    assert.equal(await focused(alice), 'menuitem: Report message');
    await choose(alice, ['Home', 'ArrowUp'], 'Report message');
    await alice.waitForFunction(() => document.getElementById('report-dialog').open);
    await keys.type('testing the report');
    await tabTo(alice, '#report-form button[type=submit]');
    await keys.press('Enter');
    await alice.waitForFunction(() => !document.getElementById('report-dialog').open);

    // Delete mine with the in-app dialog: it opens on Cancel; Tab to "Delete message".
    await alice.locator('#messages .msg.mine').focus();
    await keys.press('Enter');
    await choose(alice, ['End'], 'Delete message');
    await alice.waitForFunction(() => document.getElementById('confirm-dialog').open);
    assert.equal(await focused(alice), 'button#confirm-cancel');
    await keys.press('Tab');
    assert.equal(await focused(alice), 'button#confirm-ok');
    await keys.press('Enter');
    await alice.waitForFunction(() => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'This message was deleted'));
    assert.equal(await focused(alice), 'message: This message was deleted', 'focus stays on the deleted message');

    // Esc from a message goes back to the message box; so does typing on one.
    await keys.press('Escape');
    assert.equal(await focused(alice), 'textarea#composer-input');
    await keys.press('Shift+Tab');
    await tabTo(alice, '#messages', true);
    await keys.press('ArrowUp');
    await keys.type('Thanks!');
    assert.equal(await focused(alice), 'textarea#composer-input');
    assert.equal(await alice.inputValue('#composer-input'), 'Thanks!', 'nothing typed is lost');
  });
});

/** A hub with a join code and an address to hand out (TEST-NET-1: nothing is sent there). */
class InvitingHub extends Hub {
  args(bind) {
    return [...super.args(bind), '--join-code', 'tea-time', '--url', 'http://192.0.2.10:7117/'];
  }
}

test('first run: a new hub opens on Create account; its admin gets the address, a QR code and the join code to hand out', async () => {
  await hubTest(browser, async (hub, open) => {
    const alice = await open();
    assert.equal(await alice.getAttribute('#tab-register', 'aria-selected'), 'true', 'nobody is here yet: Create account');
    assert.ok(await alice.isVisible('#first-account-note'));
    await shot(alice, 'first-run-create-account-light-desktop');
    await register(alice, 'alice', 'Alice Archer', { joinCode: 'tea-time' });
    await openConversation(alice, 'general');

    // The panel: the address to copy, its QR code, the join code, and Done.
    await alice.waitForSelector('#invite:not([hidden])');
    assert.equal(await alice.inputValue('#invite-addresses input'), 'http://192.0.2.10:7117/');
    assert.equal(await alice.isVisible('#invite-none'), false, 'an address to hand out: no "only this computer" note');
    assert.equal(await alice.getAttribute('#invite-qr', 'aria-label'), 'QR code for http://192.0.2.10:7117/: scan it with a phone to open the chat');
    const qr = await alice.evaluate(() => {
      const svg = document.querySelector('#invite-qr svg');
      const side = Number(svg.getAttribute('viewBox').split(' ')[2]);
      return { side, dark: (svg.querySelector('path').getAttribute('d').match(/M/g) || []).length };
    });
    assert.ok(qr.side >= 25 && qr.dark > 100, `a QR code of the address (${JSON.stringify(qr)})`);
    await alice.waitForFunction(() => document.getElementById('invite-code-value').textContent === 'tea-time');
    await alice.getByRole('button', { name: 'Copy http://192.0.2.10:7117/' }).click();
    await alice.waitForFunction(() => document.getElementById('invite-status').textContent !== '');
    await shot(alice, 'first-run-invite-light-desktop');
    const found = await audit(alice, 'invite-light-desktop');
    assert.deepEqual(found, [], 'the panel passes axe');

    // Bob, no admin, sees no panel in general.
    const bob = await open({ colorScheme: 'dark', viewport: PHONE });
    assert.equal(await bob.getAttribute('#tab-register', 'aria-selected'), 'false', 'accounts exist now: Sign in');
    await register(bob, 'bob', 'Bob Baker', { joinCode: 'tea-time' });
    await openConversation(bob, 'general');
    assert.equal(await bob.isVisible('#invite'), false);

    // Done hides it for good on this device; Administration brings it back.
    await alice.bringToFront();
    await alice.click('#invite-done');
    assert.equal(await alice.isVisible('#invite'), false);
    await alice.reload();
    await alice.waitForSelector('#app-screen:not([hidden])');
    await openConversation(alice, 'general');
    assert.equal(await alice.isVisible('#invite'), false, 'still done after a reload');
    await alice.click('#open-admin');
    await alice.click('#admin-invite');
    await alice.waitForSelector('#invite:not([hidden])');

    // At phone width, in the dark, it fits.
    const phone = await open({ colorScheme: 'dark', viewport: PHONE });
    await signIn(phone, 'alice');
    await openConversation(phone, 'general');
    await phone.waitForSelector('#invite:not([hidden])');
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'nothing wider than the screen');
    await shot(phone, 'first-run-invite-dark-phone');
    assert.deepEqual(await audit(phone, 'invite-dark-phone'), []);
  }, InvitingHub);
});
