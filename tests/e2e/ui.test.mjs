// The web UI in a real browser (Debian chromium via playwright-core) against the real hub.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdtempSync, writeFileSync, statSync, rmSync, openSync, writeSync, closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  Hub, JoinedNode, launch, person, register, startDirect, openConversation, createGroup, send, bodies, shot, sleep,
  answerConfirm, messageMenu, menuOf, hubTest, assertClean, DESKTOP, PHONE,
} from './harness.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser.close(); });

/** A fresh hub and cleanup for one test (harness.mjs `hubTest`). */
const withHub = (fn) => hubTest(browser, fn);

/** Waits for `fn` in the page; on timeout, says what the conversation list showed. */
async function until(page, fn, arg, timeout = 10000) {
  try {
    return await page.waitForFunction(fn, arg, { timeout });
  } catch (err) {
    const list = await page.evaluate(() => [...document.querySelectorAll('#conversation-list button')]
      .map((b) => b.textContent)).catch(() => []);
    err.message += ` (conversation list: ${JSON.stringify(list)})`;
    throw err;
  }
}

async function messageTicks(page, body) {
  return page.locator('#messages .msg.mine', { hasText: body }).last().locator('.ticks').getAttribute('data-receipt');
}

/** Opens a page per person and registers each, in order: [[username, display name], ...]. */
async function signUp(open, people) {
  const pages = [];
  for (const [username, name] of people) {
    const page = await open();
    await register(page, username, name);
    pages.push(page);
  }
  return pages;
}

test('two people chat in a direct conversation, with typing and receipts', async () => {
  await withHub(async (hub, open) => {
    const alice = await open();
    await shot(alice, 'login-light-desktop');
    await register(alice, 'alice', 'Alice Archer');
    const bob = await open({ colorScheme: 'dark' });
    await register(bob, 'bob', 'Bob Baker');

    await startDirect(alice, 'Bob Baker');
    // Typing: appears for Bob, never for Alice, and goes when she clears the box.
    await openConversation(bob, 'Alice Archer');
    await alice.bringToFront();
    await alice.fill('#composer-input', 'Hi Bo');
    await until(bob, () => document.getElementById('typing').textContent === 'Alice Archer is typing…');
    assert.equal(await alice.textContent('#typing'), '');
    await alice.fill('#composer-input', '');
    await until(bob, () => document.getElementById('typing').textContent === '');

    // Send: Bob is looking at the conversation but his window is not focused → delivered.
    await send(alice, 'Hi Bob! Lunch at noon?');
    await until(bob, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'Hi Bob! Lunch at noon?'));
    await until(alice, () => ['delivered', 'read'].includes(document.querySelector('#messages .msg.mine .ticks')?.dataset.receipt));
    // Bob focuses his window → read.
    await bob.bringToFront();
    await bob.evaluate(() => window.dispatchEvent(new Event('focus')));
    await until(alice, () => document.querySelector('#messages .msg.mine .ticks')?.dataset.receipt === 'read');
    assert.equal(await messageTicks(alice, 'Lunch at noon'), 'read');

    await send(bob, 'Sure, see you there 🍜');
    await until(alice, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent.includes('see you there')));
    assert.deepEqual(await bodies(alice), ['Hi Bob! Lunch at noon?', 'Sure, see you there 🍜']);
    assert.deepEqual(await bodies(bob), ['Hi Bob! Lunch at noon?', 'Sure, see you there 🍜']);

    // Edit and delete own messages.
    const mine = alice.locator('#messages .msg.mine').first();
    await messageMenu(alice, mine, 'Edit message');
    await alice.fill('#edit-input', 'Hi Bob! Lunch at 12:30?');
    await alice.click('#edit-form button.primary');
    await until(bob, () => [...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes('12:30') && m.textContent.includes('edited')));
    await shot(alice, 'chat-light-desktop');
    await shot(bob, 'chat-dark-desktop');
    await messageMenu(alice, mine, 'Delete message');
    // Asked in the page's own dialog: Esc keeps the message, the named button deletes it.
    await alice.waitForFunction(() => document.getElementById('confirm-dialog').open);
    assert.equal(await alice.evaluate(() => document.activeElement.id), 'confirm-cancel', 'it opens on the harmless choice');
    await shot(alice, 'confirm-delete-light-desktop');
    await alice.keyboard.press('Escape');
    await alice.waitForFunction(() => !document.getElementById('confirm-dialog').open);
    assert.ok((await bodies(alice)).includes('Hi Bob! Lunch at 12:30?'), 'Esc deleted nothing');
    await messageMenu(alice, mine, 'Delete message');
    assert.equal(await answerConfirm(alice, 'Delete message?', 'Delete message'), 'Delete this message for everyone? This cannot be undone.');
    await until(bob, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'This message was deleted'));
  });
});

test('presence dots follow people in the list and in an open directory', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob, carol] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Chen']]);

    // The direct conversation's peer is watched: Bob's dot is green, then grey when he leaves.
    await startDirect(alice, 'Bob Baker');
    // [list selector, name, presence]: whether that person's dot in that list shows it.
    const dot = ([list, name, presence]) => [...document.querySelectorAll(`${list} button`)]
      .find((b) => b.textContent.includes(name))?.querySelector('.dot')?.classList.contains(presence);
    await until(alice, dot, ['#conversation-list', 'Bob Baker', 'online']);

    // The directory watches whoever it lists, while it is open.
    await alice.click('#new-direct');
    await until(alice, dot, ['#directory-list', 'Carol Chen', 'online']);
    await shot(alice, 'directory-presence');
    await carol.context().close();
    await until(alice, dot, ['#directory-list', 'Carol Chen', 'offline']);
    await alice.keyboard.press('Escape');

    await bob.context().close();
    await until(alice, dot, ['#conversation-list', 'Bob Baker', 'offline']);
  });
});

test('search finds a message from earlier, never one from elsewhere, and jumps to it', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob, carol] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Chen']]);
    await openConversation(alice, 'general');
    await send(alice, 'The launch code is <b>swordfish</b>, keep it safe');
    for (let i = 0; i < 3; i += 1) await send(alice, `filler message ${i}`);
    await startDirect(carol, 'Alice Archer');
    await send(carol, 'swordfish is also my password');

    // Bob is in general only: one result, the snippet's match marked, markup shown as text.
    await bob.click('#open-search');
    await bob.fill('#search-input', 'SWORDFISH');
    await until(bob, () => document.querySelectorAll('#search-results li').length === 1);
    await sleep(600); // a late second result would show up by now
    assert.equal(await bob.locator('#search-results li').count(), 1);
    assert.equal(await bob.locator('#search-results mark').first().textContent(), 'swordfish');
    assert.equal(await bob.locator('#search-results b').count(), 0, 'no markup from the message');
    await shot(bob, 'search-results');
    await bob.locator('#search-results button').first().click();
    await until(bob, () => document.getElementById('chat-name').textContent.includes('general'));
    await until(bob, () => document.querySelector('#messages .msg.found .bubble')?.textContent.includes('swordfish'));
    await shot(bob, 'search-jumped');

    // A message further back than the loaded pages: its neighbourhood is loaded around it,
    // and newer pages follow as Bob scrolls down.
    await alice.evaluate(async () => {
      const token = localStorage.getItem('chinwag.token');
      const post = (i, body) => fetch('/api/v1/conversations/1/messages', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_id: `old-${i}`, body }),
      });
      for (let i = 0; i <= 70; i += 1) {
        const body = i ? `later message ${i}` : 'the ancient artifact is in the basement';
        for (;;) { // the hub allows bursts of 60, then 20 a second
          const reply = await post(i, body);
          if (reply.status !== 429) break;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    });
    await bob.reload(); // Bob's page now holds only the newest page of # general
    await bob.waitForSelector('#app-screen:not([hidden])');
    await bob.click('#open-search');
    await bob.fill('#search-input', 'artifact');
    await until(bob, () => document.querySelectorAll('#search-results li').length === 1);
    await bob.locator('#search-results button').first().click();
    await until(bob, () => document.querySelector('#messages .msg.found .bubble')?.textContent.includes('ancient artifact'));
    assert.match(await bob.locator('#messages .history-edge').last().textContent(), /newer messages/);
    for (let i = 0; i < 10; i += 1) {
      await bob.evaluate(() => { const box = document.getElementById('messages'); box.scrollTop = box.scrollHeight; });
      await sleep(150);
      if (await bob.evaluate(() => document.getElementById('messages').textContent.includes('later message 70'))) break;
    }
    const shown = await bodies(bob);
    assert.equal(shown.at(-1), 'later message 70', 'scrolled down to the newest');
    assert.equal(shown.filter((b) => b.startsWith('later message')).length, 70, 'no gap, nothing twice');

    // Nothing found says so.
    await bob.click('#open-search');
    await bob.fill('#search-input', 'nonexistentword');
    await until(bob, () => document.getElementById('search-status').textContent === 'No messages found.');
  });
});

/** Makes a PNG picture in the page (a canvas gradient) and returns nothing; `window.__picture` holds it. */
async function paintPicture(page, width, height) {
  await page.evaluate(async ([w, h]) => {
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const g = canvas.getContext('2d');
    const grad = g.createLinearGradient(0, 0, w, h);
    grad.addColorStop(0, '#4f46e5');
    grad.addColorStop(1, '#f59e0b');
    g.fillStyle = grad;
    g.fillRect(0, 0, w, h);
    g.fillStyle = '#fff';
    g.font = '48px sans-serif';
    g.fillText('Quarterly chart', 40, 90);
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
    window.__picture = new File([blob], 'chart.png', { type: 'image/png' });
  }, [width, height]);
}

