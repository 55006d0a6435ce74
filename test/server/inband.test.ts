/**
 * The in-band contract over real HTTP: a login code in a header instead of a login POST, the
 * token renewed in the answers of an active user, and the phone bound to a logged-in user without
 * a wx.login. On both stores (renewal is one atomic step in each).
 */
import { createMemoryStore } from '../../server/store';
import { createRedisStore } from '../../server/redis-store';
import { startRedis, type TestRedis } from '../support/redis';
import { createAuth } from '../../src';
import { createNodeWx } from '../../scripts/node-wx';
import { APPID, bearer, logLines, postJson, startStack, wxLogin, type Harness } from './helpers';

type Body = Record<string, unknown>;
const HOUR = 3_600_000;

async function me(h: Harness, headers: Record<string, string>) {
  const res = await fetch(`${h.serverUrl}/api/me`, { headers });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Body };
}

describe('in-band login: X-WX-Login-Code instead of a login POST', () => {
  let h: Harness;
  let lines: string[];
  beforeEach(async () => {
    const log = logLines();
    lines = log.lines;
    h = await startStack({ logger: { level: 'trace', stream: log.stream } });
  });
  afterEach(() => h.close());

  it('admits the request and answers X-WX-Token, X-WX-Token-Expires-In and no-store; the token then works', async () => {
    const code = await wxLogin(h.emulatorUrl, 'alice');
    const first = await me(h, { 'x-wx-login-code': code });
    expect(first.status).toBe(200);
    const token = first.headers.get('x-wx-token')!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.headers.get('x-wx-token-expires-in')).toBe('7200');
    expect(first.headers.get('cache-control')).toBe('no-store');
    const again = await me(h, bearer(token));
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('x-wx-token')).toBeNull();
  });

  it('a used code: 401 invalid_code, as POST /auth/login answers it, no token', async () => {
    const code = await wxLogin(h.emulatorUrl, 'alice');
    expect((await postJson(`${h.serverUrl}/auth/login`, { code })).status).toBe(200);
    const res = await me(h, { 'x-wx-login-code': code });
    expect([res.status, res.body.error]).toEqual([401, 'invalid_code']);
    expect(res.headers.get('x-wx-token')).toBeNull();
  });

  it('a Bearer wins over a code (the code is not spent); the code is never logged', async () => {
    const login = (await (await postJson(`${h.serverUrl}/auth/login`, { code: await wxLogin(h.emulatorUrl) })).json()) as { token: string };
    const code = await wxLogin(h.emulatorUrl, 'bob');
    const res = await me(h, { ...bearer(login.token), 'x-wx-login-code': code });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-wx-token')).toBeNull();
    // Still unused: it logs bob in now.
    const inband = await me(h, { 'x-wx-login-code': code });
    expect(inband.status).toBe(200);
    const all = lines.join('');
    expect(all).not.toContain(code);
    expect(all).not.toContain(inband.headers.get('x-wx-token')!);
  });

  it('not on the plugin’s own revocation routes: they take a token only', async () => {
    const code = await wxLogin(h.emulatorUrl);
    const res = await fetch(`${h.serverUrl}/auth/logout`, { method: 'POST', headers: { 'x-wx-login-code': code } });
    expect(res.status).toBe(401);
  });

  it('counts against the per-openid login budget like POST /auth/login', async () => {
    await h.close();
    h = await startStack({ rateLimit: { ip: false, openid: { max: 1, timeWindowMs: 60_000 } } });
    expect((await me(h, { 'x-wx-login-code': await wxLogin(h.emulatorUrl, 'carol') })).status).toBe(200);
    const res = await me(h, { 'x-wx-login-code': await wxLogin(h.emulatorUrl, 'carol') });
    expect([res.status, res.body.error]).toEqual([429, 'rate_limited']);
  });
});

