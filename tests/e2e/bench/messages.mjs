// Benchmark (not a test): main-thread time the web UI spends when one message arrives in an
// open conversation that already shows N messages, in Debian's chromium.
//
//   node tests/e2e/bench/messages.mjs [N=1200] [REPS=30]
//
// Bob sends N messages to a direct chat over REST; Alice's page opens it and scrolls up until
// all N are loaded; then Bob sends REPS more, one at a time, and for each the page's
// TaskDuration (Chrome DevTools Performance metrics: all main-thread work, script, style,
// layout and paint) is read before it is sent and after it is shown and the page is idle.
// Prints the median, p95 and worst, and one JSON line. Figures go in BENCHMARKS.md.
import { Hub, launch, person, register, openConversation, sleep } from '../harness.mjs';

const N = Number(process.argv[2] || 1200);
const REPS = Number(process.argv[3] || 30);

class FastHub extends Hub {
  args(bind) {
    return [...super.args(bind), '--messages-per-second', '100000'];
  }
}

async function api(hub, method, path, token, body) {
  const res = await fetch(new URL(`/api/v1/${path}`, hub.url), {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

const hub = await FastHub.start();
const browser = await launch();
try {
  const alicePage = await person(browser, hub);
  await register(alicePage, 'alice', 'Alice');
  const bob = await api(hub, 'POST', 'auth/register', null, { username: 'bob', display_name: 'Bob', password: 'bob-password' });
  const directory = await api(hub, 'GET', 'users', bob.token);
  const alice = directory.find((e) => (e.user || e).username === 'alice');
  alice.id = (alice.user || alice).id;
  const direct = await api(hub, 'POST', 'conversations/direct', bob.token, { user_id: alice.id });
  const convId = (direct.conversation || direct).id;
  let sent = 0;
  const say = (text) => api(hub, 'POST', `conversations/${convId}/messages`, bob.token,
    { client_id: `bench-${sent++}`, body: text });
  for (let i = 0; i < N; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => say(`history line ${i + k}: the quick brown fox jumps over the lazy dog`)));
  }
  await alicePage.reload();
  await alicePage.waitForSelector('#app-screen:not([hidden])');
  await openConversation(alicePage, 'Bob');
  const shown = () => alicePage.$$eval('#messages .msg', (els) => els.length);
  // Waits until the newest message on the page is `text`. It looks at the last row only: the
  // check runs in the page every frame, and a scan of every row would be charged to the UI.
  const shownLast = (text) => alicePage.waitForFunction((t) => {
    const last = document.querySelector('#messages .msg:last-of-type .bubble');
    return last !== null && last.textContent === t;
  }, text);
  for (let tries = 0; (await shown()) < N && tries < 200; tries += 1) {
    await alicePage.$eval('#messages', (box) => { box.scrollTop = 0; box.dispatchEvent(new Event('scroll')); });
    await sleep(150);
  }
  const loaded = await shown();
  await alicePage.$eval('#messages', (box) => { box.scrollTop = box.scrollHeight; });
  await sleep(500);
  const cdp = await alicePage.context().newCDPSession(alicePage);
  await cdp.send('Performance.enable');
  const taskSeconds = async () => {
    const { metrics } = await cdp.send('Performance.getMetrics');
    return metrics.find((m) => m.name === 'TaskDuration').value;
  };
  const costs = [];
  for (let r = 0; r < REPS; r += 1) {
    const before = await taskSeconds();
    const text = `live message ${r}`;
    await say(text);
    await shownLast(text);
    await sleep(300);
    costs.push((await taskSeconds() - before) * 1000);
  }
  if (process.env.PROFILE) {
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.start');
    for (let r = 0; r < 10; r += 1) {
      const text = `profiled message ${r}`;
      await say(text);
      await shownLast(text);
      await sleep(300);
    }
    const { profile } = await cdp.send('Profiler.stop');
    const self = new Map();
    const dt = profile.timeDeltas;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const n = byId.get(id);
      const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
      self.set(key, (self.get(key) || 0) + (dt[i] || 0) / 1000);
    });
    const top = [...self].filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(program)')).sort((a, b) => b[1] - a[1]).slice(0, 25);
    for (const [k, ms] of top) console.log(`${ms.toFixed(1).padStart(8)} ms  ${k}`);
  }
  costs.sort((a, b) => a - b);
  const at = (q) => costs[Math.min(costs.length - 1, Math.floor(q * costs.length))];
  const result = { bench: 'ui-message-arrival', loaded, reps: REPS, median_ms: at(0.5), p95_ms: at(0.95), max_ms: costs[costs.length - 1] };
  console.log(`${loaded} messages shown; main-thread time per arriving message: median ${result.median_ms.toFixed(1)} ms, p95 ${result.p95_ms.toFixed(1)} ms, worst ${result.max_ms.toFixed(1)} ms (${REPS} messages)`);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  await hub.stop();
}