test('a screenshot dropped or pasted into a chat shows inline for the other person at once', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    await startDirect(alice, 'Bob Baker');
    await send(alice, 'here is the chart');
    await openConversation(bob, 'Alice Archer');

    // Drag and drop: the drop zone shows while dragging, the picture is sent when dropped.
    await paintPicture(alice, 800, 450);
    await alice.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(window.__picture);
      const chat = document.getElementById('chat');
      chat.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
      chat.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    assert.ok(await alice.evaluate(() => document.getElementById('chat').classList.contains('dropping')));
    await shot(alice, 'files-dropping');
    await alice.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(window.__picture);
      document.getElementById('chat').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    assert.ok(!(await alice.evaluate(() => document.getElementById('chat').classList.contains('dropping'))));

    // Bob sees it inline: a thumbnail at most 320 px wide, space reserved before it loads.
    await until(bob, () => {
      const img = document.querySelector('#messages .msg.theirs .thumb img');
      return img && img.complete && img.naturalWidth === 320;
    });
    const box = await bob.locator('#messages .thumb img').boundingBox();
    assert.equal(Math.round(box.width), 320);
    assert.equal(Math.round(box.height), 180);
    await until(bob, () => document.querySelector('#conversation-list .conv-preview')?.textContent.includes('Picture'));
    await shot(bob, 'files-inline-picture');

    // A click shows it full size.
    await bob.locator('#messages .thumb').click();
    await until(bob, () => document.getElementById('image-full').naturalWidth === 800);
    assert.equal(await bob.locator('#image-title').textContent(), 'chart.png');
    await shot(bob, 'files-full-size');
    await bob.keyboard.press('Escape');
    await until(bob, () => !document.getElementById('image-dialog').open);

    // Pasting a picture into the message box sends it too.
    await alice.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(window.__picture);
      document.getElementById('composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    });
    await until(bob, () => document.querySelectorAll('#messages .msg.theirs .thumb img').length === 2);
    await until(alice, () => document.querySelectorAll('#messages .msg.mine:not(.pending) .thumb').length === 2);
  });
});

test('a 50 MB file goes up with a progress bar that can cancel, and comes down as a file card', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    await startDirect(alice, 'Bob Baker');
    await send(alice, 'logs coming');
    await openConversation(bob, 'Alice Archer');
    const dir = mkdtempSync(path.join(tmpdir(), 'chinwag-files-'));
    const big = path.join(dir, 'server-logs.tar');
    const data = Buffer.alloc(50 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = i % 251;
    writeFileSync(big, data);

    // Slow the upload down (as on a busy network) so the bar can be seen moving and cancelled.
    const cdp = await alice.context().newCDPSession(alice);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 20 * 1024 * 1024,
    });

    // Cancelled half-way: the row goes, nothing is sent.
    await alice.setInputFiles('#file-input', big);
    await until(alice, () => {
      const bar = document.querySelector('#uploads .upload progress');
      return bar && bar.value > 0 && bar.value < bar.max;
    });
    await shot(alice, 'files-uploading');
    await alice.locator('#uploads button', { hasText: 'Cancel' }).click();
    await until(alice, () => document.querySelectorAll('#uploads .upload').length === 0);

    // Attached with the button: the bar fills, the row goes, a file card arrives.
    await alice.setInputFiles('#file-input', big);
    const seen = new Set();
    await until(alice, () => document.querySelectorAll('#uploads .upload').length === 1);
    for (;;) {
      const value = await alice.evaluate(() => {
        const bar = document.querySelector('#uploads .upload progress');
        return bar ? Math.floor((bar.value / bar.max) * 4) : null;
      });
      if (value === null) break;
      seen.add(value);
      await sleep(50);
    }
    assert.ok(seen.size >= 2, `the bar moved (quarters seen: ${[...seen]})`);
    await until(bob, () => document.querySelector('#messages .msg.theirs .file-card .name')?.textContent === 'server-logs.tar', null, 30000);
    const card = bob.locator('#messages .file-card');
    assert.match(await card.textContent(), /50 MB/);
    assert.equal(await card.locator('.type').textContent(), 'TAR');
    await shot(bob, 'files-card');
    const [download] = await Promise.all([bob.waitForEvent('download'), card.locator('button').click()]);
    assert.equal(download.suggestedFilename(), 'server-logs.tar');
    const saved = path.join(dir, 'saved.tar');
    await download.saveAs(saved);
    assert.equal(statSync(saved).size, data.length);

    // An empty file is refused in the page, before anything is sent.
    await alice.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(0)], 'empty.txt', { type: 'text/plain' }));
      document.getElementById('chat').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await until(alice, () => document.querySelector('#uploads .upload.failed .status')?.textContent.includes('empty'));
    await alice.locator('#uploads button', { hasText: 'Dismiss' }).click();
    await until(alice, () => document.querySelectorAll('#uploads .upload').length === 0);
    rmSync(dir, { recursive: true, force: true });
  });
});

test('a group of three shows who has seen my message', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob, carol] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Cho']]);

    await alice.bringToFront();
    await alice.reload();
    await alice.waitForSelector('#app-screen:not([hidden])');
    await createGroup(alice, 'Lunch crew', ['Bob Baker', 'Carol Cho']);
    await until(alice, () => document.getElementById('chat-sub').textContent === '3 members');
    for (let i = 1; i <= 15; i += 1) await send(alice, `Menu item ${i}`); // more than the view holds
    await send(alice, 'Who is in for ramen?');

    for (const [page, name] of [[bob, 'Bob Baker'], [carol, 'Carol Cho']]) {
      await page.bringToFront();
      await openConversation(page, 'Lunch crew');
      await until(page, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'Who is in for ramen?'));
      await page.evaluate(() => window.dispatchEvent(new Event('focus')));
      assert.ok(name);
    }
    await until(alice, () => document.querySelector('#messages .seen-by')?.textContent === 'Seen by Bob Baker, Carol Cho');
    // "Seen by" came after the view was at the end: the end, with it, is still in view.
    const gap = await alice.evaluate(() => { const box = document.getElementById('messages'); return box.scrollHeight - box.scrollTop - box.clientHeight; });
    assert.ok(gap < 2, `the newest line stays in view (${gap} px below it)`);
    await send(bob, 'Me!');
    await until(alice, () => [...document.querySelectorAll('#messages .who')].some((w) => w.textContent === 'Bob Baker'));
    await shot(alice, 'group-light-desktop');

    // The admin manages members; Carol leaves.
    await carol.bringToFront();
    await carol.click('#chat-info');
    await carol.click('#leave-group');
    await answerConfirm(carol, 'Leave Lunch crew?', 'Leave group');
    await until(carol, () => ![...document.querySelectorAll('#conversation-list .conv-name')].some((n) => n.textContent === 'Lunch crew'));
    await alice.bringToFront();
    await until(alice, () => document.getElementById('chat-sub').textContent === '2 members');
  });
});