describe.each([
  ['memory', false],
  ['redis', true],
])('in-band renewal (%s store)', (_name, onRedis) => {
  let h: Harness;
  let redis: TestRedis | undefined;
  beforeEach(async () => {
    redis = onRedis ? await startRedis() : undefined;
    // The store runs on the server's manual clock, so its deadlines move with it.
    h = await startStack((clock) => ({ store: redis ? createRedisStore({ redis: redis.client(), now: clock.now }) : createMemoryStore({ now: clock.now }) }));
  });
  afterEach(async () => {
    await h.close();
    await redis?.stop();
  });

  async function login(user = 'alice') {
    return ((await (await h.login(user)).json()) as { token: string }).token;
  }

  it('before half its life: no new token; after: the next 2xx answer carries one, once', async () => {
    const token = await login();
    h.serverClock.advance(HOUR - 1);
    expect((await me(h, bearer(token))).headers.get('x-wx-token')).toBeNull();
    h.serverClock.advance(1);
    const renewed = await me(h, bearer(token));
    const next = renewed.headers.get('x-wx-token')!;
    expect(next).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(next).not.toBe(token);
    expect(renewed.headers.get('x-wx-token-expires-in')).toBe('7200');
    expect(renewed.headers.get('cache-control')).toBe('no-store');
    // Once per token: the old one's next answers carry nothing more.
    expect((await me(h, bearer(token))).headers.get('x-wx-token')).toBeNull();
    expect((await me(h, bearer(next))).status).toBe(200);
  });

  it('the old token keeps working for the grace (60 s), then 401; the new one lives its whole life', async () => {
    const token = await login();
    h.serverClock.advance(HOUR);
    const next = (await me(h, bearer(token))).headers.get('x-wx-token')!;
    h.serverClock.advance(59_999);
    expect((await me(h, bearer(token))).status).toBe(200);
    h.serverClock.advance(1);
    expect((await me(h, bearer(token))).status).toBe(401);
    h.serverClock.advance(HOUR);
    expect((await me(h, bearer(next))).status).toBe(200);
  });

  it('concurrent answers past renewAfter: one successor only', async () => {
    const token = await login();
    h.serverClock.advance(HOUR);
    const answers = await Promise.all(Array.from({ length: 5 }, () => me(h, bearer(token))));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.filter((a) => a.headers.get('x-wx-token')).length).toBe(1);
  });

  it('a renewal revokes no other device of the user at the session cap', async () => {
    const devices = [];
    for (let i = 0; i < 5; i++) devices.push(await login());
    h.serverClock.advance(HOUR);
    const next = (await me(h, bearer(devices[0]))).headers.get('x-wx-token')!;
    for (const token of [...devices, next]) expect((await me(h, bearer(token))).status).toBe(200);
  });

  it('not on an error answer, and not with renewAfter: 0', async () => {
    const token = await login();
    h.serverClock.advance(HOUR);
    const res = await fetch(`${h.serverUrl}/api/files/${'0'.repeat(32)}`, { headers: bearer(token) });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-wx-token')).toBeNull();
    // The next 2xx still renews.
    expect((await me(h, bearer(token))).headers.get('x-wx-token')).not.toBeNull();

    await h.close();
    h = await startStack({ renewAfter: 0 });
    const other = await login('bob');
    h.serverClock.advance(HOUR + 1);
    expect((await me(h, bearer(other))).headers.get('x-wx-token')).toBeNull();
  });
});

