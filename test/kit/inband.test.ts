/**
 * In-band login and renewal, the kit's half of the wire contract (README "The contract"): a
 * request that needs a token carries the wx.login code in X-WX-Login-Code and its answer brings
 * X-WX-Token; a 2xx answer to the token held may bring its successor. The server half's rules are
 * pinned in test/server/inband.test.ts; here the platform (a faithful fake wx) is the boundary.
 */
import { createAuth, WxLoginKitError } from 'wx-login-kit';
import { createScriptedServer, type FakeRequest } from '../support/fake-wx';
import { settle } from '../support/timers';

const BASE = 'https://api.example.com';
const CODE = 'x-wx-login-code';

function setup(extra: Partial<Parameters<typeof createAuth>[0]> = {}) {
  const server = createScriptedServer();
  server.inband = true;
  const auth = createAuth({ baseURL: BASE, wx: server.fake.wx, inbandLogin: true, ...extra });
  const errors: WxLoginKitError[] = [];
  const logins: string[] = [];
  auth.on('error', (e) => errors.push(e));
  auth.on('login', (t) => logins.push(t));
  const sent = () => server.fake.state.requests;
  const posts = () => sent().filter((r) => r.url.endsWith('/auth/login')).length;
  const carried = () => sent().filter((r) => r.header[CODE] !== undefined);
  return { server, auth, errors, logins, fake: server.fake, sent, posts, carried };
}

/** What a request sent: `code` (a login code), `Bearer <token>`, or nothing. */
const credential = (r: FakeRequest) => (r.header[CODE] !== undefined ? 'code' : (r.header.Authorization ?? 'none'));

beforeEach(() => {
  jest.useFakeTimers();
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('wx-login-kit')];
});
afterEach(() => jest.useRealTimers());