test('unread badges count and clear, and older history loads on scroll', async () => {
  await withHub(async (hub, open) => {
    const alice = await open();
    await register(alice, 'alice', 'Alice Archer');
    const bob = await open();
    await register(bob, 'bob', 'Bob Baker');
    // Bob looks at a direct chat while Alice writes in general.
    await startDirect(bob, 'Alice Archer');
    await alice.bringToFront();
    await openConversation(alice, 'general');
    const token = await alice.evaluate(() => localStorage.getItem('chinwag.token'));
    for (let i = 1; i <= 58; i += 1) {
      const r = await fetch(`${hub.url}api/v1/conversations/1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ client_id: `seed-${i}`, body: `message number ${i}` }),
      });
      assert.equal(r.status, 201);
    }
    const badge = bob.locator('#conversation-list button', { hasText: 'general' }).locator('.badge');
    await until(bob, () => document.querySelector('#conversation-list .badge')?.textContent === '58');
    assert.equal(await badge.textContent(), '58');
    assert.match(await bob.title(), /^\(58\)/);
    // A fresh page load, so that general's history comes from the hub in pages. Alice's page
    // is in front: Bob's, reloaded, opens general by itself and must not count as read yet.
    await alice.bringToFront();
    await bob.reload();
    await until(bob, () => document.querySelector('#conversation-list .badge')?.textContent === '58');
    await bob.bringToFront();
    await openConversation(bob, 'general');
    await bob.evaluate(() => window.dispatchEvent(new Event('focus')));
    await until(bob, () => document.querySelector('#conversation-list .badge') === null);
    assert.doesNotMatch(await bob.title(), /^\(/);

    // 50 per page: the oldest 8 arrive when scrolling up.
    assert.equal((await bodies(bob)).length, 50);
    await bob.evaluate(() => { document.getElementById('messages').scrollTop = 0; });
    await until(bob, () => document.querySelectorAll('#messages .bubble').length === 58);
    const all = await bodies(bob);
    assert.deepEqual(all, Array.from({ length: 58 }, (_, i) => `message number ${i + 1}`));
    assert.match(await bob.textContent('#messages .history-edge'), /beginning/);

    // Scrolled up, a new message shows the jump button instead of moving the view.
    await send(alice, 'new while you read');
    await until(bob, () => !document.getElementById('jump').hidden);
    await bob.click('#jump');
    await until(bob, () => document.getElementById('jump').hidden);
  });
});

test('the UI survives a hub restart without losing or doubling a message', async () => {
  await withHub(async (hub, open) => {
    const alice = await open();
    await register(alice, 'alice', 'Alice Archer');
    const bob = await open();
    await register(bob, 'bob', 'Bob Baker');
    await startDirect(alice, 'Bob Baker');
    await openConversation(bob, 'Alice Archer');
    await send(alice, 'before the restart');
    await until(bob, () => document.querySelectorAll('#messages .bubble').length === 1);

    // A clean restart, the hub away for 4 s: both reconnect on their own, soon after it is
    // back (a figure, not a timed assertion). The banner is a bar above the chat, not over
    // its header.
    await hub.stop('SIGTERM');
    await until(alice, () => !document.getElementById('banner').hidden);
    const placed = await alice.evaluate(() => document.getElementById('banner').getBoundingClientRect().bottom
      <= document.getElementById('chat-head').getBoundingClientRect().top + 0.5);
    assert.ok(placed, 'the banner does not cover the chat header');
    await shot(alice, 'reconnecting-light-desktop');
    await sleep(4000);
    await hub.spawn(`127.0.0.1:${hub.port}`);
    const back = Date.now();
    await until(alice, () => document.getElementById('banner').hidden, undefined, 20000);
    const aliceMs = Date.now() - back;
    await until(bob, () => document.getElementById('banner').hidden, undefined, 20000);
    console.log(`reconnect: after the hub was away 4 s, the pages were connected again ${aliceMs} ms and ${Date.now() - back} ms after it listened`);
    await send(bob, 'after the restart');
    await until(alice, () => document.querySelectorAll('#messages .bubble').length === 2);
    // The list's preview follows the newest message, whatever the order of refetch and event.
    await until(alice, () => document.querySelector('#conversation-list .conv-preview').textContent === 'after the restart');

    // The hub goes down hard; Alice writes while it is away.
    await hub.stop('SIGKILL');
    await until(alice, () => !document.getElementById('banner').hidden);
    // I am the one cut off: Bob's presence is not known, not "offline".
    await until(alice, () => document.getElementById('chat-sub').textContent.startsWith('presence unknown'));
    assert.equal(await alice.locator('#conversation-list .avatar .dot').first().getAttribute('class'), 'dot unknown');
    await shot(alice, 'offline-light-desktop');
    await send(alice, 'typed while the hub was down');
    await until(alice, () => document.querySelector('#messages .msg.pending .ticks')?.title === 'Sending');
    await sleep(300);
    await hub.restart('SIGKILL');
    await until(bob, () => document.querySelectorAll('#messages .bubble').length === 3, undefined, 20000);
    await until(alice, () => document.querySelectorAll('#messages .msg.pending').length === 0, undefined, 20000);
    await sleep(500);
    const expected = ['before the restart', 'after the restart', 'typed while the hub was down'];
    assert.deepEqual(await bodies(alice), expected);
    assert.deepEqual(await bodies(bob), expected);
    // And the hub itself has each exactly once.
    const token = await alice.evaluate(() => localStorage.getItem('chinwag.token'));
    const conv = await (await fetch(`${hub.url}api/v1/conversations`, { headers: { authorization: `Bearer ${token}` } })).json();
    const direct = conv.find((c) => c.kind === 'direct');
    const page = await (await fetch(`${hub.url}api/v1/conversations/${direct.id}/messages`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.deepEqual(page.messages.map((m) => m.body), expected);
  });
});

test('a message written while the hub disk is full waits, says why, and goes once there is room', async () => {
  // The hub's data directory on a small tmpfs of its own (the suite runs as root).
  const disk = mkdtempSync(path.join(tmpdir(), 'chinwag-e2e-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', disk]);
  const hub = new Hub(path.join(disk, 'data'));
  const pages = [];
  let keepFull = null;
  try {
    await hub.spawn('127.0.0.1:0');
    const alice = await person(browser, hub);
    const bob = await person(browser, hub);
    pages.push(alice, bob);
    await register(alice, 'alice', 'Alice Archer');
    await register(bob, 'bob', 'Bob Baker');
    await startDirect(alice, 'Bob Baker');
    await openConversation(bob, 'Alice Archer');
    await send(alice, 'before the disk filled');
    await until(bob, () => document.querySelectorAll('#messages .bubble').length === 1);

    // Fill the disk, then use up the room SQLite had already taken, until the hub refuses.
    // A failed write can give a little room back, so the disk is topped up until freed.
    const filler = path.join(disk, 'filler');
    const block = Buffer.alloc(64 * 1024, 7);
    const fill = () => {
      const fd = openSync(filler, 'a');
      try {
        for (;;) writeSync(fd, block);
      } catch (err) {
        if (err.code !== 'ENOSPC') throw err;
      } finally {
        closeSync(fd);
      }
    };
    fill();
    keepFull = setInterval(fill, 50);
    const token = await bob.evaluate(() => localStorage.getItem('chinwag.token'));
    const conv = (await (await fetch(`${hub.url}api/v1/conversations`, { headers: { authorization: `Bearer ${token}` } })).json())
      .find((c) => c.kind === 'direct');
    let fillers = 0;
    const fillUntilRefused = async () => {
      let status = 201;
      for (let n = 0; (status === 201 || status === 429) && n < 2000; n++) {
        const reply = await fetch(`${hub.url}api/v1/conversations/${conv.id}/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ client_id: `fill-${fillers++}`, body: 'x'.repeat(4000) }),
        });
        status = reply.status;
        if (status === 429) await sleep(Number(reply.headers.get('retry-after') || 1) * 1000);
      }
      assert.equal(status, 503, 'the full disk refuses writes');
    };

    // Alice writes: her message waits, saying why, and is not marked as failed. SQLite reuses
    // its write-ahead log from the start after each checkpoint, so a write can find room in
    // the log's own blocks for a moment after a refusal; when Alice's message is taken in
    // such a moment, the disk is filled again and she writes another.
    await alice.bringToFront();
    let text = null;
    for (let attempt = 1; attempt <= 5 && !text; attempt++) {
      await fillUntilRefused();
      const candidate = `written on a full disk (${attempt})`;
      await send(alice, candidate);
      try {
        await until(alice, () => document.querySelector('#messages .msg.pending .ticks.waiting')?.textContent.includes('the hub cannot save right now'), undefined, 5000);
        text = candidate;
      } catch (err) {
        const last = await alice.evaluate(() => [...document.querySelectorAll('#messages .msg.mine')].pop()?.outerHTML);
        console.log(`attempt ${attempt}: the hub found room for Alice's message (${last}); filling again`);
        await until(alice, () => document.querySelectorAll('#messages .msg.pending').length === 0);
      }
    }
    assert.ok(text, 'in five attempts, a message of Alice waited for the full disk');
    assert.match(await alice.locator('#messages .msg.pending .ticks.waiting').getAttribute('title'), /disk/);
    await shot(alice, 'disk-full-waiting-light-desktop');
    assert.equal(await alice.locator('#messages .msg.pending .ticks.failed').count(), 0);

    // Room again: it goes on its own, once, and the note is gone.
    clearInterval(keepFull);
    rmSync(filler);
    await until(bob, (t) => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === t), text, 40000);
    await until(alice, () => document.querySelectorAll('#messages .msg.pending').length === 0);
    const mine = await alice.evaluate((t) => [...document.querySelectorAll('#messages .bubble')]
      .filter((b) => b.textContent === t).length, text);
    assert.equal(mine, 1);
    for (const p of pages) assertClean(p);
  } finally {
    clearInterval(keepFull);
    for (const p of pages) await p.context().close();
    await hub.stop('SIGKILL');
    execFileSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});

