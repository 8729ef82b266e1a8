// Benchmark (not a test): the real desktop window in a busy conversation. The app hosts a hub;
// two colleagues on the hub (REST, 20 messages a second each, the default per-person limit)
// send N messages at 40 a second into the open # general. For each message, the page notes
// when its text first shows (a MutationObserver put in the page) against the time in its
// body; the WebKit web process's CPU and memory are read from /proc before, during and after.
// Run by `CHINWAG_DESKTOP_BENCH=1 tests/desktop/run target/debug/chinwag` (Xvfb, a private
// network namespace); prints human lines and one JSON line. Figures go in BENCHMARKS.md.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { Window, rest, sleep } from './driver.mjs';

const N = Number(process.env.CHINWAG_BENCH_MESSAGES || 1000);
const RATE = 40;

/** The WebKit web processes under the app: their summed CPU seconds and RSS (MiB). */
function webProcess() {
  const pids = execFileSync('pgrep', ['-f', 'WebKitWebProcess'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  const tick = 100;
  let cpu = 0;
  let rss = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpu += (Number(fields[11]) + Number(fields[12])) / tick;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      rss += Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
    } catch {
      // gone
    }
  }
  return { cpu, rss, count: pids.length };
}

const win = await Window.open();
try {
  await win.host('Bench');
  await win.register('dana', 'Dana');
  const people = [];
  for (const name of ['eve', 'finn']) {
    const r = await rest('POST', '/auth/register', null, { username: name, password: `${name}-password` });
    people.push(r.body.token);
  }
  const convs = await rest('GET', '/conversations', people[0]);
  const general = convs.body.find((c) => c.kind === 'general');
  await win.run('document.querySelector("#conversation-list button").click()');
  await win.until('# general open', 'return document.getElementById("chat-name").textContent.includes("general")');
  await win.run(`
    window.__seen = new Map();
    const box = document.getElementById('messages');
    // Only the rows added: the observer must not cost what it measures.
    new MutationObserver((records) => {
      const now = Date.now();
      for (const record of records) {
        for (const node of record.addedNodes) {
          const b = node.querySelector && node.querySelector('.bubble');
          const m = b && /^bench (\\d+) (\\d+)$/.exec(b.textContent);
          if (m && !window.__seen.has(m[1])) window.__seen.set(m[1], now - Number(m[2]));
        }
      }
    }).observe(box, { childList: true });`);
  // CHINWAG_BENCH_WARMUP messages first (not measured), to tell the engine's one-time costs
  // from what the burst itself adds.
  const warmup = Number(process.env.CHINWAG_BENCH_WARMUP || 0);
  for (let i = 0; i < warmup; i += 1) {
    await rest('POST', `/conversations/${general.id}/messages`, people[i % 2], { client_id: `w-${i}`, body: `warm-up ${i}` });
    await sleep(1000 / RATE);
  }
  if (warmup) await sleep(15000);
  await sleep(2000);
  const before = webProcess();
  const started = Date.now();
  for (let i = 0; i < N; i += 1) {
    const due = started + (i * 1000) / RATE;
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    const token = people[i % 2];
    rest('POST', `/conversations/${general.id}/messages`, token, { client_id: `b-${i}`, body: `bench ${i} ${Date.now()}` })
      .then((r) => { if (r.status !== 201) console.log(`message ${i}: ${r.status} ${JSON.stringify(r.body)}`); });
  }
  const sentIn = (Date.now() - started) / 1000;
  const during = webProcess();
  const deadline = Date.now() + 120000;
  let shown = 0;
  while (Date.now() < deadline) {
    shown = await win.run('return window.__seen.size');
    if (shown >= N) break;
    await sleep(500);
  }
  const lastShownAfter = (Date.now() - started) / 1000 - sentIn;
  // Idle again: the web process's CPU per second, for up to 30 s after the last message.
  let idleAfter = null;
  let prev = webProcess();
  for (let s = 1; s <= 30; s += 1) {
    await sleep(1000);
    const now = webProcess();
    if (now.cpu - prev.cpu < 0.05 && idleAfter === null) idleAfter = s;
    prev = now;
    if (idleAfter !== null) break;
  }
  const after = webProcess();
  // Memory a while later: the engine frees what the page let go of lazily (its collector
  // and the allocator's scavenger run on timers), so the first figure includes garbage.
  const settleMs = Number(process.env.CHINWAG_BENCH_SETTLE_MS || 15000);
  const settleS = settleMs / 1000;
  await sleep(settleMs);
  const settled = webProcess();
  const lat = (await win.run('return [...window.__seen.values()]')).map(Number).sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const result = {
    bench: 'desktop-busy-conversation', messages: N, rate: RATE, shown,
    latency_ms: { p50: q(0.5), p95: q(0.95), p99: q(0.99), max: lat[lat.length - 1] },
    web_cpu_s_while_sending: during.cpu - before.cpu, sending_s: sentIn,
    idle_after_s: idleAfter, last_shown_after_sending_s: lastShownAfter,
    web_rss_mib: {
      before: before.rss, after: after.rss, growth: after.rss - before.rss,
      settled_after_s: settleS, settled: settled.rss, settled_growth: settled.rss - before.rss,
    },
  };
  console.log(`${shown} of ${N} shown; from send to shown: p50 ${q(0.5)} ms, p95 ${q(0.95)} ms, p99 ${q(0.99)} ms, worst ${lat[lat.length - 1]} ms`);
  console.log(`web process: ${((during.cpu - before.cpu) / sentIn).toFixed(2)} cores while sending; idle ${idleAfter === null ? 'not within 30 s' : `${idleAfter} s`} after; RSS ${before.rss.toFixed(0)} -> ${after.rss.toFixed(0)} MiB (+${(after.rss - before.rss).toFixed(0)}), ${settleS} s later ${settled.rss.toFixed(0)} MiB (+${(settled.rss - before.rss).toFixed(0)})`);
  console.log(JSON.stringify(result));
} finally {
  await win.close();
}