describe('in-band login', () => {
  it('a cold call carries the code and its answer brings the token: wx.login, then the call (2 hops); no login POST', async () => {
    const { auth, fake, sent, posts, logins } = setup();
    const app = { globalData: {} as Record<string, unknown> };
    const res = await settle(auth.request<{ path: string }>({ url: '/api/me' }));
    expect(res.statusCode).toBe(200);
    expect(fake.state.loginCalls).toBe(1);
    expect(posts()).toBe(0);
    expect(sent().map(credential)).toEqual(['code']);
    expect(sent()[0].header.Authorization).toBeUndefined();
    // Stored exactly as after a login: memory, storage, the login event; and globalData once attached.
    expect(auth.token).toBe('tok-1');
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toMatchObject({ token: 'tok-1' });
    expect(logins).toEqual(['tok-1']);
    auth.launch(app);
    expect(app.globalData.token).toBe('tok-1');
    // The token's lifetime came from X-WX-Token-Expires-In (3600 s): used until 60 s before it.
    jest.advanceTimersByTime(3600_000 - 60_000 - 1);
    expect(auth.token).toBe('tok-1');
    jest.advanceTimersByTime(1);
    expect(auth.token).toBeNull();
  });

  it('the next calls send the token it brought', async () => {
    const { auth, sent, fake } = setup();
    await settle(auth.request({ url: '/api/me' }));
    await settle(auth.request({ url: '/api/orders' }));
    expect(sent().map(credential)).toEqual(['code', 'Bearer tok-1']);
    expect(fake.state.loginCalls).toBe(1);
  });

  it('20 concurrent cold calls: one wx.login, one call carries the code, one code exchanged; the others wait for its token', async () => {
    const { auth, server, fake, sent, posts } = setup();
    const calls = Array.from({ length: 20 }, (_, i) => auth.request<{ path: string }>({ url: `/api/item/${i}` }));
    const answers = await settle(Promise.all(calls));
    expect(answers.every((r) => r.statusCode === 200)).toBe(true);
    expect(fake.state.loginCalls).toBe(1);
    expect(server.inbandLogins).toBe(1);
    expect(posts()).toBe(0);
    const creds = sent().map(credential);
    expect(creds.filter((c) => c === 'code')).toHaveLength(1);
    expect(creds.filter((c) => c === 'Bearer tok-1')).toHaveLength(19);
    // The carrier went first; nobody went out before its token came back.
    expect(creds[0]).toBe('code');
  });

  it('a carried call whose route then fails (a 500 with the token): the token is stored, the 500 is its answer, not sent again', async () => {
    const { auth, server, sent } = setup();
    const original = server.handler;
    server.handler = (req) => {
      const r = original(req);
      return req.url.endsWith('/api/broken') && 'header' in r ? { ...r, statusCode: 500, data: { error: 'boom' } } : r;
    };
    await expect(settle(auth.request({ url: '/api/broken', method: 'POST' }))).rejects.toMatchObject({ name: 'HTTPError', statusCode: 500 });
    expect(auth.token).toBe('tok-1');
    expect(sent()).toHaveLength(1);
  });

  it('launch() with a call made while its wx.login runs: the call carries the code (no login POST)', async () => {
    const { auth, fake, sent, posts } = setup();
    const launched = auth.launch();
    const call = auth.request({ url: '/api/me' }); // a page's onLoad, before wx.login has answered
    await settle(Promise.all([launched, call]));
    expect(await launched).toBe('tok-1');
    expect(fake.state.loginCalls).toBe(1);
    expect(posts()).toBe(0);
    expect(sent().map(credential)).toEqual(['code']);
  });

  it('launch() with no call waiting when the code arrives logs in by POST, so that awaiting launch() never hangs', async () => {
    const { auth, server, sent, posts } = setup();
    await expect(settle(auth.launch())).resolves.toBe('tok-1');
    expect(posts()).toBe(1);
    // In-band stays on for the session: after the server drops the token, the recovery carries a code.
    server.live.clear();
    await settle(auth.request({ url: '/api/me' }));
    expect(sent().slice(1).map(credential)).toEqual(['Bearer tok-1', 'code']);
    expect(posts()).toBe(1);
  });

  it('uploads and downloads do not carry a code (their answers have no headers in WeChat): they wait for the login', async () => {
    const { auth, sent, posts } = setup();
    const res = await settle(auth.uploadFile({ url: '/api/avatar', filePath: 'f', name: 'file' }));
    expect(res.statusCode).toBe(200);
    expect(posts()).toBe(1);
    expect(sent().map(credential)).toEqual(['none', 'Bearer tok-1']);
  });

  it('an upload and a request waiting for the same login: the request carries the code, the upload waits for its token', async () => {
    const { auth, sent, posts, fake } = setup();
    const up = auth.uploadFile({ url: '/api/avatar', filePath: 'f', name: 'file' });
    const call = auth.request({ url: '/api/me' });
    await settle(Promise.all([up, call]));
    expect(posts()).toBe(0);
    expect(fake.state.loginCalls).toBe(1);
    expect(sent().map((r) => `${r.kind ?? 'request'} ${credential(r)}`)).toEqual(['request code', 'uploadFile Bearer tok-1']);
  });

  it('after a 401 the retry carries a fresh code: the 401, wx.login, the retry (2 hops after the 401); no login POST', async () => {
    const { auth, server, fake, sent, posts } = setup();
    await settle(auth.request({ url: '/api/me' }));
    server.live.clear(); // the server forgot every session
    const before = sent().length;
    const res = await settle(auth.request({ url: '/api/me' }));
    expect(res.statusCode).toBe(200);
    expect(sent().slice(before).map(credential)).toEqual(['Bearer tok-1', 'code']);
    expect(fake.state.loginCalls).toBe(2);
    expect(posts()).toBe(0);
    expect(auth.token).toBe('tok-2');
  });

  it('concurrent 401s share one in-band re-login: one carries the code, the others retry with its token', async () => {
    const { auth, server, fake, sent } = setup();
    await settle(auth.request({ url: '/api/me' }));
    server.live.clear();
    const before = sent().length;
    await settle(Promise.all(Array.from({ length: 5 }, () => auth.request({ url: '/api/me' }))));
    const retries = sent().slice(before + 5).map(credential);
    expect(retries.filter((c) => c === 'code')).toHaveLength(1);
    expect(retries.filter((c) => c === 'Bearer tok-2')).toHaveLength(4);
    expect(fake.state.loginCalls).toBe(2);
    expect(server.inbandLogins).toBe(2);
  });

  it('the re-login budget holds in-band: against a server that rejects every token it issued, 3 re-logins a minute, then RELOGIN_LIMIT', async () => {
    const { auth, server, fake } = setup();
    server.rejectAll = true; // logs in on the way, then answers 401 to every Bearer token
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await settle(auth.request({ url: '/api/me' })).then((r) => r.statusCode, (e) => e.code));
    // 1: the cold in-band login; 2-4: a 401, then a re-login carried by the retry; 5: over budget.
    expect(outcomes).toEqual([200, 200, 200, 200, 'RELOGIN_LIMIT']);
    expect(fake.state.loginCalls).toBe(4);
    expect(server.inbandLogins).toBe(4);
  });
});