test('hostile text in messages, names and group names is shown as text and runs nothing', async () => {
  const corpus = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    '<script>window.__xss=2;alert(2)</script>',
    '<a href="javascript:window.__xss=3">click me</a>',
    'javascript:window.__xss=4',
    '<svg onload="window.__xss=5">',
    '"><iframe src="javascript:alert(6)"></iframe>',
    '<style>body{display:none}</style>',
    'see http://ok.example/"onmouseover="window.__xss=7"',
    '[click](javascript:window.__xss=10) [data](data:text/html,<script>window.__xss=11</script>)',
    `${'>'.repeat(3000)} <img src=x onerror="window.__xss=14">`,
    '# <img src=x onerror="window.__xss=15"> ![pic](javascript:window.__xss=16) &lt;b&gt;',
  ];
  // Markdown around hostile text: shown formatted, the text inside still only text.
  const formatted = [
    ['**<img src=x onerror="window.__xss=20">**', '<img src=x onerror="window.__xss=20">'],
    ['*<script>window.__xss=21</script>* ~~<svg onload="window.__xss=22">~~', '<script>window.__xss=21</script> <svg onload="window.__xss=22">'],
    ['`<iframe src="javascript:alert(23)">`', '<iframe src="javascript:alert(23)">'],
    ['```html\n<script>window.__xss=24</script>\n```', '<script>window.__xss=24</script>Copy'],
    ['> <img src=x onerror="window.__xss=25">', '<img src=x onerror="window.__xss=25">'],
    ['<https://ok.example/"onmouseover="window.__xss=12"> <javascript:window.__xss=13>',
      'https://ok.example/"onmouseover="window.__xss=12" <javascript:window.__xss=13>'],
    ['- [x](javascript:window.__xss=26)\n- **[y](https://ok.example/"onclick="window.__xss=27)**', '[x](javascript:window.__xss=26)y'],
  ];
  await withHub(async (hub, open) => {
    const alice = await open();
    // Every address the page asks for, WebSockets included: a session token must never be in one.
    const urls = [];
    alice.on('request', (r) => urls.push(r.url()));
    alice.on('websocket', (ws) => urls.push(ws.url()));
    await register(alice, 'alice', '<img src=x onerror="window.__xss=8">');
    const bob = await open();
    await register(bob, 'bob', 'Bob Baker');
    await alice.bringToFront();
    await createGroup(alice, '<b onclick="window.__xss=9">grp</b>', ['Bob Baker']);
    for (const text of [...corpus, ...formatted.map(([typed]) => typed)]) await send(alice, text);
    const total = corpus.length + formatted.length;
    await until(alice, (n) => document.querySelectorAll('#messages .msg:not(.pending) .bubble').length === n, total);
    await bob.bringToFront();
    await openConversation(bob, '<b onclick');
    await until(bob, (n) => document.querySelectorAll('#messages .bubble').length === n, total);
    const token = await alice.evaluate(() => localStorage.getItem('chinwag.token'));
    assert.ok(token && urls.length > 3, 'the page made requests with a session');
    assert.deepEqual(urls.filter((u) => u.includes(token) || /token=/i.test(u)), [], 'no token in any URL');
    for (const page of [alice, bob]) {
      assert.deepEqual(await bodies(page), [...corpus, ...formatted.map(([, shown]) => shown)], 'every payload appears literally');
      const state = await page.evaluate(() => ({
        xss: window.__xss,
        imgs: document.querySelectorAll('#messages img, #conversation-list img, #chat-name img').length,
        scripts: document.querySelectorAll('body script').length,
        iframes: document.querySelectorAll('iframe, svg[onload]').length,
        // Only the constructs of the subset are elements in a bubble; no attribute but a link's.
        tags: [...new Set([...document.querySelectorAll('#messages .bubble *')].map((e) => e.tagName.toLowerCase()))].sort(),
        attrs: [...new Set([...document.querySelectorAll('#messages .bubble *')].flatMap((e) => e.getAttributeNames()))].sort(),
        jsLinks: [...document.querySelectorAll('a')].filter((a) => !/^https?:/.test(a.href)).length,
        hrefs: [...document.querySelectorAll('#messages a')].map((a) => [a.href, a.rel]),
      }));
      assert.equal(state.xss, undefined, 'no payload ran');
      assert.equal(state.imgs, 0);
      assert.equal(state.scripts, 0);
      assert.equal(state.iframes, 0);
      assert.deepEqual(state.tags, ['a', 'blockquote', 'button', 'code', 'div', 'em', 'li', 'p', 'pre', 's', 'strong', 'ul']);
      assert.deepEqual(state.attrs, ['aria-label', 'class', 'href', 'rel', 'tabindex', 'target', 'type']);
      assert.equal(state.jsLinks, 0);
      for (const [href, rel] of state.hrefs) {
        assert.match(href, /^https?:\/\/ok\.example\/[^"]*$/);
        assert.equal(rel, 'noopener noreferrer');
      }
      assert.deepEqual(page.dialogsSeen, []);
    }
    const name = await bob.locator('#messages .who').first().textContent();
    assert.equal(name, '<img src=x onerror="window.__xss=8">');
    // The hub sends a strict policy with the page.
    const r = await fetch(hub.url);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  });
});

test('Markdown shows formatted: bold, code blocks with a copy button, quotes, lists, links; previews show the text', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    await alice.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: hub.url });
    await startDirect(bob, 'Alice Archer');
    await send(bob, 'The **release** is _today_, ~~not~~ see `cargo build` and https://ok.example/notes.');
    await send(bob, '```\nfn main() {\n    println!("a very long line that scrolls sideways rather than wrapping, as code does in an editor");\n}\n```');
    await send(bob, '> Can you ship it?\n\nYes:\n- tests pass\n- docs written\n\n1. tag\n2. build');
    await alice.bringToFront();
    await openConversation(alice, 'Bob Baker');
    await until(alice, () => document.querySelectorAll('#messages .bubble').length === 3);
    const shown = await alice.evaluate(() => {
      const [first, code, quote] = document.querySelectorAll('#messages .bubble');
      const pre = code.querySelector('pre');
      return {
        strong: first.querySelector('strong')?.textContent,
        em: first.querySelector('em')?.textContent,
        s: first.querySelector('s')?.textContent,
        code: first.querySelector('code')?.textContent,
        link: [first.querySelector('a')?.href, first.querySelector('a')?.textContent],
        pre: pre?.textContent,
        font: pre && getComputedStyle(pre).fontFamily,
        scrolls: pre && pre.scrollWidth > pre.clientWidth && getComputedStyle(pre).overflowX === 'auto',
        quote: quote.querySelector('blockquote')?.textContent,
        items: [...quote.querySelectorAll('ul li')].map((li) => li.textContent),
        ordered: [...quote.querySelectorAll('ol li')].map((li) => li.textContent),
        preview: [...document.querySelectorAll('#conversation-list .conv-preview')].map((p) => p.textContent),
      };
    });
    assert.equal(shown.strong, 'release');
    assert.equal(shown.em, 'today');
    assert.equal(shown.s, 'not');
    assert.equal(shown.code, 'cargo build');
    assert.deepEqual(shown.link, ['https://ok.example/notes', 'https://ok.example/notes']);
    assert.match(shown.pre, /^fn main\(\) \{\n {4}println!/);
    assert.match(shown.font, /mono/i);
    assert.ok(shown.scrolls, 'a long code line scrolls inside its block');
    assert.equal(shown.quote, 'Can you ship it?');
    assert.deepEqual(shown.items, ['tests pass', 'docs written']);
    assert.deepEqual(shown.ordered, ['tag', 'build']);
    assert.ok(shown.preview.includes('Can you ship it? Yes: tests pass docs written tag build'), `the preview is the text, without markup: ${shown.preview}`);
    // The copy button puts the code, not the page's text, on the clipboard.
    await alice.locator('#messages .code-block button').click();
    await until(alice, () => document.querySelector('#messages .code-block button').textContent === 'Copied');
    assert.match(await alice.evaluate(() => navigator.clipboard.readText()), /^fn main\(\) \{\n {4}println!\("a very long line/);
    await shot(alice, 'formatting-light-desktop');
    await bob.bringToFront();
    await shot(bob, 'formatting-mine-light-desktop');
  });
});

