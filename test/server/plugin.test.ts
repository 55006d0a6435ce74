/**
 * The wxLogin plugin's session management, rate limits, OpenAPI contract and shared access_token,
 * over real HTTP against the WeChat API emulator (and a real redis-server where a store is shared).
 */
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import { wxLogin } from '../../server';
import { hashToken } from '../../server/crypto';
import { buildServer, type ServerOptions } from '../../reference-server/app';
import { createRedisStore } from '../../server/redis-store';
import { startRedis, type TestRedis } from '../support/redis';
import { APPID, SECRET, listen, manualClock, postJson, startEmulator, startStack, wxLogin as emulatorLogin, type Harness } from './helpers';

type Body = Record<string, unknown>;

async function loginToken(h: Harness, user = 'alice'): Promise<string> {
  const res = await h.login(user);
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}

function call(h: Harness, method: string, path: string, token?: string) {
  return fetch(`${h.serverUrl}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

const meStatus = async (h: Harness, token: string) => (await call(h, 'GET', '/api/me', token)).status;

async function json(res: Response): Promise<Body> {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Body;
}

describe('sessions per openid', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startStack();
  });
  afterEach(() => h.close());

  it('keeps at most 5 (the default): the 6th login revokes the oldest token only', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 6; i++) {
      tokens.push(await loginToken(h, 'alice'));
      h.serverClock.advance(1000);
    }
    const bob = await loginToken(h, 'bob');
    expect(await meStatus(h, tokens[0])).toBe(401);
    for (const token of tokens.slice(1)) expect(await meStatus(h, token)).toBe(200);
    expect(await meStatus(h, bob)).toBe(200);
    const { sessions } = (await json(await call(h, 'GET', '/auth/sessions', tokens[5]))) as { sessions: Body[] };
    expect(sessions).toHaveLength(5);
    expect(sessions.map((s) => s.current)).toEqual([false, false, false, false, true]);
  });

  it('honours maxSessionsPerOpenid', async () => {
    await h.close();
    h = await startStack({ maxSessionsPerOpenid: 1 });
    const first = await loginToken(h);
    const second = await loginToken(h);
    expect(await meStatus(h, first)).toBe(401);
    expect(await meStatus(h, second)).toBe(200);
  });

  it('GET /auth/sessions lists the live sessions with times, never a token or session_key', async () => {
    const t0 = h.serverClock.now();
    const a = await loginToken(h);
    h.serverClock.advance(5000);
    const b = await loginToken(h);
    const res = await call(h, 'GET', '/auth/sessions', b);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({
      sessions: [
        { id: expect.stringMatching(/^[0-9a-f]{64}$/), createdAt: t0, expiresAt: t0 + 7_200_000, lastSeenAt: t0, current: false },
        { id: expect.stringMatching(/^[0-9a-f]{64}$/), createdAt: t0 + 5000, expiresAt: t0 + 7_205_000, lastSeenAt: t0 + 5000, current: true },
      ],
    });
    for (const secret of [a, b, h.emulator.latestSessionKey(APPID, 'alice')!]) expect(text).not.toContain(secret);
    expect((await call(h, 'GET', '/auth/sessions')).status).toBe(401);
  });

  it('DELETE /auth/sessions/:id revokes one of my sessions, never another user’s', async () => {
    const [a, b] = [await loginToken(h), await loginToken(h)];
    const bob = await loginToken(h, 'bob');
    const mine = ((await json(await call(h, 'GET', '/auth/sessions', b))) as { sessions: Array<{ id: string }> }).sessions;
    const bobs = ((await json(await call(h, 'GET', '/auth/sessions', bob))) as { sessions: Array<{ id: string }> }).sessions;

    const other = await call(h, 'DELETE', `/auth/sessions/${bobs[0].id}`, b);
    expect(other.status).toBe(404);
    expect((await json(other)).error).toBe('not_found');
    expect(await meStatus(h, bob)).toBe(200);

    expect((await call(h, 'DELETE', `/auth/sessions/${mine[0].id}`, b)).status).toBe(200);
    expect(await meStatus(h, a)).toBe(401);
    expect(await meStatus(h, b)).toBe(200);
    expect((await json(await call(h, 'DELETE', '/auth/sessions/not-an-id', b))).error).toBe('invalid_request');
  });

  it('POST /auth/logout-all revokes every session of the openid and says how many', async () => {
    const mine = [await loginToken(h), await loginToken(h), await loginToken(h)];
    const bob = await loginToken(h, 'bob');
    const res = await call(h, 'POST', '/auth/logout-all', mine[1]);
    expect(await json(res)).toEqual({ revoked: 3 });
    for (const token of mine) expect(await meStatus(h, token)).toBe(401);
    expect(await meStatus(h, bob)).toBe(200);
  });

  it('with idleTimeoutSeconds, refuses a token unused that long; use keeps it alive', async () => {
    await h.close();
    h = await startStack({ idleTimeoutSeconds: 60 });
    const token = await loginToken(h);
    for (let i = 0; i < 3; i++) {
      h.serverClock.advance(59_000);
      expect(await meStatus(h, token)).toBe(200);
    }
    h.serverClock.advance(60_000);
    expect(await meStatus(h, token)).toBe(401);
  });
});

describe('rate limits', () => {
  let h: Harness | undefined;
  afterEach(() => h?.close());

  async function expect429(res: Response) {
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await json(res)).toEqual({ error: 'rate_limited', message: expect.stringContaining('Retry after'), retryAfter });
  }

  it('per client IP on every /auth route but revocation: 429 JSON with Retry-After past the limit; other routes are the app’s', async () => {
    h = await startStack({ rateLimit: { ip: { max: 3, timeWindowMs: 60_000 }, openid: false } });
    const token = await loginToken(h, 'alice');
    expect((await h.login('bob')).status).toBe(200);
    expect((await call(h, 'GET', '/auth/sessions', token)).status).toBe(200);
    await expect429(await h.login('carol'));
    await expect429(await call(h, 'GET', '/auth/sessions', token));
    expect(await meStatus(h, token)).toBe(200);
    // Revocation is never limited: past the limit, logout still ends the session.
    expect((await call(h, 'POST', '/auth/logout', token)).status).toBe(200);
    expect(await meStatus(h, token)).toBe(401);
  });

  it('per openid once known, whatever the IP: the logins of one user', async () => {
    h = await startStack({ rateLimit: { ip: false, openid: { max: 2, timeWindowMs: 60_000 } } });
    const token = await loginToken(h, 'alice');
    expect((await h.login('alice')).status).toBe(200);
    await expect429(await h.login('alice'));
    expect((await call(h, 'GET', '/auth/sessions', token)).status).toBe(200);
    expect((await h.login('bob')).status).toBe(200);
  });

  it('never on revocation: a user whose budgets are spent (by a stolen token, say) still revokes and logs out everywhere', async () => {
    h = await startStack({ rateLimit: { ip: { max: 4, timeWindowMs: 60_000 }, openid: { max: 2, timeWindowMs: 60_000 } } });
    const stolen = await loginToken(h, 'alice');
    const mine = await loginToken(h, 'alice');
    await expect429(await h.login('alice')); // the openid's login budget
    await expect429(await h.login('alice'));
    await expect429(await h.login('bob')); // and the IP's
    expect((await call(h, 'DELETE', `/auth/sessions/${hashToken(stolen)}`, mine)).status).toBe(200);
    expect(await meStatus(h, stolen)).toBe(401);
    expect(await json(await call(h, 'POST', '/auth/logout-all', mine))).toEqual({ revoked: 1 });
    expect(await meStatus(h, mine)).toBe(401);
    expect((await call(h, 'POST', '/auth/logout', mine)).status).toBe(401);
  });

  it('are on by default (60 per minute per IP)', async () => {
    h = await startStack();
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) statuses.push((await postJson(`${h.serverUrl}/auth/login`, {})).status);
    expect(statuses.slice(0, 60).every((s) => s === 400)).toBe(true);
    expect(statuses[60]).toBe(429);
  });
});

describe('the contract as OpenAPI', () => {
  it('serves /openapi.json with every route of the plugin and the bodies it validates', async () => {
    const h = await startStack();
    try {
      const res = await fetch(`${h.serverUrl}/openapi.json`);
      expect(res.status).toBe(200);
      const doc = (await json(res)) as { openapi: string; paths: Record<string, Record<string, Body>> };
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/auth/login',
        '/auth/logout',
        '/auth/logout-all',
        '/auth/phone',
        '/auth/profile',
        '/auth/sessions',
        '/auth/sessions/{id}',
      ]);
      const login = doc.paths['/auth/login'].post as { requestBody: { content: Record<string, { schema: Body }> } };
      expect(login.requestBody.content['application/json'].schema).toMatchObject({ required: ['code'] });
      expect(doc.paths['/auth/sessions'].get).toMatchObject({ security: [{ bearer: [] }] });
    } finally {
      await h.close();
    }
  });

  it('is not served with openapi: false', async () => {
    const h = await startStack({ openapi: false });
    try {
      expect((await fetch(`${h.serverUrl}/openapi.json`)).status).toBe(404);
    } finally {
      await h.close();
    }
  });
});

describe('a user’s own server: the plugin and their routes', () => {
  it('mounts under a prefix; requireAuth gives {openid, unionid}; the session_key only through wxLogin.sessionKey', async () => {
    const emu = await startEmulator();
    const app = Fastify();
    await app.register(wxLogin, { appid: APPID, secret: SECRET, apiBase: emu.url, prefix: '/wx' });
    app.get('/orders', { preHandler: app.requireAuth }, async (request) => ({
      auth: request.auth,
      keyMatches: app.wxLogin.sessionKey(request) === emu.emulator.latestSessionKey(APPID, 'alice'),
    }));
    const url = await listen(app);
    try {
      const res = await postJson(`${url}/wx/login`, { code: await emulatorLogin(emu.url, 'alice') });
      const { token } = (await res.json()) as { token: string };
      const orders = await fetch(`${url}/orders`, { headers: { authorization: `Bearer ${token}` } });
      expect(await orders.json()).toEqual({ auth: { openid: expect.stringMatching(/^o/), unionid: expect.stringMatching(/^ou/) }, keyMatches: true });
      expect((await fetch(`${url}/orders`)).status).toBe(401);
      expect((await postJson(`${url}/auth/login`, {})).status).toBe(404);
    } finally {
      await app.close();
      await emu.close();
    }
  });

  it('refuses to start without appid and secret, or with an apiBase that is not a URL', async () => {
    await expect(Fastify().register(wxLogin, { appid: '', secret: '' })).rejects.toThrow(/needs appid and secret/);
    await expect(Fastify().register(wxLogin, { appid: APPID, secret: SECRET, apiBase: 'api.weixin.qq.com' })).rejects.toThrow(/apiBase must be an absolute URL/);
  });

  it('keeps its per-openid limit when the app registered @fastify/rate-limit first (with an allowList)', async () => {
    const emu = await startEmulator();
    const app = Fastify();
    await app.register(rateLimit, { global: false, allowList: ['127.0.0.1'] });
    await app.register(wxLogin, { appid: APPID, secret: SECRET, apiBase: emu.url, rateLimit: { ip: false, openid: { max: 2, timeWindowMs: 60_000 } } });
    const url = await listen(app);
    try {
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await postJson(`${url}/auth/login`, { code: await emulatorLogin(emu.url, 'alice') })).status);
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await app.close();
      await emu.close();
    }
  });
});

describe('one access_token for every instance on a Redis store', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  /** Two reference servers on one emulator; each with its own ioredis client on one Redis. */
  async function twoInstances(prefix: string | null, rateLimit: ServerOptions['rateLimit'] = false) {
    const emu = await startEmulator();
    const clock = manualClock();
    const servers = [0, 1].map(() =>
      buildServer({
        wechat: { apiBase: emu.url, appid: APPID, secret: SECRET },
        now: clock.now,
        rateLimit,
        ...(prefix ? { store: createRedisStore({ redis: redis.client(), prefix, now: clock.now }) } : {}),
      }),
    );
    const urls = await Promise.all(servers.map(listen));
    const stableTokenCalls = () => emu.requests.filter((r) => r === 'POST /cgi-bin/stable_token').length;
    async function phoneLogin(url: string, user: string) {
      const code = await emulatorLogin(emu.url, user);
      const tap = await postJson(`${emu.url}/emulator/open-data`, { appid: APPID, user, kind: 'getPhoneNumber' });
      const { code: phoneCode } = (await tap.json()) as { code: string };
      return (await postJson(`${url}/auth/phone`, { code, phoneCode })).status;
    }
    return {
      emu,
      urls,
      stableTokenCalls,
      phoneLogin,
      close: async () => {
        await Promise.all(servers.map((s) => s.close()));
        await emu.close();
      },
    };
  }

  it('two instances, 20 concurrent phone logins: one stable_token fetch', async () => {
    const t = await twoInstances(`at${Date.now()}:`);
    try {
      const statuses = await Promise.all(Array.from({ length: 20 }, (_, i) => t.phoneLogin(t.urls[i % 2], `user${i}`)));
      expect(statuses).toEqual(Array(20).fill(200));
      expect(t.stableTokenCalls()).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('the rate limits count across instances: their counters are in the same Redis', async () => {
    const t = await twoInstances(`rl${Date.now()}:`, { ip: { max: 3, timeWindowMs: 60_000 }, openid: false });
    try {
      const login = (url: string) => postJson(`${url}/auth/login`, {}).then((res) => res.status);
      expect([await login(t.urls[0]), await login(t.urls[1]), await login(t.urls[0])]).toEqual([400, 400, 400]);
      expect(await login(t.urls[1])).toBe(429);
    } finally {
      await t.close();
    }
  });

  it('(without the shared store, each instance fetches its own)', async () => {
    const t = await twoInstances(null);
    try {
      await Promise.all(Array.from({ length: 4 }, (_, i) => t.phoneLogin(t.urls[i % 2], `user${i}`)));
      expect(t.stableTokenCalls()).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('a token WeChat stopped taking (40001) is force-refreshed once for both instances', async () => {
    const t = await twoInstances(`rf${Date.now()}:`);
    try {
      expect(await t.phoneLogin(t.urls[0], 'alice')).toBe(200);
      // Someone else force-refreshes the app's token; 5 minutes later the old one answers 40001.
      await postJson(`${t.emu.url}/cgi-bin/stable_token`, { grant_type: 'client_credential', appid: APPID, secret: SECRET, force_refresh: true });
      t.emu.clock.advance(300_001);
      const before = t.stableTokenCalls();
      const statuses = await Promise.all([0, 1, 2, 3].map((i) => t.phoneLogin(t.urls[i % 2], `user${i}`)));
      expect(statuses).toEqual([200, 200, 200, 200]);
      expect(t.stableTokenCalls() - before).toBe(1);
      expect(t.emu.requests.filter((r) => r === 'POST /wxa/business/getuserphonenumber')).toHaveLength(1 + 4 * 2);
    } finally {
      await t.close();
    }
  });
});