describe('in-band login: fallback to the login POST', () => {
  it('a server that ignores the code (401 on a protected route): this login goes by POST and the call is sent again with its token', async () => {
    const { auth, server, fake, sent, posts, errors } = setup();
    server.inband = false;
    const res = await settle(auth.request({ url: '/api/me' }));
    expect(res.statusCode).toBe(200);
    expect(sent().map((r) => (r.url.endsWith('/auth/login') ? 'POST' : credential(r)))).toEqual(['code', 'POST', 'Bearer tok-1']);
    expect(fake.state.loginCalls).toBe(2); // the code it carried is spent or unknown: the POST gets its own
    expect(posts()).toBe(1);
    expect(errors).toEqual([]);
  });

  it('remembers it for the session: the next login goes straight to POST, with no code-carrying call (no loop)', async () => {
    const { auth, server, sent } = setup();
    server.inband = false;
    await settle(auth.request({ url: '/api/me' }));
    server.live.clear();
    const before = sent().length;
    await settle(auth.request({ url: '/api/me' }));
    expect(sent().slice(before).map((r) => (r.url.endsWith('/auth/login') ? 'POST' : credential(r)))).toEqual(['Bearer tok-1', 'POST', 'Bearer tok-2']);
  });

  it('a 2xx without X-WX-Token (a route that needs no token) is the call\'s answer; the login goes by POST for the calls waiting', async () => {
    const { auth, server, sent } = setup();
    server.inband = false;
    const original = server.handler;
    server.handler = (req) => (req.url.endsWith('/api/public') ? { statusCode: 200, data: { hello: 'world' } } : original(req));
    const [pub, me] = await settle(Promise.all([auth.request<{ hello: string }>({ url: '/api/public' }), auth.request({ url: '/api/me' })]));
    expect(pub.data).toEqual({ hello: 'world' });
    expect(me.statusCode).toBe(200);
    expect(sent().map((r) => `${r.url.replace(BASE, '')} ${credential(r)}`)).toEqual(['/api/public code', '/auth/login none', '/api/me Bearer tok-1']);
  });

  it('a used code (401 invalid_code) costs one login POST, never a loop', async () => {
    const { auth, server, fake, posts } = setup();
    const original = server.handler;
    // The first code-carrying call finds its code already used.
    let first = true;
    server.handler = (req) => {
      if (first && req.header[CODE] !== undefined) {
        first = false;
        fake.exchange(req.header[CODE]);
      }
      return original(req);
    };
    const res = await settle(auth.request({ url: '/api/me' }));
    expect(res.statusCode).toBe(200);
    expect(posts()).toBe(1);
    expect(server.inbandLogins).toBe(1);
  });

  it('a carrier that gets no answer rejects NetworkError (it may have run); the calls waiting get a token by POST', async () => {
    const { auth, server, posts } = setup();
    const original = server.handler;
    server.handler = (req) => (req.header[CODE] !== undefined ? { fail: 'request:fail timeout' } : original(req));
    const first = auth.request({ url: '/api/orders', method: 'POST' });
    const second = auth.request({ url: '/api/me' });
    await expect(settle(first)).rejects.toMatchObject({ name: 'NetworkError' });
    await expect(settle(second)).resolves.toMatchObject({ statusCode: 200 });
    expect(posts()).toBe(1);
  });

  it('a call aborted while it waits is never picked to carry the code; the next one is', async () => {
    const { auth, sent } = setup();
    const first = auth.request({ url: '/api/first' });
    const second = auth.request({ url: '/api/second' });
    first.abort();
    await expect(settle(first)).rejects.toMatchObject({ name: 'AbortError' });
    await settle(second);
    expect(sent().map((r) => `${r.url.replace(BASE, '')} ${credential(r)}`)).toEqual(['/api/second code']);
  });

  it('inbandLogin off (the default): a cold call waits for the login POST and never carries a code', async () => {
    const { auth, sent, posts } = setup({ inbandLogin: undefined });
    await settle(auth.request({ url: '/api/me' }));
    expect(posts()).toBe(1);
    expect(sent().map(credential)).toEqual(['none', 'Bearer tok-1']);
  });
});