test('replies quote their original, jump to it far back, and say when it was deleted', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    await openConversation(alice, 'general');
    await send(alice, 'Pizza at **noon**?\nOr later');
    await until(alice, () => document.querySelectorAll('#messages .msg:not(.pending)').length === 1);
    const token = await alice.evaluate(() => localStorage.getItem('chinwag.token'));
    const post = async (body, extra = {}) => {
      const r = await fetch(`${hub.url}api/v1/conversations/1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ client_id: `c-${body.replace(/\W/g, '-')}`, body, ...extra }),
      });
      assert.equal(r.status, 201);
      return r.json();
    };
    // Bob answers from the message's menu; Esc on a second reply cancels it.
    await bob.bringToFront();
    await openConversation(bob, 'general');
    const original = bob.locator('#messages .msg').first();
    await original.hover();
    await original.getByRole('button', { name: 'Reply to message' }).click();
    await until(bob, () => !document.getElementById('reply-bar').hidden);
    assert.equal(await bob.textContent('#reply-who'), 'Replying to Alice Archer');
    assert.equal(await bob.textContent('#reply-text'), 'Pizza at noon?', 'the first line, without markup');
    await send(bob, 'Yes, noon works');
    await until(bob, () => document.getElementById('reply-bar').hidden);
    await original.hover();
    await original.getByRole('button', { name: 'Reply to message' }).click();
    await bob.press('#composer-input', 'Escape');
    await until(bob, () => document.getElementById('reply-bar').hidden);

    // Alice sees the quote; then the conversation moves on far past the original.
    await alice.bringToFront();
    const reply = alice.locator('#messages .msg', { hasText: 'Yes, noon works' });
    await until(alice, () => [...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes('Yes, noon works')));
    assert.equal(await reply.locator('.reply-quote .reply-who').textContent(), 'You');
    assert.equal(await reply.locator('.reply-quote .reply-text').textContent(), 'Pizza at noon?');
    const first = await alice.evaluate(() => Number(document.querySelector('#messages .msg').dataset.id));
    for (let i = 1; i <= 52; i += 1) await post(`filler ${i}`);
    await post('About that pizza', { reply_to: first });
    // A fresh load: only the newest page is loaded, so the original is fetched on its own.
    await alice.reload();
    await openConversation(alice, 'general');
    const late = alice.locator('#messages .msg', { hasText: 'About that pizza' });
    await until(alice, () => [...document.querySelectorAll('#messages .reply-quote .reply-text')].some((q) => q.textContent === 'Pizza at noon?'));
    assert.equal(await alice.locator(`#messages .msg[data-id="${first}"]`).count(), 0, 'the original is not on the page');
    await late.locator('.reply-quote').click();
    await until(alice, (id) => document.querySelector(`#messages .msg[data-id="${id}"]`)?.classList.contains('found'), first);
    await shot(alice, 'reply-jump-light-desktop');

    // The original is deleted: the replies say so, and the quote still goes to the tombstone.
    const r = await fetch(`${hub.url}api/v1/messages/${first}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    assert.equal(r.status, 200);
    await bob.bringToFront();
    await until(bob, () => [...document.querySelectorAll('#messages .reply-quote')].some((q) => q.textContent === 'Original message deleted'));
  });
});

test('reactions: the quick set and a searched emoji by keyboard, counts, who reacted, toggling', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    await startDirect(alice, 'Bob Baker');
    await send(alice, 'Release is out');
    await bob.bringToFront();
    await openConversation(bob, 'Alice Archer');
    const message = bob.locator('#messages .msg').first();
    await message.hover();
    await message.getByRole('button', { name: 'React to message' }).click();
    await until(bob, () => document.getElementById('emoji-dialog').open);
    await bob.locator('#emoji-quick button', { hasText: '👍' }).click();
    await until(bob, () => document.querySelector('#messages .reaction[data-emoji="👍"]')?.getAttribute('aria-pressed') === 'true');

    // Alice sees it with who reacted, and adds hers by clicking it.
    await alice.bringToFront();
    const thumbs = alice.locator('#messages .reaction[data-emoji="👍"]');
    await until(alice, () => document.querySelector('#messages .reaction[data-emoji="👍"] .count')?.textContent === '1');
    assert.equal(await thumbs.getAttribute('title'), 'Bob Baker reacted with 👍');
    assert.equal(await thumbs.getAttribute('aria-pressed'), 'false');
    await thumbs.click();
    await until(alice, () => document.querySelector('#messages .reaction[data-emoji="👍"] .count')?.textContent === '2');
    assert.equal(await thumbs.getAttribute('title'), 'Bob Baker and you reacted with 👍');

    // Bob finds 🎉 by name with the keyboard alone: type, ↓ into the grid, Enter.
    await bob.bringToFront();
    await bob.locator('#messages .reaction.add').click();
    await bob.fill('#emoji-search', 'popper');
    await until(bob, () => document.querySelector('#emoji-grid .emoji-choice')?.dataset.emoji === '🎉');
    await bob.press('#emoji-search', 'ArrowDown');
    await bob.keyboard.press('Enter');
    await until(bob, () => !document.getElementById('emoji-dialog').open);
    await until(alice, () => document.querySelector('#messages .reaction[data-emoji="🎉"] .count')?.textContent === '1');
    // Esc closes the picker without reacting.
    await bob.locator('#messages .reaction.add').click();
    await bob.keyboard.press('Escape');
    await until(bob, () => !document.getElementById('emoji-dialog').open);
    // Bob takes his 👍 back.
    await bob.locator('#messages .reaction[data-emoji="👍"]').click();
    await until(alice, () => document.querySelector('#messages .reaction[data-emoji="👍"] .count')?.textContent === '1');
    await shot(bob, 'reactions-light-desktop');

    // After a reload they are still there, from the hub.
    await alice.reload();
    await openConversation(alice, 'Bob Baker');
    await until(alice, () => document.querySelectorAll('#messages .reaction:not(.add)').length === 2);
    assert.deepEqual(await alice.$$eval('#messages .reaction:not(.add)', (els) => els.map((e) => [e.dataset.emoji, e.getAttribute('aria-pressed')])),
      [['👍', 'true'], ['🎉', 'false']]);
  });
});

test('mentions: @ completion by keyboard, the mention badge, and the mention marked in the text', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob, carol] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Chen']]);
    await bob.bringToFront();
    await createGroup(bob, 'Team', ['Alice Archer', 'Carol Chen']);
    await until(bob, () => document.getElementById('chat-sub').textContent === '3 members');
    // @ and a letter: the people who fit; ↓ moves, Esc closes, Tab chooses.
    await bob.type('#composer-input', 'lunch @c');
    await until(bob, () => !document.getElementById('mention-list').hidden);
    assert.deepEqual(await bob.$$eval('#mention-list li', (els) => els.map((e) => e.textContent)), ['Carol Chen @carol']);
    await bob.keyboard.press('Escape');
    await until(bob, () => document.getElementById('mention-list').hidden);
    await bob.fill('#composer-input', '');
    await bob.type('#composer-input', 'lunch @a');
    await until(bob, () => document.querySelector('#mention-list li.active')?.textContent === 'Alice Archer @alice');
    assert.equal(await bob.getAttribute('#composer-input', 'aria-expanded'), 'true');
    await bob.keyboard.press('Tab');
    assert.equal(await bob.inputValue('#composer-input'), 'lunch @alice ');
    await bob.type('#composer-input', 'and @e');
    await until(bob, () => document.querySelector('#mention-list li.active')?.textContent.startsWith('@everyone'));
    await bob.keyboard.press('Escape');
    await bob.type('#composer-input', 'veryone?');
    await bob.press('#composer-input', 'Enter');

    // Alice, elsewhere, sees the louder badge; Carol gets one too (@everyone).
    await alice.bringToFront();
    await openConversation(alice, 'general');
    const badge = alice.locator('#conversation-list button', { hasText: 'Team' }).locator('.badge.mention');
    await until(alice, () => document.querySelector('#conversation-list .badge.mention')?.textContent === '@1');
    assert.match(await alice.locator('#conversation-list button', { hasText: 'Team' }).locator('.conv-facts').textContent(), /1 mention of you/);
    await until(carol, () => document.querySelector('#conversation-list .badge.mention')?.textContent === '@1');
    await shot(alice, 'mention-badge-light-desktop');
    // Opening it: the mention of her is marked, and reading clears the badge.
    await openConversation(alice, 'Team');
    await alice.evaluate(() => window.dispatchEvent(new Event('focus')));
    await until(alice, () => document.querySelector('#messages .msg.mentions-me .mention.of-me')?.textContent === '@alice');
    assert.deepEqual(await alice.$$eval('#messages .mention', (els) => els.map((e) => [e.textContent, e.classList.contains('of-me')])),
      [['@alice', true], ['@everyone', true]]);
    await until(alice, () => document.querySelector('#conversation-list .badge.mention') === null);
    assert.equal(await badge.count(), 0);
    await shot(alice, 'mention-light-desktop');
  });
});

test('a backlog opens at "New messages", is read only once seen, and a long one offers a jump to its start', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    const token = await alice.evaluate(() => localStorage.getItem('chinwag.token'));
    const post = async (i) => {
      for (;;) {
        const r = await fetch(`${hub.url}api/v1/conversations/1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ client_id: `b-${i}`, body: `backlog ${i}` }),
        });
        if (r.status !== 429) {
          assert.equal(r.status, 201);
          return;
        }
        await sleep((await r.json()).error.retry_after_ms || 200); // sent faster than the hub takes
      }
    };
    // Bob read general up to "backlog 3"; then 27 more arrive while he is elsewhere.
    for (let i = 1; i <= 3; i += 1) await post(i);
    await bob.bringToFront();
    await openConversation(bob, 'general');
    await bob.evaluate(() => window.dispatchEvent(new Event('focus')));
    await until(bob, () => document.querySelectorAll('#messages .msg').length === 3);
    await startDirect(bob, 'Alice Archer');
    for (let i = 4; i <= 30; i += 1) await post(i);
    await until(bob, () => document.querySelector('#conversation-list .badge')?.textContent === '27');

    await openConversation(bob, 'general');
    await bob.evaluate(() => window.dispatchEvent(new Event('focus')));
    // The history is fetched and laid out after the header changes: wait for the line, then a frame.
    await until(bob, () => document.querySelector('#messages .unread-line')?.nextElementSibling?.querySelector('.bubble') != null);
    await bob.evaluate(() => new Promise((resolve) => { requestAnimationFrame(() => requestAnimationFrame(resolve)); }));
    const line = await bob.evaluate(() => {
      const box = document.getElementById('messages');
      const divider = document.querySelector('#messages .unread-line');
      const next = divider && divider.nextElementSibling;
      return {
        top: divider ? Math.round(divider.getBoundingClientRect().top - box.getBoundingClientRect().top) : null,
        next: next ? next.querySelector('.bubble')?.textContent : null,
      };
    });
    assert.equal(line.next, 'backlog 4', 'the line is above the first unread');
    assert.ok(line.top >= 0 && line.top < 60, `and at the top of the view (${line.top} px)`);
    await sleep(500);
    assert.equal(await bob.locator('#conversation-list .badge').first().textContent(), '27', 'not read before it is seen');
    await shot(bob, 'unread-line-light-desktop');
    await bob.evaluate(() => { const box = document.getElementById('messages'); box.scrollTop = box.scrollHeight; });
    await until(bob, () => document.querySelector('#conversation-list .badge') === null);

    // Sixty more: more than a page. The view opens at the end, with a bar to go back.
    await startDirect(bob, 'Alice Archer');
    for (let i = 31; i <= 90; i += 1) await post(i);
    await until(bob, () => document.querySelector('#conversation-list .badge')?.textContent === '60');
    await openConversation(bob, 'general');
    await until(bob, () => !document.getElementById('jump-unread').hidden);
    await bob.click('#jump-unread');
    await until(bob, () => document.querySelector('#messages .unread-line')?.nextElementSibling?.querySelector('.bubble')?.textContent === 'backlog 31');
  });
});

test('messages that came while I was away from the open conversation get "New messages" above them', async () => {
  await withHub(async (hub, open) => {
    const [bob, alice] = await signUp(open, [['bob', 'Bob Baker'], ['alice', 'Alice Archer']]);
    // Bob's page opened general by itself at sign-in; he has not touched it since.
    await until(bob, () => document.getElementById('chat-name').textContent.includes('general'));
    await alice.bringToFront();
    await openConversation(alice, 'general');
    for (const text of ['while you were out', 'and **this** too']) await send(alice, text);
    await until(bob, () => document.querySelector('#conversation-list .badge')?.textContent === '2');
    await bob.bringToFront();
    const lineAbove = () => bob.evaluate(() => document.querySelector('#messages .unread-line')
      ?.nextElementSibling?.querySelector('.bubble')?.textContent);
    await until(bob, () => document.querySelector('#messages .unread-line') != null);
    assert.equal(await lineAbove(), 'while you were out');
    // His click on the conversation reads it, and the line stays while it is open.
    await openConversation(bob, 'general');
    await until(bob, () => document.querySelector('#conversation-list .badge') === null);
    assert.equal(await lineAbove(), 'while you were out');
    const top = await bob.evaluate(() => document.querySelector('#messages .unread-line').getBoundingClientRect().top
      - document.getElementById('messages').getBoundingClientRect().top);
    assert.ok(top >= 0, `the line is in view (${top} px)`);
    // What he sends himself while looking draws no line of its own.
    await send(bob, 'back now');
    await until(bob, () => [...document.querySelectorAll('#messages .msg:not(.pending) .bubble')].some((b) => b.textContent === 'back now'));
    assert.equal(await bob.locator('#messages .unread-line').count(), 1);
  });
});

