/**
 * `npm run bench:latency`: how long the user waits for their first authorized answer, the classic
 * flow against in-band login, over loopback HTTP with a fixed delay put on every hop. A benchmark,
 * not a test: it prints what it measured and exits 0 whatever the numbers (1 only on a crash).
 *
 * One process: the WeChat API emulator and two reference servers, each on its own port:
 *   - classic: the flow before in-band login (kit `inbandLogin: false`, server `renewAfter: 0`):
 *     a login is wx.login, then POST /auth/login, then the call;
 *   - in-band: kit `inbandLogin: true`, server defaults (renewal at half the token's life).
 * The kit runs on scripts/node-wx.ts (wx.login asks the emulator for a code, wx.request is real
 * HTTP), with every wx.login and wx.request answered BENCH_HOP_MS later than it arrived: a phone's
 * round trip (100–300 ms a hop on a mobile network).
 *
 * Measured, BENCH_RUNS times each (a fresh kit every run), median and slowest:
 *   - cold start: launch() and the page's first call at once, nothing stored;
 *   - after a 401: logged in, the server has dropped the session; the call, its 401, the recovery;
 *   - after expiry: a relaunch whose stored token has passed its expiresAt.
 * Then 8 simulated hours (Date faked, hops undelayed): a call a minute on one kit, counting the
 * calls that waited for a login (a wx.login, a login POST or a code on the way during the call),
 * the wx.login calls after the first, the login POSTs and the code2Session calls.
 *
 * Env: BENCH_HOP_MS (150), BENCH_RUNS (15), BENCH_HOURS (8).
 */
import FakeTimers from '@sinonjs/fake-timers';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pc from 'picocolors';
import { buildEmulator } from '../emulator';
import { buildServer } from '../reference-server/app';
import { createAuth, type WxLike } from '../src';
import { createNodeWx } from './node-wx';

const HOP_MS = Number(process.env.BENCH_HOP_MS ?? 150);
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const HOURS = Number(process.env.BENCH_HOURS ?? 8);
const APPID = 'wxbench000000000';
const STORAGE_KEY = 'wx-login-kit:token';

type Flow = 'classic' | 'in-band';

/** `wx` whose wx.login and wx.request answer `ms` later: each a hop of a phone's network. */
function delayed(wx: WxLike, ms: number): WxLike {
  const later = <T>(fn?: (res: T) => void) => fn && ((res: T) => void setTimeout(() => fn(res), ms));
  return {
    ...wx,
    login: (o) => wx.login({ ...o, success: later(o.success), fail: later(o.fail) }),
    request: (o) => wx.request({ ...o, success: later(o.success), fail: later(o.fail) }),
  };
}