describe('in-band login and logout', () => {
  it('logout() while the carrier is in flight: its answer is the caller\'s, but its token is not stored', async () => {
    const { auth, server, fake } = setup();
    server.delays['/api/me'] = 100;
    const call = auth.request({ url: '/api/me' });
    call.catch(() => {});
    await jest.advanceTimersByTimeAsync(50); // wx.login answered, the call is out with the code
    auth.logout();
    await expect(settle(call)).rejects.toMatchObject({ name: 'LoginError', code: 'ABORTED' });
    expect(auth.token).toBeNull();
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toBe('');
  });
});

describe('in-band renewal', () => {
  it('a 2xx answer to the token held that brings X-WX-Token switches to it: stored, login event, sent from then on', async () => {
    const { auth, server, sent, logins, fake } = setup();
    await settle(auth.request({ url: '/api/me' }));
    server.renew.add('tok-1');
    await settle(auth.request({ url: '/api/me' }));
    expect(auth.token).toBe('tok-2');
    expect(fake.wx.getStorageSync('wx-login-kit:token')).toMatchObject({ token: 'tok-2' });
    expect(logins).toEqual(['tok-1', 'tok-2']);
    await settle(auth.request({ url: '/api/me' }));
    expect(sent().map(credential)).toEqual(['code', 'Bearer tok-1', 'Bearer tok-2']);
    expect(fake.state.loginCalls).toBe(1);
  });

  it('renewal works with inbandLogin off too (the server renews whoever calls)', async () => {
    const { auth, server } = setup({ inbandLogin: false });
    await settle(auth.request({ url: '/api/me' }));
    server.renew.add('tok-1');
    await settle(auth.request({ url: '/api/me' }));
    expect(auth.token).toBe('tok-2');
  });

  it('a token in a non-2xx answer is not taken', async () => {
    const { auth, server } = setup();
    await settle(auth.request({ url: '/api/me' }));
    const original = server.handler;
    server.handler = (req) => (req.url.endsWith('/api/broken') ? { statusCode: 500, data: {}, header: { 'X-WX-Token': 'evil', 'X-WX-Token-Expires-In': '7200' } } : original(req));
    await expect(settle(auth.request({ url: '/api/broken' }))).rejects.toMatchObject({ name: 'HTTPError', statusCode: 500 });
    expect(auth.token).toBe('tok-1');
  });

  it('a token from another origin is never taken, and no token or code is sent there', async () => {
    const { auth, server, sent } = setup();
    await settle(auth.request({ url: '/api/me' }));
    const original = server.handler;
    server.handler = (req) => (req.url.startsWith('https://cdn.example.net') ? { statusCode: 200, data: {}, header: { 'X-WX-Token': 'evil', 'X-WX-Token-Expires-In': '7200' } } : original(req));
    await settle(auth.request({ url: 'https://cdn.example.net/a.json' }));
    expect(auth.token).toBe('tok-1');
    const foreign = sent().at(-1)!;
    expect(credential(foreign)).toBe('none');
  });

  it('header names in any case: x-wx-token / X-Wx-Token', async () => {
    const { auth, server } = setup();
    await settle(auth.request({ url: '/api/me' }));
    const original = server.handler;
    server.handler = (req) => {
      const r = original(req);
      return 'statusCode' in r && r.statusCode === 200 ? { ...r, header: { 'x-wx-token': 'tok-lower', 'X-Wx-Token-Expires-In': '7200' } } : r;
    };
    server.live.add('tok-lower');
    await settle(auth.request({ url: '/api/me' }));
    expect(auth.token).toBe('tok-lower');
  });

  it('out of order: a successor of a token no longer held is older news and ignored', async () => {
    const { auth, server } = setup();
    await settle(auth.request({ url: '/api/me' }));
    // A slow call sent with tok-1 whose answer will carry a successor of tok-1...
    server.delays['/api/slow'] = 500;
    const original = server.handler;
    server.handler = (req) =>
      req.url.endsWith('/api/slow') ? { statusCode: 200, data: {}, header: { 'X-WX-Token': 'tok-stale', 'X-WX-Token-Expires-In': '7200' }, delay: 500 } : original(req);
    const slow = auth.request({ url: '/api/slow' });
    // ...while a fast one is renewed first: tok-2 replaces tok-1.
    server.renew.add('tok-1');
    await jest.advanceTimersByTimeAsync(50);
    const fast = auth.request({ url: '/api/me' });
    await settle(Promise.all([slow, fast]));
    expect(auth.token).toBe('tok-2');
  });

  it('a renewal that arrives after a new login does not bring the old session back', async () => {
    const { auth, server } = setup();
    await settle(auth.request({ url: '/api/me' }));
    const original = server.handler;
    server.handler = (req) =>
      req.url.endsWith('/api/slow') ? { statusCode: 200, data: {}, header: { 'X-WX-Token': 'tok-old-successor', 'X-WX-Token-Expires-In': '7200' }, delay: 1000 } : original(req);
    const slow = auth.request({ url: '/api/slow' });
    await jest.advanceTimersByTimeAsync(20);
    server.live.clear(); // the server drops tok-1: the next call re-logs in
    await jest.advanceTimersByTimeAsync(0);
    const fresh = auth.request({ url: '/api/me' });
    await settle(Promise.all([slow, fresh]));
    expect(auth.token).toBe('tok-2');
  });

  it('8 simulated hours of a call a minute against a server that renews at half-life: no call waits for a login, one wx.login in all', async () => {
    const { auth, server, fake, posts } = setup();
    server.expiresIn = 7200;
    const issuedAt = new Map<string, number>();
    const original = server.handler;
    // Renew each token once it has lived an hour (renewAfter 0.5 of 7200 s).
    server.handler = (req) => {
      const token = (req.header.Authorization ?? '').replace('Bearer ', '');
      if (token && Date.now() - (issuedAt.get(token) ?? Date.now()) >= 3600_000) server.renew.add(token);
      const r = original(req);
      const next = 'header' in r && r.header?.['X-WX-Token'];
      if (next) issuedAt.set(next, Date.now());
      return r;
    };
    let waited = 0;
    for (let minute = 0; minute < 8 * 60; minute++) {
      const logins = fake.state.loginCalls + posts() + server.inbandLogins;
      await settle(auth.request({ url: '/api/me' }));
      if (minute > 0 && fake.state.loginCalls + posts() + server.inbandLogins > logins) waited++;
      jest.advanceTimersByTime(60_000);
    }
    expect(waited).toBe(0);
    expect(fake.state.loginCalls).toBe(1);
    expect(posts()).toBe(0);
  });
});