test('composer habits: drafts survive a reload, ↑ edits my last message, a caption goes with files, Ctrl+K and Ctrl+Shift+F', async () => {
  await withHub(async (hub, open) => {
    const [alice] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    await alice.bringToFront();
    await startDirect(alice, 'Bob Baker');
    await send(alice, 'Lunch at noon?');
    await until(alice, () => document.querySelectorAll('#messages .msg.mine:not(.pending)').length === 1);

    // ↑ in the empty composer: my last message, edited in place; Esc gives the draft back.
    await alice.press('#composer-input', 'ArrowUp');
    assert.equal(await alice.inputValue('#composer-input'), 'Lunch at noon?');
    assert.equal(await alice.textContent('#reply-who'), 'Editing your message');
    await alice.press('#composer-input', 'Escape');
    assert.equal(await alice.inputValue('#composer-input'), '');
    await alice.press('#composer-input', 'ArrowUp');
    await alice.fill('#composer-input', 'Lunch at 12:30?');
    await alice.press('#composer-input', 'Enter');
    await until(alice, () => [...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes('12:30') && m.textContent.includes('edited')));
    assert.equal(await alice.inputValue('#composer-input'), '');

    // A draft in general, another here: both survive a reload; the list marks general's.
    await openConversation(alice, 'general');
    await alice.fill('#composer-input', 'half a thought');
    await alice.type('#composer-input', ' about **Friday**');
    await openConversation(alice, 'Bob Baker');
    await alice.type('#composer-input', 'see the notes');
    const mark = () => alice.locator('#conversation-list button', { hasText: 'general' }).locator('.conv-preview.draft');
    await until(alice, () => document.querySelector('#conversation-list .conv-preview.draft') !== null);
    assert.equal(await mark().textContent(), 'Draft: half a thought about **Friday**');
    await alice.reload();
    await openConversation(alice, 'Bob Baker');
    assert.equal(await alice.inputValue('#composer-input'), 'see the notes');
    assert.equal(await mark().textContent(), 'Draft: half a thought about **Friday**');
    await openConversation(alice, 'general');
    assert.equal(await alice.inputValue('#composer-input'), 'half a thought about **Friday**');

    // What was typed goes with the files as their caption.
    await openConversation(alice, 'Bob Baker');
    await alice.setInputFiles('#file-input', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('the notes') });
    await until(alice, () => [...document.querySelectorAll('#messages .msg:not(.pending)')].some((m) => m.querySelector('.file-card') && m.querySelector('.bubble')?.textContent === 'see the notes'));
    assert.equal(await alice.inputValue('#composer-input'), '', 'the caption left the composer');

    // Ctrl+K: the quick switcher, by keyboard alone.
    await alice.keyboard.press('Control+k');
    await until(alice, () => document.getElementById('switcher-dialog').open);
    await alice.keyboard.type('gen');
    await until(alice, () => document.querySelector('#switcher-list li.active')?.textContent.startsWith('# general'));
    await alice.keyboard.press('Enter');
    await until(alice, () => document.getElementById('chat-name').textContent === '# general');
    // Ctrl+Shift+F: message search.
    await alice.keyboard.press('Control+Shift+F');
    await until(alice, () => document.getElementById('search-dialog').open);
    // Filters in the box, as Slack's: from:, in:.
    await alice.keyboard.type('notes from:alice in:bob');
    await until(alice, () => document.querySelectorAll('#search-results li').length === 1);
    assert.match(await alice.textContent('#search-results li'), /see the notes/);
    await alice.fill('#search-input', 'notes from:nobody');
    await until(alice, () => document.getElementById('search-status').textContent === 'Nobody is called nobody.');
    await alice.click('#search-dialog button[value=cancel]'); // Esc in a filled search box only empties it
    await until(alice, () => !document.getElementById('search-dialog').open);

    // :shortcode completion puts the emoji in the text.
    await alice.fill('#composer-input', '');
    await alice.type('#composer-input', 'Shipped :tad');
    await until(alice, () => document.querySelector('#mention-list li.active')?.textContent.includes(':tada:'));
    await alice.press('#composer-input', 'Enter');
    assert.equal(await alice.inputValue('#composer-input'), 'Shipped 🎉');
    await alice.type('#composer-input', ' at 12:30');
    assert.ok(await alice.locator('#mention-list').isHidden(), 'a time is no shortcode');
  });
});

test('mark unread from a message: the badge and the line come back, and go when the conversation is read again', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    await startDirect(alice, 'Bob Baker');
    for (const text of ['first', 'second', 'third']) await send(alice, text);
    await bob.bringToFront();
    await openConversation(bob, 'Alice Archer');
    await bob.evaluate(() => window.dispatchEvent(new Event('focus')));
    await until(bob, () => document.querySelectorAll('#messages .msg').length === 3 && !document.querySelector('#conversation-list .badge'));
    const second = bob.locator('#messages .msg', { hasText: 'second' });
    await messageMenu(bob, second, 'Mark unread from here');
    await until(bob, () => document.querySelector('#conversation-list .badge')?.textContent === '2');
    await until(bob, () => document.querySelector('#messages .unread-line')?.nextElementSibling?.textContent.includes('second'));
    await sleep(500);
    assert.equal(await bob.textContent('#conversation-list .badge'), '2', 'not read again while still open');
    // Away and back: read again.
    await openConversation(bob, 'general');
    assert.equal(await bob.locator('#conversation-list button', { hasText: 'Alice Archer' }).locator('.badge').textContent(), '2');
    await openConversation(bob, 'Alice Archer');
    await bob.evaluate(() => window.dispatchEvent(new Event('focus')));
    await until(bob, () => !document.querySelector('#conversation-list .badge'));
  });
});

test('browser notifications on a secure origin follow the settings kept on the hub', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker']]);
    // 127.0.0.1 is a secure context. The page's real Notification runs; the test only
    // records what was shown.
    await bob.context().grantPermissions(['notifications'], { origin: hub.url });
    await bob.evaluate(() => {
      const Real = window.Notification;
      window.shown = [];
      window.Notification = class extends Real {
        constructor(title, options) { super(title, options); window.shown.push([title, options.body]); }
      };
    });
    await openConversation(bob, 'general');
    await alice.bringToFront(); // Bob's page is in the background
    await startDirect(alice, 'Bob Baker');
    await send(alice, 'Are you **free**?');
    await until(bob, () => window.shown.length === 1);
    assert.deepEqual(await bob.evaluate(() => window.shown), [['Alice Archer', 'Are you free?']]);

    // Bob keeps them to direct messages and mentions, in his profile; the hub keeps it.
    await bob.bringToFront();
    await bob.click('#me-button');
    await until(bob, () => !document.getElementById('notify-settings').hidden);
    assert.equal(await bob.textContent('#notify-legend'), 'Notifications in this browser');
    await bob.selectOption('#notify-level', 'direct_and_mentions');
    await until(bob, () => document.getElementById('notify-saved').textContent === 'Saved.');
    await bob.keyboard.press('Escape');
    await openConversation(bob, 'Alice Archer'); // general is out of view
    const token = await bob.evaluate(() => localStorage.getItem('chinwag.token'));
    const kept = await (await fetch(`${hub.url}api/v1/me/notifications`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(kept.level, 'direct_and_mentions');
    await alice.bringToFront();
    await openConversation(alice, 'general');
    await send(alice, 'lunch, anyone?');
    await send(alice, '@bob lunch?');
    await until(bob, () => window.shown.length === 2);
    assert.deepEqual((await bob.evaluate(() => window.shown))[1], ['Alice Archer in # general', '@bob lunch?']);
  });
});

test('group admins manage members; several typers; the length limit shows before sending', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob, carol] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Cho']]);
    const dave = await open();
    await register(dave, 'dave', 'Dave Diaz');
    await alice.bringToFront();
    await alice.reload();
    await alice.waitForSelector('#app-screen:not([hidden])');
    await createGroup(alice, 'Planning', ['Bob Baker', 'Carol Cho']);
    await until(alice, () => document.getElementById('chat-sub').textContent === '3 members');

    // Alice (admin) keeps what was said so far from people added later, then adds Dave and
    // removes Carol from the details dialog.
    await send(alice, 'Before Dave came');
    await openDetails(alice);
    assert.equal(await alice.isChecked('#conv-history'), true, 'history is shown by default');
    await alice.getByLabel('People added later see earlier messages').uncheck();
    await until(alice, () => document.getElementById('announcer').textContent.includes('only what is said after they join'));
    await alice.selectOption('#add-member-form select', { label: 'Dave Diaz' });
    await alice.click('#add-member-form button');
    await until(alice, () => [...document.querySelectorAll('#info-members li')].some((li) => li.textContent.includes('Dave Diaz')));
    await shot(alice, 'group-details-light-desktop');
    await alice.getByRole('button', { name: 'Remove Carol Cho' }).click();
    await answerConfirm(alice, 'Remove Carol Cho?', 'Remove Carol Cho');
    await until(alice, () => ![...document.querySelectorAll('#info-members li')].some((li) => li.textContent.includes('Carol Cho')));
    await alice.keyboard.press('Escape');
    assert.equal(await alice.isVisible('#info-dialog'), false, 'Esc closes the dialog');
    await until(dave, () => [...document.querySelectorAll('#conversation-list .conv-name')].some((n) => n.textContent === 'Planning'));
    await until(carol, () => ![...document.querySelectorAll('#conversation-list .conv-name')].some((n) => n.textContent === 'Planning'));
    // Bob is not an admin: no member controls for him.
    await bob.bringToFront();
    await openConversation(bob, 'Planning');
    await openDetails(bob);
    assert.equal(await bob.isVisible('#add-member-form'), false);
    assert.equal(await bob.isVisible('#conv-history'), false, 'only admins change the history setting');
    assert.equal(await bob.locator('#info-members button', { hasText: 'Remove' }).count(), 0);
    await bob.keyboard.press('Escape');

    // Dave, added after it was said, does not see Alice's first message; Bob does.
    await openConversation(dave, 'Planning');
    await send(bob, 'Welcome, Dave');
    await until(dave, () => [...document.querySelectorAll('#messages .msg')].some((m) => m.textContent.includes('Welcome, Dave')));
    assert.equal((await bodies(dave)).includes('Before Dave came'), false, 'hidden from Dave');
    assert.equal((await bodies(bob)).includes('Before Dave came'), true);
    // Dave has read the group, but not what he cannot see: Alice is not told he saw it.
    await until(alice, () => (document.querySelector('#messages .seen-by') || {}).textContent === 'Seen by Bob Baker');

    // Two people typing, seen by the third.
    // Typed without moving focus: two headless pages take focus from each other, and a blur
    // rightly stops the indicator.
    const typeInto = (page, text) => page.evaluate((t) => {
      const input = document.getElementById('composer-input');
      input.value = t;
      input.dispatchEvent(new Event('input'));
    }, text);
    await typeInto(bob, 'I think');
    await typeInto(alice, 'Maybe');
    await until(dave, () => ['Alice Archer and Bob Baker are typing…', 'Bob Baker and Alice Archer are typing…']
      .includes(document.getElementById('typing').textContent));

    // One byte over the hub's limit: said before sending, and Send is disabled.
    const limit = (await (await fetch(`${hub.url}api/v1/hub`)).json()).limits.max_message_bytes;
    await alice.fill('#composer-input', 'x'.repeat(limit + 1));
    await until(alice, () => document.getElementById('composer-hint').textContent.startsWith('Too long by 1 bytes'));
    assert.equal(await alice.isDisabled('#send'), true);
    const shown = await alice.locator('#messages .msg').count();
    await alice.press('#composer-input', 'Enter');
    await sleep(200);
    assert.equal(await alice.locator('#messages .msg').count(), shown, 'nothing was sent');
    await alice.fill('#composer-input', 'x'.repeat(limit));
    assert.equal(await alice.isDisabled('#send'), false);
  });
});