describe('phone binding: a logged-in user’s tap, no wx.login', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startStack();
  });
  afterEach(() => h.close());

  async function phoneCode(user: string) {
    const res = await postJson(`${h.emulatorUrl}/emulator/open-data`, { appid: APPID, user, kind: 'getRealtimePhoneNumber' });
    return ((await res.json()) as { code: string }).code;
  }

  it('Bearer + {phoneCode}: the number of the token’s user, no new session, no code2Session', async () => {
    const token = ((await (await h.login('alice')).json()) as { token: string }).token;
    const codes = (await fetch(`${h.serverUrl}/auth/sessions`, { headers: bearer(token) }).then((r) => r.json())) as { sessions: unknown[] };
    const tapCode = await phoneCode('alice');
    const before = h.emulatorRequests.length;
    const res = await postJson(`${h.serverUrl}/auth/phone`, { phoneCode: tapCode }, bearer(token));
    // getuserphonenumber (and its access_token), no code2Session.
    expect(h.emulatorRequests.slice(before).filter((r) => r.includes('jscode2session'))).toEqual([]);
    expect(h.emulatorRequests.slice(before)).toContain('POST /wxa/business/getuserphonenumber');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Body;
    expect(Object.keys(body).sort()).toEqual(['countryCode', 'phoneNumber', 'purePhoneNumber']);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const after = (await fetch(`${h.serverUrl}/auth/sessions`, { headers: bearer(token) }).then((r) => r.json())) as { sessions: unknown[] };
    expect(after.sessions).toHaveLength(codes.sessions.length);
  });

  it('another user’s phone code: 400 invalid_phone_code (WeChat checks it against the openid)', async () => {
    const token = ((await (await h.login('alice')).json()) as { token: string }).token;
    await wxLogin(h.emulatorUrl, 'mallory');
    const res = await postJson(`${h.serverUrl}/auth/phone`, { phoneCode: await phoneCode('mallory') }, bearer(token));
    expect(res.status).toBe(400);
    expect(((await res.json()) as Body).error).toBe('invalid_phone_code');
  });
});

describe('the kit against the plugin, over real HTTP (inbandLogin: true)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startStack();
  });
  afterEach(() => h.close());

  function kit() {
    const sent: Array<{ url: string; header: Record<string, unknown> }> = [];
    const client = createNodeWx({ emulatorBase: h.emulatorUrl, appid: APPID, user: 'alice' });
    const request = client.wx.request.bind(client.wx);
    // Sees what each call sent, then lets node-wx do the real HTTP.
    client.wx.request = ((o: { url: string; header?: Record<string, unknown> }) => (sent.push({ url: o.url, header: { ...o.header } }), request(o as never))) as never;
    const auth = createAuth({ name: `inband-${Math.random()}`, baseURL: h.serverUrl, wx: client.wx as never, inbandLogin: true });
    return { auth, client, sent };
  }
  const code2Session = () => h.emulatorRequests.filter((r) => r.includes('jscode2session')).length;

  it('5 concurrent cold calls: one wx.login, one code2Session, no login POST; all 200 as alice', async () => {
    const { auth, client, sent } = kit();
    const answers = await Promise.all(Array.from({ length: 5 }, () => auth.request<{ openid: string }>({ url: '/api/me' })));
    expect(new Set(answers.map((r) => r.data.openid)).size).toBe(1);
    expect(client.counts.login).toBe(1);
    expect(code2Session()).toBe(1);
    expect(sent.filter((r) => r.url.endsWith('/auth/login'))).toEqual([]);
    expect(sent.filter((r) => r.header['x-wx-login-code'] !== undefined)).toHaveLength(1);
    expect(auth.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('an active user past half the token\'s life switches to the renewed token; the old one works for the grace, then 401', async () => {
    const { auth, client } = kit();
    await auth.request({ url: '/api/me' });
    const first = auth.token!;
    h.serverClock.advance(HOUR + 1000);
    await auth.request({ url: '/api/me' });
    const second = auth.token!;
    expect(second).not.toBe(first);
    expect((await me(h, bearer(first))).status).toBe(200); // a call already in flight with it
    h.serverClock.advance(61_000);
    expect((await me(h, bearer(first))).status).toBe(401);
    expect((await auth.request({ url: '/api/me' })).statusCode).toBe(200);
    expect(client.counts.login).toBe(1);
  });

  it('after the server drops the session: the 401, then the retry carries a fresh code (no login POST)', async () => {
    const { auth, client, sent } = kit();
    await auth.request({ url: '/api/me' });
    h.serverClock.advance(2 * HOUR + 1000);
    const before = sent.length;
    expect((await auth.request({ url: '/api/me' })).statusCode).toBe(200);
    const after = sent.slice(before).map((r) => (r.header['x-wx-login-code'] !== undefined ? 'code' : r.header.Authorization ? 'bearer' : 'none'));
    expect(after).toEqual(['bearer', 'code']);
    expect(client.counts.login).toBe(2);
  });
});