async function main() {
  const secret = randomBytes(16).toString('hex');
  const emulator = buildEmulator({ apps: { [APPID]: secret } });
  let code2Session = 0;
  emulator.app.addHook('onRequest', async (req) => {
    if (req.url.startsWith('/sns/jscode2session')) code2Session++;
  });
  const emulatorBase = await emulator.app.listen({ port: 0, host: '127.0.0.1' });
  // The servers' clock: moved on by hand to expire sessions, and by the faked Date in the 8 hours.
  let offset = 0;
  const now = () => Date.now() + offset;
  const wechat = { apiBase: emulatorBase, appid: APPID, secret };
  const servers = {
    classic: buildServer({ wechat, now, renewAfter: 0, rateLimit: false }),
    'in-band': buildServer({ wechat, now, rateLimit: false }),
  };
  const base = {
    classic: await servers.classic.listen({ port: 0, host: '127.0.0.1' }),
    'in-band': await servers['in-band'].listen({ port: 0, host: '127.0.0.1' }),
  };
  let n = 0;

  /**
   * A fresh install of the app (its own storage) for a new user, talking to `server`'s server with
   * `inband` on or off; `make()` is a launch of it (a new kit instance over the same storage).
   */
  function kit(server: Flow, inband: boolean, hopMs: number) {
    const client = createNodeWx({ emulatorBase, appid: APPID, user: `user-${++n}` });
    let posts = 0;
    const wx = delayed(client.wx as unknown as WxLike, hopMs);
    const request = wx.request;
    wx.request = (o) => {
      if (o.url.endsWith('/auth/login')) posts++;
      return request(o);
    };
    const make = () => createAuth({ name: `bench-${++n}`, baseURL: base[server], wx, inbandLogin: inband });
    return { client, make, posts: () => posts };
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const max = (xs: number[]) => Math.max(...xs);
  const rows: Array<{ phase: string; flow: Flow; median: number; max: number; hops: number }> = [];
  /** Each run's time and its hops (wx.login + wx.request answered), until `act` resolved. */
  async function measure(phase: string, flow: Flow, act: () => Promise<{ ms: number; hops: number }>) {
    const times: number[] = [];
    const hops: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await act();
      times.push(r.ms);
      hops.push(r.hops);
    }
    rows.push({ phase, flow, median: median(times), max: max(times), hops: median(hops) });
  }
  const hopsOf = (k: ReturnType<typeof kit>) => k.client.counts.login + k.client.counts.request;

  for (const flow of ['classic', 'in-band'] as Flow[]) {
    await measure('cold start', flow, async () => {
      const k = kit(flow, flow === 'in-band', HOP_MS);
      const auth = k.make();
      const t0 = performance.now();
      auth.launch();
      await auth.request({ url: '/api/me' });
      return { ms: performance.now() - t0, hops: hopsOf(k) };
    });
    await measure('after a 401', flow, async () => {
      const k = kit(flow, flow === 'in-band', HOP_MS);
      const auth = k.make();
      await auth.request({ url: '/api/me' });
      offset += 7201_000; // the server forgets the session; the kit still holds the token
      const before = hopsOf(k);
      const t0 = performance.now();
      await auth.request({ url: '/api/me' });
      return { ms: performance.now() - t0, hops: hopsOf(k) - before };
    });
    await measure('after expiry', flow, async () => {
      const k = kit(flow, flow === 'in-band', HOP_MS);
      await k.make().request({ url: '/api/me' });
      const stored = k.client.storage.getStorageSync(STORAGE_KEY) as { token: string; expiresAt: number };
      k.client.storage.setStorageSync(STORAGE_KEY, { ...stored, expiresAt: Date.now() - 1 });
      const before = hopsOf(k);
      const auth = k.make(); // the relaunch: a new instance over the same storage
      const t0 = performance.now();
      auth.launch();
      await auth.request({ url: '/api/me' });
      return { ms: performance.now() - t0, hops: hopsOf(k) - before };
    });
  }

  // 8 simulated hours: Date faked (the kit's expiry, the servers' token age), timers real.
  const clock = FakeTimers.withGlobal(globalThis).install({ toFake: ['Date'], now: Date.now() });
  const sim: Array<{ flow: string; waited: number; logins: number; posts: number; code2Session: number; calls: number }> = [];
  try {
    for (const [label, server, inband] of [
      ['classic', 'classic', false],
      ['in-band', 'in-band', true],
      ['login POST, in-band renewal', 'in-band', false],
    ] as const) {
      const k = kit(server, inband, 0);
      const auth = k.make();
      const c2s = code2Session;
      let waited = 0;
      const calls = HOURS * 60;
      let first = 0;
      for (let minute = 0; minute < calls; minute++) {
        const before = k.client.counts.login;
        await auth.request({ url: '/api/me' });
        if (minute === 0) first = k.client.counts.login;
        else if (k.client.counts.login > before) waited++;
        clock.tick(60_000);
      }
      sim.push({ flow: label, waited, logins: k.client.counts.login - first, posts: k.posts(), code2Session: code2Session - c2s, calls });
    }
  } finally {
    clock.uninstall();
  }

  console.log(pc.bold(`time to the first authorized answer, ${HOP_MS} ms a hop (median and slowest of ${RUNS} runs)`));
  console.log(pc.dim('  hops: wx.login and wx.request answered in the phase; after a 401 they include the call that got it'));
  console.log(`  ${'phase'.padEnd(14)}${'flow'.padEnd(10)}${'hops'.padStart(5)}${'median ms'.padStart(11)}${'slowest ms'.padStart(12)}`);
  for (const r of rows) {
    console.log(`  ${r.phase.padEnd(14)}${r.flow.padEnd(10)}${String(r.hops).padStart(5)}${r.median.toFixed(0).padStart(11)}${r.max.toFixed(0).padStart(12)}`);
  }
  console.log('');
  console.log(pc.bold(`${HOURS} simulated hours, a call a minute (tokens live 7200 s)`));
  console.log(`  ${'flow'.padEnd(30)}${'calls'.padStart(6)}${'waited for a login'.padStart(20)}${'wx.login after the first'.padStart(26)}${'login POSTs'.padStart(13)}${'code2Session'.padStart(14)}`);
  for (const s of sim) {
    console.log(
      `  ${s.flow.padEnd(30)}${String(s.calls).padStart(6)}${String(s.waited).padStart(20)}${String(s.logins).padStart(26)}${String(s.posts).padStart(13)}${String(s.code2Session).padStart(14)}`,
    );
  }
  await Promise.all([servers.classic.close(), servers['in-band'].close(), emulator.app.close()]);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