/**
 * Opens the chat's details dialog and waits until it shows: it is filled in after the
 * members are fetched, so what it says is read only once it is open.
 */
async function openDetails(page) {
  await page.click('#chat-info');
  await until(page, () => document.getElementById('info-dialog').open);
}

/** The `#conversation-list` entry named `name` (its button). */
function listEntry(page, name) {
  return page.locator('#conversation-list button', { has: page.locator('.conv-name', { hasText: name }) }).first();
}

test('mute quiets a conversation on every device; a blocked person cannot write to me and is not seen typing', async () => {
  await withHub(async (hub, open) => {
    const [alice, bob, carol] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Cho']]);

    // Carol mutes # general from its details.
    await carol.bringToFront();
    await openConversation(carol, '# general');
    await carol.click('#chat-info');
    await carol.check('#conv-mute');
    await until(carol, () => [...document.querySelectorAll('#conversation-list .conv-facts')].some((f) => f.textContent.includes('muted')));
    await carol.keyboard.press('Escape');
    await startDirect(carol, 'Alice Archer'); // looking elsewhere

    // Bob writes in # general: Carol's unread count is there but quiet, and not in her title.
    await openConversation(bob, '# general');
    await send(bob, 'Anyone for coffee?');
    await until(carol, () => document.querySelector('#conversation-list button.quiet.unread .badge')?.textContent === '1');
    assert.equal(await carol.title(), 'Test Office · Chinwag', 'a muted conversation does not count in the title');
    assert.match(await listEntry(carol, '# general').locator('.conv-facts').textContent(), /1 unread, muted/);
    // Alice did not mute it: hers is loud.
    assert.equal(await alice.locator('#conversation-list button.quiet').count(), 0);

    // The mute lives on the hub: a new tab (another device) shows it, and unmuting works there.
    const carol2 = await open();
    await carol2.evaluate((token) => localStorage.setItem('chinwag.token', token),
      await carol.evaluate(() => localStorage.getItem('chinwag.token')));
    await carol2.reload();
    await carol2.waitForSelector('#app-screen:not([hidden])');
    await until(carol2, () => document.querySelector('#conversation-list button.quiet .conv-muted'));
    await openConversation(carol2, '# general');
    await carol2.click('#chat-info');
    await until(carol2, () => document.getElementById('info-dialog').open && document.getElementById('conv-mute').checked);
    await carol2.uncheck('#conv-mute');
    await until(carol2, () => !document.querySelector('#conversation-list .conv-muted'));
    await carol2.keyboard.press('Escape');
    // The first tab follows at once, without a reload; and back again.
    await until(carol, () => !document.querySelector('#conversation-list .conv-muted'));
    await carol2.click('#chat-info');
    await carol2.check('#conv-mute');
    await until(carol, () => [...document.querySelectorAll('#conversation-list .conv-facts')].some((f) => f.textContent.includes('muted')));
    await carol2.uncheck('#conv-mute');
    await until(carol, () => !document.querySelector('#conversation-list .conv-muted'));
    await carol2.keyboard.press('Escape');

    // Carol blocks Bob from their direct chat.
    await carol.bringToFront();
    await startDirect(carol, 'Bob Baker');
    await carol.click('#chat-info');
    await carol.click('#block-peer');
    assert.match(await answerConfirm(carol, 'Block Bob Baker?', 'Block Bob Baker'), /They are not told/);
    await until(carol, () => document.getElementById('block-peer').textContent === 'Unblock Bob Baker');
    await carol.keyboard.press('Escape');
    await until(carol, () => !document.getElementById('blocked-note').hidden);
    assert.match(await carol.textContent('#blocked-text'), /You blocked Bob Baker/);
    // Her other tab, in the same chat, shows the block at once.
    await startDirect(carol2, 'Bob Baker');
    await until(carol2, () => !document.getElementById('blocked-note').hidden);
    await shot(carol, 'blocked-light-desktop');

    // Bob's direct message to her is refused, clearly, and kept for him to retry or discard.
    await bob.bringToFront();
    await startDirect(bob, 'Carol Cho');
    await send(bob, 'Why no coffee?');
    await until(bob, () => document.querySelector('#messages .msg.pending .ticks.failed')?.textContent
      .includes('does not accept direct messages from you'));
    assert.equal(await carol.locator('#messages .bubble', { hasText: 'Why no coffee?' }).count(), 0);

    // Bob typing in # general: Alice sees it, Carol never does.
    await openConversation(bob, '# general');
    await openConversation(carol, '# general');
    await openConversation(alice, '# general');
    await bob.evaluate(() => {
      const input = document.getElementById('composer-input');
      input.value = 'hmm';
      input.dispatchEvent(new Event('input'));
    });
    await until(alice, () => document.getElementById('typing').textContent === 'Bob Baker is typing…');
    await sleep(500);
    assert.equal(await carol.textContent('#typing'), '', 'a blocked person is not seen typing');

    // Unblocking from the note lets his messages through again.
    await startDirect(carol, 'Bob Baker');
    await carol.click('#blocked-unblock');
    await until(carol, () => document.getElementById('blocked-note').hidden);
    await startDirect(bob, 'Carol Cho');
    const failed = bob.locator('#messages .msg.pending').first();
    await failed.getByRole('button', { name: 'Retry' }).click();
    await until(carol, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'Why no coffee?'));
  });
});

test('a reported message reaches the hub admin, who deletes it and disables and re-enables its author', async () => {
  await withHub(async (hub, open) => {
    // The first account on a hub is its admin.
    const [alice, bob, carol] = await signUp(open, [['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Cho']]);
    assert.equal(await bob.isVisible('#open-admin'), false, 'only hub admins see the panel');
    await until(alice, () => !document.getElementById('open-admin').hidden);

    await openConversation(bob, '# general');
    await send(bob, 'Cheap watches at <b>example</b>');
    await openConversation(carol, '# general');
    const spam = carol.locator('#messages .msg', { hasText: 'Cheap watches' });
    await spam.waitFor();
    assert.deepEqual(await menuOf(carol, spam), ['Reply', 'React', 'Mark unread from here', 'Report message'], 'Carol is no admin');
    await messageMenu(carol, spam, 'Report message');
    assert.equal(await carol.textContent('#report-quote'), 'Cheap watches at <b>example</b>');
    await carol.fill('#report-reason', 'spam <script>alert(1)</script>');
    await carol.click('#report-form button.primary');
    await until(carol, () => document.getElementById('banner-text').textContent.includes('Reported'));

    // Alice opens the panel: the report is there, with who, where and why, as text.
    await alice.bringToFront();
    await alice.click('#open-admin');
    const report = alice.locator('#admin-reports li.report').first();
    await report.waitFor();
    const text = await report.textContent();
    for (const part of ['Bob Baker', '# general', 'Cheap watches at <b>example</b>', 'Reported by Carol Cho', 'spam <script>alert(1)</script>']) {
      assert.ok(text.includes(part), `the report shows ${part}: ${text}`);
    }
    assert.equal(await alice.textContent('#admin-tab-reports'), 'Reports (1)');
    await shot(alice, 'admin-reports-light-desktop');
    await report.getByRole('button', { name: 'Delete message' }).click();
    await answerConfirm(alice, 'Delete message?', 'Delete message');
    await until(alice, () => document.querySelector('#admin-reports li.report.resolved .report-quote')?.textContent === 'This message was deleted');
    await until(bob, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'This message was deleted'));
    await until(carol, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'This message was deleted'));

    // People: Alice disables Bob, who is signed out at once and cannot sign back in.
    await alice.click('#admin-tab-people');
    const bobRow = alice.locator('#admin-people li', { hasText: '@bob' });
    await bobRow.getByRole('button', { name: 'Disable' }).click();
    await answerConfirm(alice, 'Disable Bob Baker?', 'Disable Bob Baker');
    await until(alice, () => document.querySelector('#admin-people li.disabled')?.textContent.includes('@bob'));
    await bob.waitForSelector('#auth-screen:not([hidden])');
    await bob.fill('#auth-form input[name=username]', 'bob');
    await bob.fill('#auth-form input[name=password]', 'bob-password');
    await bob.click('#auth-submit');
    await until(bob, () => /disabled/i.test(document.getElementById('auth-error').textContent));
    // Carol no longer offers him for a new chat.
    await carol.click('#new-direct');
    await until(carol, () => document.querySelectorAll('#directory-list li').length > 0);
    assert.equal(await carol.locator('#directory-list li', { hasText: 'Bob Baker' }).count(), 0);
    await carol.keyboard.press('Escape');

    // Alice adds an account from the panel, and a bad one is refused with the hub's reason.
    const create = alice.locator('#admin-people form.admin-create');
    await create.locator('input[name=username]').fill('dave');
    await create.locator('input[name=password]').fill('short');
    await create.locator('button').click();
    await until(alice, () => document.getElementById('admin-error').textContent.length > 0);
    await create.locator('input[name=password]').fill('dave-password');
    await create.locator('button').click();
    await until(alice, () => [...document.querySelectorAll('#admin-people li')].some((li) => li.textContent.includes('@dave')));
    await shot(alice, 'admin-people-light-desktop');

    // Enabled again, Bob signs in and chats.
    await alice.locator('#admin-people li', { hasText: '@bob' }).getByRole('button', { name: 'Enable' }).click();
    await until(alice, () => !document.querySelector('#admin-people li.disabled'));
    await bob.click('#auth-submit');
    await bob.waitForSelector('#app-screen:not([hidden])');
    await until(carol, () => {
      document.getElementById('new-direct').click();
      const found = [...document.querySelectorAll('#directory-list li')].some((li) => li.textContent.includes('Bob Baker'));
      document.getElementById('directory-dialog').close();
      return found;
    });
  });
});

/**
 * What sticks out past the right edge of the screen: shown elements whose box ends beyond
 * it, unless an ancestor clips or scrolls them (a code block, the emoji grid).
 */
async function overflowing(page) {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    const clipped = (el) => {
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const o = getComputedStyle(p).overflowX;
        if (o === 'auto' || o === 'scroll' || o === 'hidden' || o === 'clip') return true;
      }
      return false;
    };
    const out = [...document.querySelectorAll('body *')].filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && r.right > width + 1 && !clipped(el) && !el.closest('.visually-hidden');
    }).map((el) => `${el.tagName.toLowerCase()}#${el.id}.${el.className}: ${Math.round(el.getBoundingClientRect().right)} > ${width}`);
    // An open dialog clips what is too wide for it: that is a sideways scroll inside it.
    for (const d of document.querySelectorAll('dialog[open]')) {
      if (d.scrollWidth > d.clientWidth + 1) out.push(`dialog#${d.id} scrolls sideways: ${d.scrollWidth} > ${d.clientWidth}`);
    }
    return out;
  });
}

test('phone widths from 320 to 430 px: nothing is wider than the screen in the sign-in, the list, the chat, each dialog or the admin panel', async () => {
  await withHub(async (hub, open) => {
    const page = await open({ viewport: { width: 320, height: 700 } });
    for (const width of [320, 390, 430]) {
      await page.setViewportSize({ width, height: 700 });
      assert.deepEqual(await overflowing(page), [], `sign-in at ${width} px`);
    }
    await register(page, 'alice', 'Alice Archer-Montgomery-Wolfeschlegelsteinhausen');
    const bob = await open({ viewport: { width: 320, height: 700 } });
    await register(bob, 'bob', 'Bob Baker with a rather long display name indeed');
    await page.bringToFront();
    await startDirect(page, 'Bob Baker with a rather long display name indeed');
    await send(page, `A long first line that goes on: ${'word '.repeat(40)}https://example.com/${'x'.repeat(200)}`);
    await send(page, '```\nconst aVeryLongLineOfCode = "that scrolls sideways inside its block and never widens the page";\n```');
    await page.click('#back');
    for (const width of [320, 390, 430]) {
      await page.setViewportSize({ width, height: 700 });
      assert.deepEqual(await overflowing(page), [], `the list at ${width} px`);
      const badge = await page.evaluate(() => {
        const entry = document.querySelector('#conversation-list button');
        const time = entry.querySelector('.conv-time').getBoundingClientRect();
        return { right: time.right, width: document.documentElement.clientWidth };
      });
      assert.ok(badge.right <= badge.width, `the time of the newest message shows at ${width} px`);
    }
    await openConversation(page, 'Bob Baker');
    for (const width of [320, 390, 430]) {
      await page.setViewportSize({ width, height: 700 });
      assert.deepEqual(await overflowing(page), [], `the chat at ${width} px`);
    }
    await shot(page, 'chat-light-phone-320');

    // Every dialog, and the admin panel (Alice made the hub), at each width.
    const dialogs = [ // opened from the chat, or from the list
      ['info-dialog', 'chat', () => page.click('#chat-info')],
      ['emoji-dialog', 'chat', () => page.evaluate(() => { const m = document.querySelector('#messages .msg'); m.focus(); m.querySelector('.msg-actions button').click(); })],
      ['switcher-dialog', 'chat', () => page.keyboard.press('Control+k')],
      ['profile-dialog', 'list', () => page.click('#me-button')],
      ['search-dialog', 'list', async () => { await page.click('#open-search'); await page.fill('#search-input', 'first line'); await until(page, () => document.querySelectorAll('#search-results li').length > 0); }],
      ['directory-dialog', 'list', () => page.click('#new-direct')],
      ['group-dialog', 'list', () => page.click('#new-group')],
      ['admin-dialog', 'list', () => page.click('#open-admin')],
    ];
    for (const [id, from, openIt] of dialogs) {
      if (from === 'list' && await page.isVisible('#back')) await page.click('#back');
      await openIt();
      await until(page, (d) => document.getElementById(d).open, id);
      for (const width of [320, 390, 430]) {
        await page.setViewportSize({ width, height: 700 });
        assert.deepEqual(await overflowing(page), [], `${id} at ${width} px`);
      }
      await shot(page, `${id.replace('-dialog', '')}-light-phone-430`);
      await page.evaluate((d) => document.getElementById(d).close(), id);
      await page.setViewportSize({ width: 320, height: 700 });
    }
  });
});

test('phone width: one column, list then chat', async () => {
  await withHub(async (hub, open) => {
    const alice = await open({ viewport: PHONE });
    await shot(alice, 'login-light-phone');
    await register(alice, 'alice', 'Alice Archer');
    const bob = await open({ viewport: PHONE, colorScheme: 'dark' });
    await register(bob, 'bob', 'Bob Baker');
    await bob.reload();
    await bob.waitForSelector('#conversation-list button');
    await shot(bob, 'list-dark-phone');
    // Alice is the hub's admin: her header has one more button, and still fits.
    await alice.bringToFront();
    await until(alice, () => !document.getElementById('open-admin').hidden);
    const header = await alice.evaluate(() => {
      const head = document.querySelector('.sidebar-head');
      return { scroll: head.scrollWidth, client: head.clientWidth };
    });
    assert.ok(header.scroll <= header.client, `the header fits: ${JSON.stringify(header)}`);
    await shot(alice, 'list-light-phone-admin');
    await startDirect(bob, 'Alice Archer');
    await send(bob, 'Hello from a small screen, with a fairly long line to show wrapping works.');
    assert.equal(await bob.isVisible('#conversation-list'), false, 'the list makes way for the chat');
    await until(bob, () => document.querySelectorAll('#messages .msg.mine:not(.pending)').length === 1);
    await shot(bob, 'chat-dark-phone');
    await bob.click('#back');
    assert.equal(await bob.isVisible('#conversation-list'), true);
    // Keyboard: Esc closes a dialog; Alt+N opens the directory.
    await bob.keyboard.press('Alt+N');
    assert.equal(await bob.isVisible('#directory-dialog'), true);
    await bob.keyboard.press('Escape');
    assert.equal(await bob.isVisible('#directory-dialog'), false);
  });
});

test('sign-in errors are clear', async () => {
  await withHub(async (hub, open) => {
    const page = await open({ viewport: DESKTOP });
    await register(page, 'alice', 'Alice');
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await page.fill('#auth-form input[name=username]', 'alice');
    await page.fill('#auth-form input[name=password]', 'wrong-password');
    await page.click('#auth-submit');
    await until(page, () => document.getElementById('auth-error').textContent === 'Wrong username or password.');
    await page.click('#tab-register');
    await page.fill('#auth-form input[name=username]', 'ALICE');
    await page.fill('#auth-form input[name=password]', 'long enough');
    await page.click('#auth-submit');
    await until(page, () => document.getElementById('auth-error').textContent === 'That username is already taken.');
    await hub.stop('SIGKILL');
    await page.click('#tab-login');
    await page.fill('#auth-form input[name=username]', 'alice');
    await page.fill('#auth-form input[name=password]', 'alice-password');
    await page.click('#auth-submit');
    await until(page, () => document.getElementById('auth-error').textContent.startsWith('Cannot reach the hub'));
  });
});

test('joined through a node: chat, a hub outage with pending messages, an app restart, nothing lost', async () => {
  const hub = await Hub.start();
  const node = await JoinedNode.start(hub);
  const pages = [];
  try {
    const bob = await person(browser, hub);
    pages.push(bob);
    await register(bob, 'bob', 'Bob Baker');
    // Alice's app is the joined node; her page is served by it.
    const alice = await person(browser, node);
    pages.push(alice);
    await register(alice, 'alice', 'Alice Archer');
    await startDirect(alice, 'Bob Baker');
    await send(alice, 'Hello from the joined app');
    await openConversation(bob, 'Alice Archer');
    await until(bob, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'Hello from the joined app'));
    await send(bob, 'Hi Alice, got it');
    await until(alice, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'Hi Alice, got it'));

    // The hub goes away: Alice's app says so, keeps what she writes, and still shows history.
    await hub.stop();
    await until(alice, () => !document.getElementById('banner').hidden
      && document.getElementById('banner-text').textContent.includes('out of reach'), undefined, 20000);
    await send(alice, 'Written while the hub was away');
    await until(alice, () => document.querySelector('#messages .msg.mine.pending .bubble')?.textContent === 'Written while the hub was away');
    await shot(alice, 'joined-hub-away');

    // She closes the app (the node and the page) and opens it again, hub still away.
    await alice.context().close();
    pages.splice(pages.indexOf(alice), 1);
    await node.restart();
    const again = await person(browser, node);
    pages.push(again);
    // A new browser profile: no localStorage. Sign-in needs the hub, so sign in after it is
    // back; the pending message comes from the node's disk, not from the page.
    await hub.restart('SIGTERM');
    await until(again, () => !document.getElementById('auth-screen').hidden);
    await again.fill('#auth-form input[name=username]', 'alice');
    await again.fill('#auth-form input[name=password]', 'alice-password');
    await again.click('#auth-submit');
    await again.waitForSelector('#app-screen:not([hidden])');
    await openConversation(again, 'Bob Baker');
    await until(bob, () => [...document.querySelectorAll('#messages .bubble')].some((b) => b.textContent === 'Written while the hub was away'), undefined, 20000);
    await until(again, () => [...document.querySelectorAll('#messages .msg.mine:not(.pending) .bubble')]
      .some((b) => b.textContent === 'Written while the hub was away'), undefined, 20000);
    await shot(again, 'joined-after-restart');
    const seen = await bodies(bob);
    assert.deepEqual(seen.filter((b) => b === 'Written while the hub was away'), ['Written while the hub was away'], 'delivered once');
    assert.deepEqual(await bodies(again), ['Hello from the joined app', 'Hi Alice, got it', 'Written while the hub was away']);
    for (const p of pages) assertClean(p);
  } finally {
    for (const p of pages) await p.context().close();
    await node.dispose();
    await hub.dispose();
  }
});
